"""Where a project's training runs are written: ``<project>/runs/<number>/``, one folder
per Run record, for runs trained here and runs imported from a rented GPU alike. A
module of its own because the runs (which write there), Gate 4's dry run (which proves
the folder writable before a run may start) and evaluation (which finds the LoRA files
there) must agree, and the runs package stands on training, so training cannot ask it."""

from __future__ import annotations

from pathlib import Path

RUNS_DIRNAME = "runs"


def runs_root(project_dir: Path) -> Path:
    return project_dir / RUNS_DIRNAME


def run_folder(project_dir: Path, number: int) -> Path:
    """``<project>/runs/<number>/``: checkpoints/, samples/ and the final LoRA."""
    return runs_root(project_dir) / str(number)
