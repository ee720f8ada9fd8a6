"""The trainer as a child process of the job's own process (same process group: Cancel
ends both), its output read as it comes and cut into lines by the one splitter every
trainer's output goes through (app/training/trainer_output.py: tqdm redraws end in
``\\r``, not a newline), with a time limit. stdout and stderr are read as one stream, in
the order they were written."""

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

import psutil

from app.training.dryrun.plan import DryRunPlan
from app.training.trainer_output import LineSplitter

DEFAULT_TIMEOUT = 1800.0  # seconds: loading SDXL from a slow disk, a few steps, a save
TAIL_LINES = 20
GRACE_SECONDS = 10.0  # between SIGTERM and SIGKILL


@dataclass
class TrainerRun:
    returncode: int | None
    timed_out: bool
    tail: list[str] = field(default_factory=list)  # the last lines of its output
    stopped: bool = False  # ended by the dry run itself (``on_line`` asked)


def run_trainer(
    plan: DryRunPlan,
    on_line: Callable[[str], bool],
    timeout: float = DEFAULT_TIMEOUT,
) -> TrainerRun:
    """Run the plan's command to its end (or its time limit), calling ``on_line`` for
    each line of output; ``on_line`` returning True ends the trainer (a loss that is not
    a number: external trainers train on)."""
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
    stopped = False

    def stop() -> None:
        timed_out.set()
        end_family(process)

    timer = threading.Timer(timeout, stop)
    timer.daemon = True
    timer.start()
    splitter = LineSplitter()

    def take(lines: list[str]) -> bool:
        for text in lines:
            tail.append(text)
            if on_line(text):
                return True
        return False

    try:
        assert process.stdout is not None
        descriptor = process.stdout.fileno()
        while chunk := os.read(descriptor, 65536):
            if take(splitter.feed(chunk)):
                stopped = True
                end_family(process)
                break
        else:
            stopped = take(splitter.close())
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            end_family(process)
        if process.stdout is not None:
            process.stdout.close()
    return TrainerRun(process.returncode, timed_out.is_set(), list(tail), stopped)


def end_family(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the trainer and everything it started, then SIGKILL after a grace
    period. One by one, not by process group: the trainer shares the job's group (so
    Cancel reaches it), and a launcher (bash, accelerate) that dies first would leave
    its child holding the output pipe open, running on."""
    try:
        family = [psutil.Process(process.pid)]
        family += family[0].children(recursive=True)
    except psutil.Error:
        family = []
    for member in family:
        with contextlib.suppress(psutil.Error):
            member.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=GRACE_SECONDS)
    for member in alive:
        with contextlib.suppress(psutil.Error):
            member.kill()
    deadline = time.monotonic() + GRACE_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
