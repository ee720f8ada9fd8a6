"""The one way a path that came from outside (a request, an upload, a zip entry, a
caption file name) becomes a filesystem path.

Follows Starlette's StaticFiles guard: resolve first (symlinks included), then check
containment with ``commonpath``, never with a string prefix (``/data/proj2`` starts
with ``/data/proj``).
"""

from __future__ import annotations

import os
from pathlib import Path


class UnsafePathError(ValueError):
    """A path that would leave its root, or that no filesystem should accept."""


def safe_join(root: Path | str, relative: str | os.PathLike[str]) -> Path:
    """Return ``root / relative`` resolved, or raise UnsafePathError.

    Refuses absolute paths, drive letters, backslashes, NUL bytes, names that are not
    valid UTF-8 text (bytes smuggled in as lone surrogates, which no database or JSON
    can store), ``..`` that escapes, and symlinks (anywhere along the path) that point
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


# Linux's limits (NAME_MAX, PATH_MAX), counted in bytes of the file system's encoding:
# past them every call on the path fails with "File name too long".
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


def typed_path(text: str) -> Path:
    """A path on this computer as someone typed it (``~`` expanded), or UnsafePathError
    saying in words why no file system here can hold it. Not confined to any root."""
    if "\x00" in text:
        raise UnsafePathError("The path contains a NUL byte.")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~name where no user is called name
        home = text.split("/", 1)[0]
        raise UnsafePathError(
            f"{home} names a user this computer does not have, so it is no folder here. "
            "Give the full path instead (it starts with /)."
        ) from None
    if len(os.fsencode(path)) > MAX_PATH_BYTES:
        raise UnsafePathError(
            f"The path is longer than {MAX_PATH_BYTES:,} bytes, the most this computer accepts."
        )
    for part in path.parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            raise UnsafePathError(
                f"The name “{part[:40]}…” is longer than {MAX_NAME_BYTES} bytes, the most a "
                "file or folder name can have (an accented letter takes 2 bytes)."
            )
    return path
