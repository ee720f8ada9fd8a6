"""Running the trainer as the run supervisor does: a separate process reporting JSON
lines on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.settings import REPO_ROOT
from app.training.job import NativeJob, write_job

TRAINER = ("-m", "app.training.native")


def run_trainer(
    job: NativeJob,
    job_file: Path,
    processes: int = 1,
    entry: tuple[str, ...] = TRAINER,
    **popen: Any,
) -> subprocess.Popen[str]:
    """The trainer as the supervisor starts it: its own process (or one per GPU through
    torchrun, as accelerate launch does), JSON lines on stdout. ``entry`` replaces
    ``-m app.training.native`` (the job file is its last argument)."""
    write_job(job_file, job)
    # One thread, as in the in-process tests (see conftest.one_torch_thread).
    popen["env"] = (popen.get("env") or dict(os.environ)) | {"OMP_NUM_THREADS": "1"}
    launcher = []
    if processes > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    return subprocess.Popen(
        [sys.executable, *launcher, *entry, str(job_file)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def parse_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
