"""A job's process: started in its own session (so it outlives the server and a
Ctrl-C in the server's terminal), known by pid *and* start time (a pid is reused once
its process is gone; the pair is not), and stopped as a whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

# Start times are floats read from /proc: compare them with a little slack.
START_TIME_SLACK = 0.05


@dataclass(frozen=True)
class ProcessId:
    pid: int
    started: float


def launch(job_file: Path, log_path: Path) -> ProcessId:
    """Start ``python -m app.worker JOB_FILE``, its output appended to the log."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.worker", str(job_file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            close_fds=True,
            # Own session and process group: the server's death (or a Ctrl-C to its
            # terminal) does not reach the job, and Cancel reaches its whole family.
            start_new_session=True,
        )
    # Reap it when it ends, or it stays a zombie of this process for as long as this
    # process lives (a zombie still has its pid and start time).
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    return ProcessId(process.pid, _start_time(process.pid) or 0.0)


def _psutil() -> ModuleType:
    # Loaded by the first look at a process, not with the worker: ``loragate jobs`` lists
    # jobs from their rows and never looks (psutil is a hundredth of a second of its start).
    import psutil

    return psutil


def _start_time(pid: int) -> float | None:
    psutil = _psutil()
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_alive(pid: int | None, started: float | None) -> bool:
    """True when the process with this pid is the one started then, and not a zombie."""
    if pid is None or started is None:
        return False
    psutil = _psutil()
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started) > START_TIME_SLACK:
            return False
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def signal_group(pid: int, signum: int) -> bool:
    """Send ``signum`` to the job's process group (the child is its leader, so the group
    id is the child's pid). False when no process of the group is left."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def end_group(pid: int) -> None:
    """What is left of a finished job's group (a pool worker, a grandchild) ends too.
    Safe although the child is gone: Linux reuses no pid as long as it still names a
    process group with members."""
    signal_group(pid, signal.SIGKILL)
