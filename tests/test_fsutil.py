"""Atomic writes give files the mode a plain ``open()`` would (0666 less the umask), not
mkstemp's 0600: a trainer running as another user (a Docker container) must be able to
read the sidecars and images loragate writes."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from app.fsutil import atomic_write_text, new_file_mode
from app.settings import REPO_ROOT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_written_file_has_the_mode_open_would_give_it(tmp_path: Path) -> None:
    path = tmp_path / "cat.txt"
    atomic_write_text(path, "zkmira, cat")
    assert mode(path) == new_file_mode()
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what open() does under the same umask
    assert mode(path) == mode(plain)
    assert list(tmp_path.glob(".*.tmp")) == []


def test_the_mode_follows_the_umask_of_the_process(tmp_path: Path) -> None:
    """A real process with umask 027 (group may read, others nothing) and one with 022
    (everyone may read): the files come out 0640 and 0644, replacing one written 0600."""
    for umask, expected in ((0o027, 0o640), (0o022, 0o644)):
        path = tmp_path / f"{umask:o}.png"
        path.write_bytes(b"old")
        path.chmod(0o600)
        code = (
            f"import os; os.umask({umask}); from pathlib import Path; "
            "from app.fsutil import atomic_write_bytes; "
            f"atomic_write_bytes(Path({str(path)!r}), b'new')"
        )
        subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
        assert path.read_bytes() == b"new"
        assert mode(path) == expected, f"umask {umask:o}: {mode(path):o}"
