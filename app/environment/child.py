"""Running a check in a child process with a time limit.

Anything that touches the GPU runs in a child: a broken driver can hang CUDA's
initialisation forever or kill the process outright, and the web server must survive
both. The child scripts in ``app/environment/scripts/`` print one JSON object as their
last line of output; everything else (warnings, tracebacks) is kept for the message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"


@dataclass(frozen=True)
class ChildOutcome:
    command: tuple[str, ...]
    returncode: int | None  # None when it timed out or could not start
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    launch_error: str | None = None  # the program could not be started at all

    @property
    def payload(self) -> dict[str, Any] | None:
        """The JSON object the child printed last, if any."""
        for line in reversed(self.stdout.strip().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    return None
                return value if isinstance(value, dict) else None
        return None

    @property
    def killed_by(self) -> int | None:
        """The signal number that ended the child (POSIX reports it as -N)."""
        if self.returncode is not None and self.returncode < 0:
            return -self.returncode
        return None

    def tail(self, lines: int = 6) -> str:
        """The last lines of stderr: where a crash explains itself."""
        text = self.stderr.strip().splitlines()
        return "\n".join(text[-lines:])


def script(name: str) -> str:
    return str(SCRIPTS_DIR / name)


def run_child(
    command: list[str],
    timeout: float,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> ChildOutcome:
    """Run ``command``; kill its whole process group when it outlives ``timeout``."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            # Own process group, so a timeout also ends whatever the child started.
            start_new_session=os.name == "posix",
        )
    except OSError as exc:
        return ChildOutcome(
            tuple(command), None, "", "", time.monotonic() - started, launch_error=str(exc)
        )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate()
        return ChildOutcome(
            tuple(command), None, stdout, stderr, time.monotonic() - started, timed_out=True
        )
    return ChildOutcome(
        tuple(command), process.returncode, stdout, stderr, time.monotonic() - started
    )


def _kill_group(process: subprocess.Popen[str]) -> None:
    if os.name == "posix":
        try:
            os.killpg(process.pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            return
    process.kill()


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
