"""System memory (RAM) against what loading the model family needs.

Every trainer reads the base model into RAM before moving it to the GPU. The need is
the weights of every component in the precision they are loaded in, plus a second copy
of the largest component while it is read from disk (a checkpoint's tensors and the
model's own live side by side for a moment), plus about 2 GiB for Python, PyTorch and
the data loader. Too little RAM does not fail cleanly: the system swaps for minutes or
the kernel's out-of-memory killer ends the trainer with no message.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.gates.result import Finding
from app.intent import MODEL_FAMILIES
from app.training.architectures import COMPONENT_PARAMETERS
from app.training.outputs import human_bytes

RUNTIME_OVERHEAD = 2 * 1024**3
LOAD_BYTES = {"no": 4, "fp16": 2, "bf16": 2}


@dataclass(frozen=True)
class MemoryInfo:
    total: int
    available: int


def system_memory() -> MemoryInfo:
    import psutil

    memory = psutil.virtual_memory()
    return MemoryInfo(int(memory.total), int(memory.available))


@dataclass(frozen=True)
class LoadNeed:
    weights: int
    largest_copy: int

    @property
    def total(self) -> int:
        return self.weights + self.largest_copy + RUNTIME_OVERHEAD


def load_need(family: str, precision: str) -> LoadNeed:
    per_weight = LOAD_BYTES.get(precision, 4)
    parts = COMPONENT_PARAMETERS[family]
    return LoadNeed(sum(parts.values()) * per_weight, max(parts.values()) * per_weight)


def memory_findings(info: MemoryInfo, family: str | None, precision: str) -> list[Finding]:
    if family not in COMPONENT_PARAMETERS:
        return []
    need = load_need(family, precision)
    title = MODEL_FAMILIES[family].title
    sizes = (
        f"Loading {title} holds about {human_bytes(need.weights)} of weights, up to "
        f"{human_bytes(need.largest_copy)} more while the largest part is read, and about "
        f"{human_bytes(RUNTIME_OVERHEAD)} for Python and PyTorch: "
        f"{human_bytes(need.total)} in all."
    )
    if info.total < need.total:
        return [
            Finding(
                code="memory.too_small",
                severity="warn",
                subject="RAM",
                message=f"This machine has {human_bytes(info.total)} of RAM. {sizes}",
                why="With too little RAM the system swaps for many minutes while loading, or "
                "its out-of-memory killer ends the trainer without a message.",
                fix="Add swap space or RAM, close other programs, or train on a machine with "
                f"at least {human_bytes(need.total)}. Caching latents and text-encoder outputs "
                "lets some trainers unload the VAE and text encoders early.",
                source="preflight-checklist#memory-ram",
            )
        ]
    if info.available < need.total:
        return [
            Finding(
                code="memory.in_use",
                severity="warn",
                subject="RAM",
                message=f"Only {human_bytes(info.available)} of this machine's "
                f"{human_bytes(info.total)} RAM is free right now. {sizes}",
                why="Other programs hold the rest; loading may push the system into swap or "
                "the out-of-memory killer.",
                fix="Close other large programs (browsers, image editors, other trainers) "
                "before starting the run.",
                source="preflight-checklist#memory-ram",
            )
        ]
    return []
