"""The kernel smoke test: a child process allocates on the training device and runs a
small matrix multiply and its backward pass in the config's precision
(``scripts/smoke_kernel.py``). It catches what version tables cannot: a GPU without
kernels in this build, a driver that hangs, a precision the card refuses.

A failure is translated into plain words here; the raw error is kept for the curious.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.environment.child import ChildOutcome, run_child, script
from app.environment.torch_info import describe_failure
from app.findings import Finding

SMOKE_TIMEOUT = 120.0
MATRIX_SIZE = 512

PRECISION_WORDS = {"no": "float32", "fp16": "fp16", "bf16": "bf16"}


@dataclass(frozen=True)
class Explanation:
    meaning: str
    fix: str


# Known error texts (from PyTorch and the CUDA runtime) → what they mean. First match wins.
_KNOWN: tuple[tuple[re.Pattern[str], Explanation], ...] = tuple(
    (re.compile(pattern, re.I), Explanation(meaning, fix))
    for pattern, meaning, fix in (
        (
            r"no kernel image is available|not compatible with the current PyTorch",
            "this PyTorch build has no GPU code for this card's architecture",
            "Install a PyTorch build made for the card (the PyTorch section above names "
            "the command).",
        ),
        (
            r"driver version is insufficient",
            "the NVIDIA driver is older than the CUDA version PyTorch was built with",
            "Update the NVIDIA driver, or install a PyTorch built for an older CUDA.",
        ),
        (
            r"out of memory|CUBLAS_STATUS_ALLOC_FAILED",
            "the GPU has no free memory even for a tiny test: other programs fill it",
            "Close the programs holding GPU memory (listed in the GPU section), then run "
            "the checks again.",
        ),
        (
            r"busy or unavailable",
            "the GPU is reserved by another program (exclusive compute mode) or is in a bad state",
            "Stop the other program using the GPU, or ask the machine's admin to set the "
            "compute mode to Default; reboot if nothing else uses it.",
        ),
        (
            r"not compiled with CUDA|compiled without CUDA",
            "this PyTorch is a CPU-only build",
            "Install a CUDA build of PyTorch (the PyTorch section above names the command).",
        ),
        (
            r"no CUDA GPUs are available|found no NVIDIA driver|no CUDA-capable device",
            "PyTorch finds no GPU: no driver, or CUDA_VISIBLE_DEVICES hides the cards",
            "Install the NVIDIA driver, or unset CUDA_VISIBLE_DEVICES, then run the checks again.",
        ),
        (
            r"CUBLAS_STATUS_NOT_SUPPORTED|bfloat16.*not (?:supported|implemented)|"
            r"not implemented for 'BFloat16'|not implemented for 'Half'",
            "this device cannot compute in the chosen precision",
            "Choose another mixed precision in the config (fp16 on GPUs older than the "
            "RTX 30 series; bf16 or no on a CPU).",
        ),
        (
            r"wrong result",
            "the device computed a wrong answer: a faulty GPU, an overclock, or a broken driver",
            "Reset any overclock, update or reinstall the driver, and run the checks again.",
        ),
        (
            r"initialization error|unknown error|launch failure|illegal",
            "the GPU driver failed while running a simple kernel",
            "Reboot the machine (a driver left in a bad state does this); if it repeats, "
            "reinstall the NVIDIA driver.",
        ),
    )
)


@dataclass(frozen=True)
class SmokeResult:
    device: str
    precision: str
    ok: bool
    message: str  # plain words: what happened
    fix: str = ""
    detail: str = ""  # the raw error, for those who want it
    seconds: float | None = None
    device_name: str | None = None
    relative_error: float | None = None


def trainer_precision(backend: str, device: str, precision: str) -> tuple[str, str | None]:
    """The precision the trainer really computes in on ``device``, and why, when that is
    not the config's: loragate's own trainer computes in float32 on the CPU
    (``training/native/precision.py``), so testing bf16 there would test nothing it does."""
    if backend == "native" and device == "cpu" and precision != "no":
        return "no", (
            f"float32, not the config's {PRECISION_WORDS.get(precision, precision)}: "
            "loragate's own trainer computes in float32 on the CPU (mixed precision "
            "applies to CUDA only), so that is what was tested"
        )
    return precision, None


def smoke_command(python: str, device: str, precision: str, size: int = MATRIX_SIZE) -> list[str]:
    return [python, script("smoke_kernel.py"), device, precision, str(size)]


def run_smoke_test(
    python: str, device: str, precision: str, timeout: float = SMOKE_TIMEOUT
) -> SmokeResult:
    return interpret(
        device, precision, run_child(smoke_command(python, device, precision), timeout)
    )


def explain(error: str) -> Explanation | None:
    for pattern, explanation in _KNOWN:
        if pattern.search(error):
            return explanation
    return None


def interpret(device: str, precision: str, outcome: ChildOutcome) -> SmokeResult:
    words = PRECISION_WORDS.get(precision, precision)
    payload = outcome.payload
    if payload is None:
        # No answer: it hung, crashed, was killed, or could not start.
        raw = outcome.tail() or outcome.launch_error or ""
        known = explain(raw)
        message = describe_failure(outcome, f"the {words} test on the {device}")
        return SmokeResult(
            device,
            precision,
            ok=False,
            message=message + (f" That means {known.meaning}." if known else ""),
            fix=known.fix
            if known
            else "Run the checks again. If it repeats, reboot, then update or reinstall the "
            "NVIDIA driver and PyTorch.",
            detail=raw,
        )
    if payload.get("ok"):
        return SmokeResult(
            device,
            precision,
            ok=True,
            message=f"A {MATRIX_SIZE}×{MATRIX_SIZE} {words} matrix multiply and its backward "
            f"pass ran on the {payload.get('device_name') or device} and matched float32.",
            seconds=payload.get("seconds"),
            device_name=payload.get("device_name"),
            relative_error=payload.get("relative_error"),
        )
    error = str(payload.get("error") or "unknown error")
    known = explain(error)
    return SmokeResult(
        device,
        precision,
        ok=False,
        message=f"The {words} test on the {device} failed: "
        + (known.meaning if known else "an error PyTorch raised (below)")
        + ".",
        fix=known.fix
        if known
        else "Search the error below in the trainer's issue tracker; reinstalling PyTorch "
        "for your driver fixes most of these.",
        detail=error,
    )


def smoke_findings(result: SmokeResult) -> list[Finding]:
    if result.ok:
        return []
    message = result.message + (f" (PyTorch said: {result.detail})" if result.detail else "")
    return [
        Finding(
            code="smoke.failed",
            severity="block",
            subject=f"{result.device} · {PRECISION_WORDS.get(result.precision, result.precision)}",
            message=message,
            why="Training runs the same kind of kernels thousands of times; if one small "
            "multiply fails here, the run fails too, only after loading the model.",
            fix=result.fix,
            source="preflight-checklist#the-kernel-smoke-test",
        )
    ]
