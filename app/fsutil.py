"""Reading and writing files safely.

Writes survive a crash: the file is either the old one or the new one, never half of
each (temp file in the same folder, fsync, rename, fsync the folder). Every file
loragate writes, a caption or an imported image, goes through ``atomic_writer``, so
all of them get the same mode (the one ``open()`` would give).

Reads of files loragate did not make (an artist's folder) go through ``open_regular``:
only a regular file is read, so a named pipe, a socket or a device in the folder can
never block the reader.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_umask_lock = threading.Lock()
CHUNK = 1 << 20


class NotRegularFile(OSError):
    """The path is not a regular file (a named pipe, a socket, a device, a folder)."""

    def __init__(self, path: Path | str, kind: str) -> None:
        super().__init__(errno.EINVAL, f"it is {kind}, not a regular file", str(path))
        self.kind = kind


class TooLarge(ValueError):
    """More bytes than the limit given."""


def _umask() -> int:
    """The process's umask. Linux shows it in /proc (no change needed to read it);
    elsewhere it can only be read by setting it, which the lock keeps to one thread of
    ours at a time."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _umask_lock:
        current = os.umask(0o022)
        os.umask(current)
    return current


def new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the umask. ``mkstemp`` makes its
    temp files 0600, which a trainer running as another user (a Docker container) could
    not read."""
    return 0o666 & ~_umask()


def special_kind(mode: int) -> str:
    """What a file that is not a regular file is, in plain words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a link"
    return "not a regular file"


def open_regular(path: Path | str) -> BinaryIO:
    """Open a file for reading, refusing anything but a regular file.

    ``O_NONBLOCK``: opening a named pipe otherwise waits for a writer, forever.
    ``O_NOFOLLOW``: a file swapped for a link after it was listed is refused. The check
    is ``fstat`` on the open descriptor, so nothing can be swapped in between."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
    descriptor = os.open(path, flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, special_kind(mode))
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def copy_limited(source: BinaryIO, output: BinaryIO, limit: int) -> int:
    """Copy ``source`` into ``output``, raising ``TooLarge`` past ``limit`` bytes (a
    header, or a listing, can lie about the size). Returns the bytes written."""
    written = 0
    while block := source.read(CHUNK):
        written += len(block)
        if written > limit:
            raise TooLarge()
        output.write(block)
    return written


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A file that appears at ``path`` whole, or not at all: what the ``with`` block
    writes goes to a temporary file beside it, renamed into place when the block ends
    without an error, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A short prefix: the temporary name must fit the 255 bytes a name may have.
    prefix = f".{path.name[:32]}."
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), new_file_mode())
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def append_text(path: Path, text: str) -> None:
    """Append and fsync: journal lines must not vanish with a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
