"""The trainer as a child process of the job's own process (same process group: Cancel
ends both), its output read line by line as it comes, with a time limit. stdout and
stderr are read as one stream, in the order they were written."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from app.training.dryrun.plan import DryRunPlan

DEFAULT_TIMEOUT = 1800.0  # seconds: loading SDXL from a slow disk, a few steps, a save
TAIL_LINES = 20


@dataclass
class TrainerRun:
    returncode: int | None
    timed_out: bool
    tail: list[str] = field(default_factory=list)  # the last lines of its output


def run_trainer(
    plan: DryRunPlan,
    on_line: Callable[[str], None],
    timeout: float = DEFAULT_TIMEOUT,
) -> TrainerRun:
    """Run the plan's command to its end (or its time limit), calling ``on_line`` for
    each line of output."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    process = subprocess.Popen(
        plan.command,
        cwd=plan.cwd,
        env=os.environ | plan.env | {"PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        _end(process)

    timer = threading.Timer(timeout, stop)
    timer.daemon = True
    timer.start()
    try:
        assert process.stdout is not None
        # Lines may end in \r (progress bars redraw themselves): each is a line here.
        for raw in iter(process.stdout.readline, b""):
            for piece in raw.replace(b"\r", b"\n").split(b"\n"):
                text = piece.decode("utf-8", "replace").rstrip()
                if text:
                    tail.append(text)
                    on_line(text)
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            _end(process)
    return TrainerRun(process.returncode, timed_out.is_set(), list(tail))


def _end(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a grace period; the trainer's own children (accelerate
    starts one per GPU) go with it when they share its group."""
    with contextlib.suppress(OSError):
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        process.kill()
