"""``python -m app.worker JOB_FILE``: the child process of one job (``child.run``)."""

from __future__ import annotations

import sys
from pathlib import Path

from app.worker.child import run

if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
