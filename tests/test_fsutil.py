"""Atomic writes give files the mode a plain ``open()`` would (0666 less the umask), not
mkstemp's 0600: a trainer running as another user (a Docker container) must be able to
read the sidecars and images loragate writes."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.fsutil import (
    NotRegularFile,
    TooLarge,
    atomic_write_bytes,
    atomic_write_text,
    atomic_writer,
    copy_limited,
    new_file_mode,
    open_regular,
)
from app.settings import REPO_ROOT
from tests.dataset import builders as b


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


def test_only_regular_files_are_opened_and_a_named_pipe_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    with b.fifo_watchdog(fifo) as unblocked, pytest.raises(NotRegularFile, match="named pipe"):
        open_regular(fifo)
    assert not unblocked
    with pytest.raises(NotRegularFile, match="a folder"):
        open_regular(tmp_path)
    (tmp_path / "link.png").symlink_to(tmp_path / "real.png")
    (tmp_path / "real.png").write_bytes(b"x")
    with pytest.raises(OSError):  # a link swapped in after the scan is not followed
        open_regular(tmp_path / "link.png")
    with open_regular(tmp_path / "real.png") as handle:
        assert handle.read() == b"x"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / ("n" * 250 + ".png")  # the temporary name must still fit 255 bytes
    atomic_write_bytes(path, b"old")
    with pytest.raises(TooLarge), atomic_writer(path) as handle:
        copy_limited(io.BytesIO(b"x" * 11), handle, 10)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
