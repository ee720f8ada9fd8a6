"""What a trainer's output line says, in one shape for every backend: a step (with its
loss and peak memory when the trainer reports them), a saved checkpoint, a sample, a
failure (with its kind), or nothing (a plain log line).

loragate's own trainer prints JSON events (app/training/native/events.py); the
time of a step is the trainer's own clock there, and the time the line was read for
other trainers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["started", "step", "saved", "sample", "failure", "finished"]


@dataclass(frozen=True)
class TrainerEvent:
    kind: Kind
    time: float
    step: int | None = None
    total: int | None = None
    loss: float | None = None
    peak_vram_gb: float | None = None
    failure: str = ""  # oom | nan | missing_file | bad_config | crash
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


_NATIVE_KINDS: dict[str, Kind] = {
    "start": "started",
    "step": "step",
    "checkpoint": "saved",
    "sample": "sample",
    "error": "failure",
    "done": "finished",
}


def parse_native(line: str) -> TrainerEvent | None:
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("event") not in _NATIVE_KINDS:
        return None
    details = data.get("details")
    return TrainerEvent(
        kind=_NATIVE_KINDS[data["event"]],
        time=float(data.get("time") or time.time()),
        step=data.get("step"),
        total=data.get("total"),
        loss=data.get("loss"),
        peak_vram_gb=data.get("peak_vram_gb"),
        failure=str(data.get("kind") or ""),
        message=str(data.get("message") or ""),
        details=details if isinstance(details, dict) else {},
    )


def parse_line(backend: str, line: str) -> TrainerEvent | None:
    if backend == "native":
        return parse_native(line)
    return None


def describe(event: TrainerEvent) -> str:
    """A trainer event as a log line an artist reads."""
    if event.kind == "started":
        return f"Training {event.total} steps"
    if event.kind == "step":
        loss = "" if event.loss is None else f", loss {event.loss:.4f}"
        return f"Step {event.step} of {event.total}{loss}"
    if event.kind == "saved":
        return f"Saved a checkpoint at step {event.step} and read it back"
    if event.kind == "sample":
        return "Drew a sample image"
    if event.kind == "failure":
        return f"Stopped: {event.message}"
    return "Finished"
