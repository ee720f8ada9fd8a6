"""Free disk on the filesystem that holds a path: measured where a training run writes,
by the config's estimate (app/training/assessment.py) and by Gate 3's disk check
(app/environment/disk.py)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiskSpace:
    path: Path  # the folder measured (the nearest one that exists)
    total: int
    free: int


def disk_space(path: Path) -> DiskSpace:
    """Free space on the filesystem that holds ``path`` (which may not exist yet)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return DiskSpace(probe, usage.total, usage.free)
