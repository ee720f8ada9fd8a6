"""The one way a path that came from outside (a request, an upload, a zip entry, a
caption file name) becomes a filesystem path: ``safe_join`` for a path inside a folder
of loragate's, ``user_path`` for a full path the artist typed (a folder to import, a
folder to audit, a base model).

Follows Starlette's StaticFiles guard: resolve first (symlinks included), then check
containment with ``commonpath``, never with a string prefix (``/data/proj2`` starts
with ``/data/proj``).
"""

from __future__ import annotations

import os
from pathlib import Path

# Linux file systems (ext4, XFS, btrfs) take names of at most 255 bytes and the kernel
# paths of at most 4,096; past them every call fails with "File name too long".
NAME_MAX = 255
PATH_MAX = 4096


class UnsafePathError(ValueError):
    """A path that would leave its root, or that no filesystem should accept."""


class NameTooLong(UnsafePathError):
    """A name or a path longer than any file system here takes."""


def check_lengths(text: str) -> None:
    """Refuse, naming the limit, a path no file system would take for its length (the
    operating system's own words, "File name too long", name neither the name nor the
    limit; Python's ``Path.exists`` raises them instead of answering)."""
    encoded = os.fsencode(text)
    if len(encoded) > PATH_MAX:
        raise NameTooLong(
            f"The path is {len(encoded):,} bytes long; a path can be at most {PATH_MAX:,} bytes."
        )
    for part in encoded.split(b"/"):
        if len(part) > NAME_MAX:
            name = os.fsdecode(part)
            shown = name if len(name) <= 40 else f"{name[:30]}…{name[-6:]}"
            raise NameTooLong(
                f"The name “{shown}” is {len(part):,} bytes long; a file or folder name can "
                f"be at most {NAME_MAX} bytes."
            )


def user_path(text: str) -> Path:
    """A full path the artist typed: ``~`` and ``~user`` expanded, refused in plain words
    (``UnsafePathError``) when no file system could hold it or the user does not exist.
    Whether it is absolute, or exists, is the caller's question."""
    if "\x00" in text:
        raise UnsafePathError("The path contains a NUL byte.")
    if text.startswith("~"):
        expanded = os.path.expanduser(text)
        if expanded.startswith("~"):
            # os.path.expanduser leaves "~name" as it is when there is no such user
            # (pathlib raises RuntimeError instead).
            user = text[1:].split("/", 1)[0]
            raise UnsafePathError(
                f"“~{user}” would be the home folder of a user named “{user}”, but this "
                "computer has no such user. Give the full path, for example /home/you/…"
            )
        text = expanded
    check_lengths(text)
    return Path(text)


def safe_join(root: Path | str, relative: str | os.PathLike[str]) -> Path:
    """Return ``root / relative`` resolved, or raise UnsafePathError.

    Refuses absolute paths, drive letters, backslashes, NUL bytes, names that are not
    valid UTF-8 text (bytes smuggled in as lone surrogates, which no database or JSON
    can store), names longer than a file system takes (``NameTooLong``), ``..`` that
    escapes, and symlinks (anywhere along the path) that point
    outside ``root``. The target need not exist yet.
    """
    text = os.fspath(relative)
    if "\x00" in text:
        raise UnsafePathError("The path contains a NUL byte.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError("The path is not valid UTF-8 text.") from None
    if "\\" in text:
        # On Linux a backslash is a legal file name character, but a Windows-made
        # zip or form field means it as a separator: refuse rather than guess.
        raise UnsafePathError("The path contains a backslash.")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UnsafePathError("Absolute paths are not accepted here.")
    check_lengths(text)
    root_resolved = Path(root).resolve()
    candidate = (root_resolved / text).resolve()
    if os.path.commonpath([candidate, root_resolved]) != str(root_resolved):
        # Don't allow a request, a zip entry or a symlink to reach outside its root.
        raise UnsafePathError("The path points outside the folder it belongs to.")
    return candidate


def is_inside(root: Path | str, path: Path | str) -> bool:
    """True when ``path`` (resolved, symlinks followed) lies inside ``root``."""
    root_resolved = Path(root).resolve()
    resolved = Path(path).resolve()
    return os.path.commonpath([resolved, root_resolved]) == str(root_resolved)
