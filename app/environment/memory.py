"""System memory (RAM) against what the run holds in it.

Every trainer reads the base model into RAM before moving it to the GPU: the weights of
every component in the precision they are loaded in, plus a second copy of the largest
component while it is read from disk (a checkpoint's tensors and the model's own live
side by side for a moment), plus about 2 GiB for Python, PyTorch and the data loader.

loragate's own trainer also checks every LoRA it saves (``training/native/verify.py``).
On a GPU it does so in a second copy of the base model, in bf16, that stays in RAM from
the first save to the end (``training/native/saving.py`` ``Saver.verify``); the trained
model has left for the GPU by then, but caching may send its text encoders and VAE back
to RAM. The need is the larger of the two moments. On the CPU the trained model stays in
RAM (in float32, whatever mixed_precision says: ``training/native/precision.py``) and
the check shares its weights, so no second copy is counted.

Too little RAM does not fail cleanly: the system swaps for minutes or the kernel's
out-of-memory killer ends the trainer with no message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.findings import Finding
from app.intent import MODEL_FAMILIES
from app.training.architectures import COMPONENT_PARAMETERS
from app.training.outputs import human_bytes

RUNTIME_OVERHEAD = 2 * 1024**3
LOAD_BYTES = {"no": 4, "fp16": 2, "bf16": 2}
DENOISERS = ("unet", "transformer")


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
    # loragate's own trainer: its second copy of the base model for checking saved
    # LoRAs, that copy's largest part while it is read, its precision, and what shares
    # RAM with it (the trained model on the CPU; on a GPU the parts caching sends back).
    verify_copy: int = 0
    verify_largest: int = 0
    verify_words: str = ""
    beside_verify: int = 0

    @property
    def loading(self) -> int:
        return self.weights + self.largest_copy

    @property
    def verifying(self) -> int:
        return self.verify_copy + self.verify_largest + self.beside_verify

    @property
    def total(self) -> int:
        return max(self.loading, self.verifying) + RUNTIME_OVERHEAD


def load_need(family: str, precision: str) -> LoadNeed:
    per_weight = LOAD_BYTES.get(precision, 4)
    parts = COMPONENT_PARAMETERS[family]
    return LoadNeed(sum(parts.values()) * per_weight, max(parts.values()) * per_weight)


def run_need(family: str, precision: str, backend: str, device: str) -> LoadNeed:
    """What the run holds in RAM at its peak, for ``backend`` on ``device``."""
    if backend != "native":
        return load_need(family, precision)
    on_gpu = device == "cuda"
    # The native trainer computes in float32 on the CPU, whatever the config says.
    need = load_need(family, precision if on_gpu else "no")
    if not on_gpu:
        return need  # the check of saved LoRAs shares the trained model's weights
    parts = COMPONENT_PARAMETERS[family]
    copy_bytes = 2  # the check's copy is bf16 beside a GPU run
    load_bytes = LOAD_BYTES.get(precision, 4)
    beside = sum(
        count * (4 if name == "vae" else load_bytes)
        for name, count in parts.items()
        if name not in DENOISERS
    )
    return replace(
        need,
        verify_copy=sum(parts.values()) * copy_bytes,
        verify_largest=max(parts.values()) * copy_bytes,
        verify_words="bf16",
        beside_verify=beside,
    )


def need_words(need: LoadNeed, family: str) -> str:
    """The breakdown, in plain words."""
    title = MODEL_FAMILIES[family].title
    words = (
        f"Loading {title} holds about {human_bytes(need.weights)} of weights, up to "
        f"{human_bytes(need.largest_copy)} more while the largest part is read"
    )
    if need.verify_copy:
        beside = "the text encoders and VAE when caching sends them back from the GPU"
        words += (
            f". loragate's own trainer then keeps a second copy of the base model "
            f"({need.verify_words}, {human_bytes(need.verify_copy)}) for the whole run to "
            f"check every LoRA it saves, beside {beside} ({human_bytes(need.beside_verify)})"
        )
    return (
        f"{words}; with about {human_bytes(RUNTIME_OVERHEAD)} for Python and PyTorch the "
        f"peak is {human_bytes(need.total)}."
    )


def memory_findings(
    info: MemoryInfo, family: str | None, precision: str, *, backend: str, device: str
) -> list[Finding]:
    if family not in COMPONENT_PARAMETERS:
        return []
    need = run_need(family, precision, backend, device)
    sizes = need_words(need, family)
    if info.total < need.total:
        return [
            Finding(
                code="memory.too_small",
                severity="warn",
                subject="RAM",
                message=f"This machine has {human_bytes(info.total)} of RAM. {sizes}",
                why="With too little RAM the system swaps for many minutes, or its "
                "out-of-memory killer ends the trainer without a message"
                + (", possibly at the first save" if need.verify_copy else "")
                + ".",
                fix="Add swap space or RAM, close other programs, or train on a machine with "
                f"at least {human_bytes(need.total)}."
                + (
                    ""
                    if need.verify_copy
                    else " Caching latents and text-encoder outputs lets some trainers "
                    "unload the VAE and text encoders early."
                ),
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
