"""Progress of long work a command does in its own process, on stderr (stdout stays
for the result, ``--json`` included): one line rewritten in place on a terminal; on a
pipe or a log, a line when the stage changes and about every tenth of the way."""

from __future__ import annotations

import sys
import time
from typing import TextIO

# A terminal line is rewritten at most this often (seconds).
REDRAW_INTERVAL = 0.1
LOG_STEPS = 10


class StderrProgress:
    """A ``Progress`` callable (done, total, message) for the dataset's functions."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._message = ""
        self._logged_step = -1
        self._drawn_at = 0.0
        self._width = 0

    def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
        total = total or 0
        stage_changed = bool(message) and message != self._message
        if message:
            self._message = message
        line = self._message + (f" {done:,} of {total:,}" if total > 1 else "")
        if self.live:
            now = time.monotonic()
            if stage_changed or done >= total or now - self._drawn_at >= REDRAW_INTERVAL:
                self._drawn_at = now
                self.stream.write("\r" + line.ljust(self._width))
                self._width = len(line)
                self.stream.flush()
            return
        step = done * LOG_STEPS // total if total else 0
        if stage_changed:
            self._logged_step = -1
        if stage_changed or step > self._logged_step:
            self._logged_step = step
            self.stream.write(line + "\n")
            self.stream.flush()

    def stage(self, message: str) -> None:
        """A new stage without a count."""
        self(0, 0, message)

    def finish(self) -> None:
        """End the rewritten line, so what is printed next starts on its own."""
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
