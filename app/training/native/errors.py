"""The ways a native run can fail, each with a kind the run supervisor acts on:

- ``oom``: the GPU ran out of memory; the supervisor re-plans (OOM ladder).
- ``nan``: the loss stopped being a number; training on would only spread it.
- ``missing_file``: something the run needs is not there or cannot be read.
- ``bad_config``: the job asks for something that cannot work as written.
- ``crash``: anything else; the traceback goes to stderr for the record.

The kinds and the out-of-memory signatures live in ``app.training.failures``, shared with
the parser of the external trainers' output.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any

import torch

from app.training.failures import OOM_SIGNATURES, ErrorKind


@dataclass
class TrainingError(Exception):
    kind: ErrorKind
    message: str  # plain words for the artist: what happened and what to do
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(sig in str(exc) for sig in OOM_SIGNATURES)


def classify(exc: BaseException) -> TrainingError:
    """Any exception the run raised, as a TrainingError with a kind and plain words."""
    if isinstance(exc, TrainingError):
        return exc
    if is_out_of_memory(exc):
        return TrainingError(
            "oom",
            "The GPU ran out of memory. Turn on gradient checkpointing, cache latents, "
            "use an 8-bit optimizer, or lower the batch size or resolution.",
            {"error": first_line(exc)},
        )
    if isinstance(exc, PermissionError | IsADirectoryError | NotADirectoryError) or (
        isinstance(exc, OSError) and exc.errno == errno.EROFS
    ):
        place = exc.filename or first_line(exc)
        return TrainingError(
            "bad_config",
            f"The trainer cannot write or read {place} ({exc.strerror or first_line(exc)}). "
            "Choose an output folder you can write to, or fix its permissions.",
        )
    if isinstance(exc, FileNotFoundError):
        return TrainingError(
            "missing_file",
            f"A file the run needs is missing: {exc.filename or first_line(exc)}.",
        )
    return TrainingError(
        "crash",
        f"The trainer stopped unexpectedly ({type(exc).__name__}: {first_line(exc)}). "
        "The full report is in the run's log.",
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
