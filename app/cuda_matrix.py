"""Which driver runs which CUDA, which PyTorch build has kernels for which GPU.
The same tables, with their sources, are in ``app/docs/cuda-pytorch-matrix.md``."""

from __future__ import annotations

import re
from dataclasses import dataclass

# NVIDIA, CUDA Toolkit release notes, table "CUDA Toolkit and Corresponding Driver
# Versions": the driver each CUDA release (GA) needs, (Linux, Windows).
MINIMUM_DRIVER: dict[tuple[int, int], tuple[str, str | None]] = {
    (11, 8): ("520.61.05", "520.06"),
    (12, 0): ("525.60.13", "527.41"),
    (12, 1): ("530.30.02", "531.14"),
    (12, 2): ("535.54.03", "536.25"),
    (12, 3): ("545.23.06", "545.84"),
    (12, 4): ("550.54.14", "551.61"),
    (12, 5): ("555.42.02", "555.85"),
    (12, 6): ("560.28.03", "560.76"),
    (12, 8): ("570.26", "570.65"),
    (12, 9): ("575.51.03", "576.02"),
    (13, 0): ("580.65.06", None),
}

# PyTorch's wheel indexes (download.pytorch.org/whl/cuXYZ), newest first, and the
# CUDA version each bundles.
WHEEL_INDEXES: tuple[tuple[str, tuple[int, int]], ...] = (
    ("cu130", (13, 0)),
    ("cu128", (12, 8)),
    ("cu126", (12, 6)),
)


@dataclass(frozen=True)
class Generation:
    name: str
    examples: str


# NVIDIA, "CUDA GPUs - Compute Capability" (developer.nvidia.com/cuda-gpus).
GENERATIONS: dict[int, Generation] = {
    5: Generation("Maxwell", "GTX 900 series"),
    6: Generation("Pascal", "GTX 10 series, P100"),
    7: Generation("Volta / Turing", "V100 (7.0); RTX 20 series, GTX 16 series, T4 (7.5)"),
    8: Generation("Ampere / Ada", "A100 (8.0); RTX 30 series, A10 (8.6); RTX 40 series, L4 (8.9)"),
    9: Generation("Hopper", "H100, H200"),
    10: Generation("Blackwell (data centre)", "B200, GB200"),
    12: Generation("Blackwell (consumer and workstation)", "RTX 50 series, RTX PRO 6000"),
}

# The first PyTorch wheels with kernels for a GPU generation, when that is recent news.
# PyTorch 2.7 added Blackwell (sm_100, sm_120) in its CUDA 12.8 wheels, which at the
# same time dropped Maxwell, Pascal and Volta (sm_50, sm_60, sm_70).
NEEDS_CUDA_AT_LEAST: dict[int, tuple[tuple[int, int], str]] = {
    10: ((12, 8), "PyTorch 2.7 or newer with CUDA 12.8 or newer (cu128)"),
    12: ((12, 8), "PyTorch 2.7 or newer with CUDA 12.8 or newer (cu128)"),
}
OLDEST_IN_CU128 = (7, 5)  # Turing stayed; Maxwell, Pascal and Volta were dropped
BF16_MIN_CAPABILITY = (8, 0)  # bfloat16 tensor cores arrived with Ampere

_ARCH = re.compile(r"^(sm|compute)_(\d+)([a-z]?)$")


def parse_version(text: str | None) -> tuple[int, int] | None:
    """'12.8' → (12, 8); None or garbage → None."""
    if not text:
        return None
    match = re.match(r"^(\d+)\.(\d+)", text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def from_nvml_cuda(value: int) -> tuple[int, int]:
    """NVML reports the driver's CUDA version as 1000·major + 10·minor (12040 → 12.4)."""
    return value // 1000, (value % 1000) // 10


def format_version(version: tuple[int, int] | None) -> str:
    return f"{version[0]}.{version[1]}" if version else "unknown"


def _arch_capability(digits: str) -> tuple[int, int]:
    # sm_86 → (8, 6); sm_120 → (12, 0); sm_100 → (10, 0)
    return int(digits[:-1]), int(digits[-1])


def arch_supported(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """Whether a build with ``arch_list`` (``torch.cuda.get_arch_list()``) can run on a
    GPU of ``capability``. NVIDIA's compatibility rules: machine code (sm_XY) runs on
    GPUs of the same major version and an equal or higher minor; PTX (compute_XY) is
    compiled by the driver for any GPU of that capability or newer. Arch-specific
    variants (sm_90a) run only on exactly that capability."""
    for arch in arch_list:
        match = _ARCH.match(arch)
        if not match:
            continue
        kind, digits, variant = match.groups()
        built = _arch_capability(digits)
        if variant:
            if capability == built:
                return True
        elif kind == "sm":
            if built[0] == capability[0] and built[1] <= capability[1]:
                return True
        elif built <= capability:
            return True
    return False


def capability_words(capability: tuple[int, int]) -> str:
    generation = GENERATIONS.get(capability[0])
    label = (
        f"compute capability {capability[0]}.{capability[1]} (sm_{capability[0]}{capability[1]})"
    )
    return f"{label}, {generation.name}" if generation else label


def best_wheel_index(driver_cuda: tuple[int, int] | None) -> str | None:
    """The newest PyTorch wheel index whose CUDA this driver runs."""
    if driver_cuda is None:
        return None
    for index, cuda in WHEEL_INDEXES:
        if cuda <= driver_cuda:
            return index
    return None


def minimum_driver_words(cuda: tuple[int, int]) -> str:
    linux, windows = MINIMUM_DRIVER.get(cuda, (None, None))
    if linux is None:
        return f"a driver made for CUDA {format_version(cuda)} or newer"
    return f"driver {linux} or newer on Linux" + (f" ({windows} on Windows)" if windows else "")
