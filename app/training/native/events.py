"""Progress on stdout, one JSON object per line, for the run supervisor; human logs on
stderr. Every line has ``event`` and ``time`` (Unix seconds). The events:

- ``start``: total, steps_per_epoch, epochs, images, samples_per_epoch, resumed_from
  (step or null), device, processes (one per GPU when several train together; only
  process 0 reports, except errors).
- ``step``: step, total, epoch, loss, smoothed_loss, lr, seconds_per_step,
  peak_vram_gb and vram_total_gb (null without CUDA).
- ``checkpoint``: step, epoch, path (the checkpoint folder), lora_path, verified
  ({unmatched_keys, changes_output, max_change, difference_from_training: the fresh
  load against the trained model, on a CPU run; None on a GPU run}).
- ``sample``: step, index, prompt, path.
- ``done``: step, total, complete (false when the job's stop_after_steps ended the run
  early: lora_path is then the last checkpoint's and resume continues), lora_path,
  verified, seconds, seconds_per_step, peak_vram_gb.
- ``error``: kind (oom | nan | missing_file | bad_config | crash), message, step (the
  steps completed before it), details (kind-specific: the failing step and the batch's
  images for nan, the settings in force for oom).

Nothing else may reach stdout: libraries print there too (prodigyopt announces "Using
decoupled weight decay"; a C extension can write to file descriptor 1 directly).
``claim_stdout`` keeps a private handle on the real stdout for the events and points
both ``sys.stdout`` and descriptor 1 at stderr for everything else.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import IO, Any


class ProgressWriter:
    def __init__(self, stream: IO[str] | None = None, only: frozenset[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._only = only  # the events this writer passes on (None: all)
        self.events: list[dict[str, Any]] = []  # kept for in-process callers and tests

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, "time": round(time.time(), 3), **fields}
        if self._only is not None and event not in self._only:
            return record
        self.events.append(record)
        # allow_nan=False: the supervisor parses strict JSON; a NaN loss is sent as null.
        self._stream.write(json.dumps(_finite(record), allow_nan=False) + "\n")
        self._stream.flush()
        return record


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def claim_stdout() -> IO[str]:
    """The real stdout, for progress events only; from now on anything else written to
    stdout, by Python or by native code, lands on stderr."""
    sys.stdout.flush()
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def log(message: str) -> None:
    """A line for people reading the run's log."""
    sys.stderr.write(f"[loragate native] {message}\n")
    sys.stderr.flush()
