"""``python -m app.training.native`` as the supervisor starts it, except that the process
kills itself with SIGKILL at the one moment a crash is worst for a checkpoint: every
file of the checkpoint at STEP written, its completion marker not yet.

    python tests/training/native/die_before_marker.py STEP JOB.json

An outside SIGKILL cannot be timed that precisely (a tiny model's checkpoint is written
in milliseconds), and a sleep in the trainer for tests to aim at would be production
code serving a test. Here the trainer is unchanged: the test wraps the one function
that writes the marker, and the kill is a real one, with no chance to clean up.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from app.training.native import checkpoint
from app.training.native.__main__ import main


def die_before_the_marker_of(step: int) -> None:
    write = checkpoint.atomic_write_text
    doomed = checkpoint.folder_name(step) + ".tmp"

    def write_unless_doomed(path: Path, text: str) -> None:
        if path.name == checkpoint.MARKER and path.parent.name == doomed:
            os.kill(os.getpid(), signal.SIGKILL)
        write(path, text)

    checkpoint.atomic_write_text = write_unless_doomed  # type: ignore[assignment]


if __name__ == "__main__":
    die_before_the_marker_of(int(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
