"""Test-only job kinds (registered by importing this module; never part of the app):
small work functions that write events at a set pace, fail, or start a grandchild."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.worker import JobHandle
from app.worker.kinds import JobKind, register_kind

COUNT = "test.count"
FAIL = "test.fail"
FAMILY = "test.family"
GPU = "test.gpu"
HOLD = "test.hold"
PAUSE_THEN_BURST = "test.pause_then_burst"

# A grandchild that ignores SIGTERM: only the group's SIGKILL ends it.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('grandchild up', flush=True); time.sleep(600)"
)


def count(handle: JobHandle) -> dict[str, Any]:
    """``n`` progress events, ``delay`` seconds apart; the event count is the check."""
    n, delay = int(handle.params.get("n", 10)), float(handle.params.get("delay", 0.0))
    for done in range(1, n + 1):
        handle.raise_if_cancelled()
        handle.event("progress", done=done, total=n, message="Counting")
        if delay:
            time.sleep(delay)
    return {"counted": n}


def pause_then_burst(handle: JobHandle) -> dict[str, Any]:
    """One event, a pause of ``pause`` seconds, then the rest at once: a page rendered
    during the pause receives the rest and the end in one piece of its stream."""
    n = int(handle.params.get("n", 6))
    handle.event("progress", done=1, total=n, message="Counting")
    time.sleep(float(handle.params.get("pause", 3)))
    for done in range(2, n + 1):
        handle.event("progress", done=done, total=n, message="Counting")
    return {"counted": n}


def fail(handle: JobHandle) -> dict[str, Any]:
    handle.log("about to fail")
    raise ValueError("The test job failed on purpose.")


def hold(handle: JobHandle) -> dict[str, Any]:
    """Says "3 of 10", then holds its project's dataset until cancelled."""
    handle.progress(3, 10, "Checking images")
    while True:
        handle.raise_if_cancelled()
        time.sleep(0.02)


def family(handle: JobHandle) -> dict[str, Any]:
    """Starts a grandchild (its pid written to ``pid_file``), then waits for Cancel."""
    child = subprocess.Popen([sys.executable, "-c", STUBBORN])
    Path(handle.params["pid_file"]).write_text(str(child.pid))
    handle.progress(0, 1, "Waiting to be cancelled")
    while True:
        handle.raise_if_cancelled()
        time.sleep(0.05)


register_kind(COUNT, JobKind("tests.worker.kinds:count", uses=frozenset({"test"})))
register_kind(PAUSE_THEN_BURST, JobKind("tests.worker.kinds:pause_then_burst"))
register_kind(FAIL, JobKind("tests.worker.kinds:fail"))
register_kind(FAMILY, JobKind("tests.worker.kinds:family"))
register_kind(HOLD, JobKind("tests.worker.kinds:hold", uses=frozenset({"dataset"})))
register_kind(GPU, JobKind("tests.worker.kinds:count", gpu=True))
