"""PyTorch as the trainer will use it: installed or not, its version, the CUDA runtime it
was built with, whether it sees the GPU, whether it has kernels for the GPU's
architecture, and whether the driver is new enough for its CUDA.

The full probe imports torch in a child process (``scripts/torch_probe.py``) with the
trainer's own Python, because initialising CUDA can hang or crash on a broken driver.
``read_install`` only reads torch's ``version.py`` from disk: cheap enough for the
fingerprint, and it notices an upgrade without importing anything.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import cuda_matrix
from app.environment.child import ChildOutcome, run_child, script, signal_name
from app.findings import Finding, Severity
from app.gpu_probe import GpuReport

PROBE_TIMEOUT = 90.0
_VERSION_LINE = re.compile(r"^(__version__|cuda|hip)\s*(?::[^=]*)?=\s*(.+)$", re.M)


@dataclass(frozen=True)
class TorchInstall:
    """What is on disk, read without importing torch."""

    version: str | None
    cuda: str | None
    location: str | None

    @property
    def identity(self) -> str:
        if self.version is None:
            return "not installed"
        return f"{self.version} · CUDA {self.cuda or 'none'}"


def read_install(python: str = sys.executable) -> TorchInstall:
    version_file = _version_file(python)
    if version_file is None or not version_file.is_file():
        return TorchInstall(None, None, None)
    values: dict[str, str | None] = {}
    for match in _VERSION_LINE.finditer(version_file.read_text("utf-8", "replace")):
        raw = match.group(2).strip()
        values[match.group(1)] = None if raw == "None" else raw.strip("'\"")
    return TorchInstall(values.get("__version__"), values.get("cuda"), str(version_file.parent))


def is_own_python(python: str) -> bool:
    """Whether ``python`` is the interpreter running loragate. Paths are compared as
    given, not resolved: every virtual environment's python links to the same base
    interpreter, but each has its own packages."""
    return os.path.abspath(python) == os.path.abspath(sys.executable)


def _version_file(python: str) -> Path | None:
    if is_own_python(python):
        spec = importlib.util.find_spec("torch")  # finds, does not import
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(next(iter(spec.submodule_search_locations))) / "version.py"
    # Another virtual environment: its site-packages sit beside its bin/ (or Scripts/).
    root = Path(python).parent.parent
    for pattern in (
        "lib/python3*/site-packages/torch/version.py",
        "Lib/site-packages/torch/version.py",
    ):
        found = sorted(root.glob(pattern))
        if found:
            return found[-1]
    return None


@dataclass(frozen=True)
class TorchDevice:
    name: str
    capability: tuple[int, int]
    total_memory: int


@dataclass(frozen=True)
class TorchProbe:
    python: str  # the interpreter probed
    python_version: str | None = None
    import_error: str | None = None
    version: str | None = None
    cuda: str | None = None
    hip: str | None = None
    arch_list: tuple[str, ...] = ()
    available: bool = False
    devices: tuple[TorchDevice, ...] = ()
    bf16_supported: bool | None = None
    cuda_error: str | None = None
    warnings: tuple[str, ...] = ()
    failure: str | None = None  # the probe itself timed out, crashed or could not start
    cuda_visible_devices: str | None = field(default=None)

    @property
    def installed(self) -> bool:
        return self.failure is None and self.import_error is None and self.version is not None


def probe_command(python: str) -> list[str]:
    return [python, script("torch_probe.py")]


def probe_torch(python: str = sys.executable, timeout: float = PROBE_TIMEOUT) -> TorchProbe:
    return parse_probe(python, run_child(probe_command(python), timeout))


def parse_probe(python: str, outcome: ChildOutcome) -> TorchProbe:
    payload = outcome.payload
    if payload is None:
        return TorchProbe(python=python, failure=describe_failure(outcome, "importing PyTorch"))
    return TorchProbe(
        python=python,
        python_version=payload.get("python"),
        import_error=payload.get("import_error"),
        version=payload.get("version"),
        cuda=payload.get("cuda"),
        hip=payload.get("hip"),
        arch_list=tuple(payload.get("arch_list") or ()),
        available=bool(payload.get("available")),
        devices=tuple(_device(item) for item in payload.get("devices") or ()),
        bf16_supported=payload.get("bf16_supported"),
        cuda_error=payload.get("cuda_error"),
        warnings=tuple(payload.get("warnings") or ()),
        cuda_visible_devices=payload.get("cuda_visible_devices"),
    )


def _device(item: dict[str, Any]) -> TorchDevice:
    major, minor = item["capability"]
    return TorchDevice(str(item["name"]), (int(major), int(minor)), int(item["total_memory"]))


def describe_failure(outcome: ChildOutcome, doing: str) -> str:
    """A child that gave no answer, in plain words."""
    if outcome.launch_error:
        return f"The Python at {outcome.command[0]} could not be started ({outcome.launch_error})."
    if outcome.timed_out:
        return (
            f"{doing.capitalize()} did not finish within {outcome.seconds:.0f} seconds and was "
            "stopped. A hung GPU driver or a GPU stuck in another program does this."
        )
    if outcome.killed_by is not None:
        name = signal_name(outcome.killed_by)
        if name == "SIGKILL":
            cause = "it was killed from outside, usually by the system when memory ran out"
        elif name in ("SIGSEGV", "SIGBUS", "SIGILL"):
            cause = (
                "it crashed inside native code, which usually means the GPU driver and "
                "PyTorch's CUDA libraries do not match"
            )
        elif name == "SIGABRT":
            cause = "a native library aborted it (often a CUDA library refusing this GPU)"
        else:
            cause = "it was stopped by a signal"
        return f"{doing.capitalize()} ended with {name}: {cause}. {_last_words(outcome)}".strip()
    return (
        f"{doing.capitalize()} failed (exit status {outcome.returncode}) without an answer. "
        f"{_last_words(outcome)}"
    ).strip()


def _last_words(outcome: ChildOutcome) -> str:
    tail = outcome.tail(3)
    return f"Its last words: {tail}" if tail else ""


# --- findings -------------------------------------------------------------------------


def recommended_index(
    driver_cuda: tuple[int, int] | None, capability: tuple[int, int] | None
) -> str | None:
    """The PyTorch wheel index to install from for this driver and GPU."""
    for index, cuda in cuda_matrix.WHEEL_INDEXES:
        if driver_cuda is not None and cuda > driver_cuda:
            continue
        if capability is not None:
            if capability < cuda_matrix.OLDEST_IN_CU128 and cuda >= (12, 8):
                continue
            needed = cuda_matrix.NEEDS_CUDA_AT_LEAST.get(capability[0])
            if needed and cuda < needed[0]:
                continue
        return index
    return None


def install_command(python: str, index: str | None) -> str:
    if index is None:
        return (
            "update the NVIDIA driver first (see the driver table), then install PyTorch "
            "with the command https://pytorch.org/get-started/locally/ gives for it"
        )
    return (
        f"`{python} -m pip install --force-reinstall torch "
        f"--index-url https://download.pytorch.org/whl/{index}`"
    )


def torch_findings(probe: TorchProbe, gpus: GpuReport, wants_gpu: bool) -> list[Finding]:
    where = f"the Python the trainer uses ({probe.python})"
    if probe.failure:
        return [
            Finding(
                code="torch.probe_failed",
                severity="block",
                subject="PyTorch",
                message=probe.failure,
                why="The trainer imports PyTorch the same way; it would fail the same way, "
                "after loading the model.",
                fix="Run the checks again. If it repeats, reboot (a stuck driver), or "
                "reinstall PyTorch in that Python.",
                source="preflight-checklist#pytorch",
            )
        ]
    if probe.import_error:
        return [
            Finding(
                code="torch.missing",
                severity="block",
                subject="PyTorch",
                message=f"PyTorch cannot be imported in {where}: {probe.import_error}",
                why="Every trainer loragate drives is built on PyTorch.",
                fix="Install it: "
                + install_command(
                    probe.python, recommended_index(gpus.driver_cuda, _capability(gpus))
                )
                + ".",
                source="cuda-pytorch-matrix#installing-the-right-build",
            )
        ]
    if not wants_gpu:
        return []
    if probe.hip:
        return [
            Finding(
                code="torch.rocm_build",
                severity="block",
                subject="PyTorch",
                message=f"This PyTorch ({probe.version}) is built for AMD GPUs (ROCm {probe.hip}).",
                why="loragate's GPU checks, memory monitoring and out-of-memory recovery are "
                "written for NVIDIA's CUDA; an AMD setup is not checked and not supported yet.",
                fix="Train on an NVIDIA GPU, or set the config's device to cpu for a small test.",
                source="cuda-pytorch-matrix#what-has-to-agree",
            )
        ]
    if gpus.status != "ok" and not probe.available:
        # No GPU at all: the GPU group blocks and explains it, with the CPU time. A CPU
        # build would still fail on the GPU the artist installs next.
        if probe.cuda is None:
            return [_cpu_build(probe, where, recommended_index(None, None), severity="warn")]
        return []
    capability = _capability(gpus) or (probe.devices[0].capability if probe.devices else None)
    index = recommended_index(gpus.driver_cuda, capability)
    if probe.cuda is None:
        return [_cpu_build(probe, where, index, severity="block")]
    findings: list[Finding] = []
    runtime = cuda_matrix.parse_version(probe.cuda)
    if runtime and gpus.driver_cuda:
        findings += _driver_findings(probe, runtime, gpus.driver_cuda, index)
    if not probe.available:
        reason = probe.cuda_error or "torch.cuda.is_available() is False"
        hidden = probe.cuda_visible_devices
        findings.append(
            Finding(
                code="torch.cuda_unavailable",
                severity="block",
                subject="PyTorch",
                message=f"PyTorch {probe.version} (CUDA {probe.cuda}) does not see the GPU: {reason}."
                + (f" CUDA_VISIBLE_DEVICES is set to “{hidden}”." if hidden is not None else ""),
                why="The driver sees the card but PyTorch cannot open it, so the trainer "
                "would fall back to the CPU or stop.",
                fix="Check that CUDA_VISIBLE_DEVICES (if set) names a GPU that exists, that "
                "the driver supports PyTorch's CUDA version (see the table), and reboot after "
                "a driver update.",
                source="cuda-pytorch-matrix#driver-and-cuda-versions",
            )
        )
    for device in _devices(gpus, probe):
        name, cap = device
        if probe.arch_list and not cuda_matrix.arch_supported(cap, list(probe.arch_list)):
            findings.append(
                Finding(
                    code="torch.arch_missing",
                    severity="block",
                    subject=name,
                    message=f"PyTorch {probe.version} has no GPU code for the {name} "
                    f"({cuda_matrix.capability_words(cap)}). It was built for "
                    f"{', '.join(probe.arch_list)}.",
                    why="Without kernels for the card's architecture every GPU operation "
                    "fails with “no kernel image is available for execution on the "
                    "device”, as RTX 50-series owners found with older builds "
                    "(bmaltais/kohya_ss#3096, Nerogar/OneTrainer#755).",
                    fix="Install a build made for this card: "
                    f"{install_command(probe.python, index)}.",
                    source="cuda-pytorch-matrix#rtx-50-series-and-other-new-gpus",
                )
            )
    return findings


def _cpu_build(probe: TorchProbe, where: str, index: str | None, severity: Severity) -> Finding:
    without_gpu = severity != "block"
    return Finding(
        code="torch.cpu_build",
        severity=severity,
        subject="PyTorch",
        message=f"PyTorch {probe.version} in {where} is a CPU-only build: it cannot use "
        + ("a GPU, even once this machine has one." if without_gpu else "the GPU."),
        why="pip installs the CPU build unless told where the CUDA builds are; the run "
        "would silently train on the CPU, hundreds of times slower.",
        fix=(
            "Once the NVIDIA GPU and its driver are in place, install a CUDA build "
            "(the driver decides which; this is the newest): "
            if without_gpu
            else "Install a CUDA build: "
        )
        + f"{install_command(probe.python, index)}.",
        source="cuda-pytorch-matrix#cpu-only-builds",
    )


def _driver_findings(
    probe: TorchProbe,
    runtime: tuple[int, int],
    driver_cuda: tuple[int, int],
    index: str | None,
) -> list[Finding]:
    needed = cuda_matrix.minimum_driver_words(runtime)
    if driver_cuda[0] < runtime[0]:
        return [
            Finding(
                code="torch.driver_too_old",
                severity="block",
                subject="NVIDIA driver",
                message=f"The driver supports CUDA up to {cuda_matrix.format_version(driver_cuda)}, "
                f"but PyTorch {probe.version} was built with CUDA {probe.cuda}.",
                why="A CUDA program cannot run on a driver of an older major CUDA version.",
                fix=f"Update the NVIDIA driver ({needed}), or install a PyTorch built for your "
                f"driver: {install_command(probe.python, index)}.",
                source="cuda-pytorch-matrix#driver-and-cuda-versions",
            )
        ]
    if driver_cuda < runtime:
        return [
            Finding(
                code="torch.driver_older_minor",
                severity="warn",
                subject="NVIDIA driver",
                message=f"The driver supports CUDA {cuda_matrix.format_version(driver_cuda)}; "
                f"PyTorch {probe.version} was built with CUDA {probe.cuda}.",
                why="Within one major version CUDA programs run on older drivers (“minor "
                "version compatibility”), but features that need the newer driver, such as "
                "compiling PTX for a new GPU, fail.",
                fix=f"Update the driver when you can ({needed}). The kernel smoke test below "
                "shows whether this combination works now.",
                source="cuda-pytorch-matrix#minor-version-compatibility",
            )
        ]
    return []


def _capability(gpus: GpuReport) -> tuple[int, int] | None:
    for device in gpus.devices:
        if device.capability:
            return device.capability
    return None


def _devices(gpus: GpuReport, probe: TorchProbe) -> list[tuple[str, tuple[int, int]]]:
    """Each GPU once, with its compute capability: from PyTorch when it sees them,
    else from NVML."""
    if probe.devices:
        return [(device.name, device.capability) for device in probe.devices]
    return [(device.name, device.capability) for device in gpus.devices if device.capability]
