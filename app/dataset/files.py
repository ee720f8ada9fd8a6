"""What a dataset folder holds, from a walk that never follows a link: files that may be
images, caption sidecars, junk the operating system left behind, symlinks (listed,
never followed), files whose names are not valid UTF-8 text, anything that is not a
regular file (a named pipe, a socket, a device: listed, never opened, since opening a
named pipe waits for a writer forever) and folders the walk could not read.

Whether a file *is* an image is decided later from its content, not from its name.

A name made of bytes that are not UTF-8 (``caf\\xe9.jpg`` from an old Windows or Mac
system) reaches Python with lone surrogates ("surrogateescape"), which SQLite, JSON and
the journal cannot store. Such files never join ``files`` or ``captions``, so nothing
downstream sees them: they are listed in ``misnamed`` with a clean UTF-8 name
(``utf8_name``) beside the name on disk, and every other name the scan reports goes
through ``shown_name``. The audit reports them; the importer copies them under the clean
name and says so.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from app.fsutil import special_kind
from app.paths import is_inside

CAPTION_SUFFIX = ".txt"
# Suffixes trainers pick images by (kohya sd-scripts library/train_util.py
# IMAGE_EXTENSIONS, without the optional AVIF/JPEG-XL plugins). A file of another kind
# is silently skipped by them.
TRAINER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})
IMAGE_SUFFIXES = TRAINER_SUFFIXES | {".gif", ".tif", ".tiff", ".avif", ".jxl", ".heic", ".psd"}
# Files macOS, Windows and Synology leave in folders; they are never part of a dataset.
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".directory"})
JUNK_DIRS = frozenset({"__macosx", "@eadir", ".thumbnails", ".trash", ".git"})
# Why a file is imported under another name than its own (``utf8_name``).
BAD_NAME_REASON = "its name was not valid UTF-8 text (its bytes were read as Windows-1252)"


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the scanned folder, POSIX separators, valid UTF-8
    size: int
    mtime_ns: int
    # The name on disk when it is not valid UTF-8 (``path`` is then its clean rename).
    on_disk: str | None = None

    @property
    def disk_path(self) -> str:
        return self.on_disk or self.path

    @property
    def shown(self) -> str:
        """The name on disk, printable (undecodable bytes as ``\\xNN``)."""
        return shown_name(self.disk_path)


@dataclass(frozen=True)
class LinkEntry:
    path: str
    target: str  # what the link points at, as stored in the link
    inside: bool  # whether it resolves to somewhere inside the scanned folder


@dataclass(frozen=True)
class SkippedEntry:
    path: str  # shown name, relative to the scanned folder ("." for the folder itself)
    what: str  # "a named pipe (FIFO)", "a folder", …
    reason: str = ""  # why it could not be read (the system's words), if it could not


@dataclass
class FolderScan:
    root: Path
    files: list[FileEntry] = field(default_factory=list)  # possible images
    captions: dict[str, FileEntry] = field(default_factory=dict)
    junk: list[str] = field(default_factory=list)
    links: list[LinkEntry] = field(default_factory=list)
    misnamed: list[FileEntry] = field(default_factory=list)  # names not valid UTF-8
    special: list[SkippedEntry] = field(default_factory=list)  # not regular files
    unreadable: list[SkippedEntry] = field(default_factory=list)  # could not be listed


def is_clean_name(name: str) -> bool:
    """Whether a name from the filesystem is valid UTF-8 text (no escaped bytes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _rewrite(name: str, stray_byte: Callable[[int], str], surrogate: Callable[[int], str]) -> str:
    """``name`` with each byte that was not UTF-8 (carried by os.fsdecode as U+DC80..
    U+DCFF) and each other lone surrogate replaced."""
    if is_clean_name(name):
        return name
    out = []
    for char in name:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(stray_byte(code - 0xDC00))
        elif 0xD800 <= code <= 0xDFFF:
            out.append(surrogate(code))
        else:
            out.append(char)
    return "".join(out)


def shown_name(name: str) -> str:
    """The name as text anyone can print and store: an undecodable byte becomes
    ``\\xNN`` (as Python writes bytes), any other lone surrogate ``\\uXXXX``."""
    return _rewrite(name, lambda byte: f"\\x{byte:02x}", lambda code: f"\\u{code:04x}")


def _windows_1252(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D have no character
        return "_"


def utf8_name(name: str) -> str:
    """A clean UTF-8 name for one that is not: each undecodable byte read as
    Windows-1252 (the usual origin: ``caf\\xe9.jpg`` → ``café.jpg``), ``_`` where that
    has no character either."""
    return _rewrite(name, _windows_1252, lambda code: "_")


def is_junk(relative: PurePosixPath) -> bool:
    """Operating-system leftovers, AppleDouble ``._`` files and hidden files (trainers
    skip names starting with a dot, as Python's glob does)."""
    if any(part.lower() in JUNK_DIRS for part in relative.parts[:-1]):
        return True
    name = relative.name
    return name.lower() in JUNK_NAMES or name.startswith(".")


def caption_path_for(image_path: str) -> str:
    return PurePosixPath(image_path).with_suffix(CAPTION_SUFFIX).as_posix()


def scan_folder(root: Path, *, skip: frozenset[str] = frozenset()) -> FolderScan:
    """Walk ``root`` (sorted, links not followed). ``skip``: top-level names to ignore
    entirely (loragate's own working folders)."""
    root = root.resolve()
    scan = FolderScan(root=root)

    def cannot_list(error: OSError) -> None:
        # os.walk skips a folder it cannot open without a word unless told.
        where = Path(error.filename or root)
        relative = "." if where == root else shown_name(where.relative_to(root).as_posix())
        scan.unreadable.append(SkippedEntry(relative, "a folder", _reason(error)))

    for directory, dirnames, filenames in os.walk(root, onerror=cannot_list, followlinks=False):
        base = Path(directory)
        relative_dir = PurePosixPath(base.relative_to(root).as_posix())
        kept_dirs = []
        for name in sorted(dirnames):
            relative = relative_dir / name
            if base == root and name in skip:
                continue
            try:
                is_link = (base / name).is_symlink()
            except OSError as exc:  # its parent can be listed but not entered
                shown = shown_name(relative.as_posix())
                scan.unreadable.append(SkippedEntry(shown, "a folder", _reason(exc)))
                continue
            if is_link:
                scan.links.append(_link(root, base / name, relative))
            elif name.lower() in JUNK_DIRS or name.startswith("."):
                scan.junk.append(f"{shown_name(relative.as_posix())}/")
            else:
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            _add_file(scan, base / name, relative_dir / name)
    return scan


def _add_file(scan: FolderScan, path: Path, relative: PurePosixPath) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return  # vanished while walking
    except OSError as exc:  # a folder that can be listed but not entered (no x bit)
        shown = shown_name(relative.as_posix())
        scan.unreadable.append(SkippedEntry(shown, "a file", _reason(exc)))
        return
    if stat.S_ISLNK(info.st_mode):
        scan.links.append(_link(scan.root, path, relative))
        return
    if is_junk(relative):
        scan.junk.append(shown_name(relative.as_posix()))
        return
    if not stat.S_ISREG(info.st_mode):
        scan.special.append(
            SkippedEntry(shown_name(relative.as_posix()), special_kind(info.st_mode))
        )
        return
    on_disk = relative.as_posix()
    if not is_clean_name(on_disk):
        scan.misnamed.append(FileEntry(utf8_name(on_disk), info.st_size, info.st_mtime_ns, on_disk))
        return
    entry = FileEntry(on_disk, info.st_size, info.st_mtime_ns)
    if relative.suffix.lower() == CAPTION_SUFFIX:
        scan.captions[entry.path] = entry
    else:
        scan.files.append(entry)


def _reason(error: OSError) -> str:
    """The system's reason, in lower case ("permission denied")."""
    return (error.strerror or str(error)).lower()


def _link(root: Path, path: Path, relative: PurePosixPath) -> LinkEntry:
    target = os.readlink(path)
    try:
        inside = is_inside(root, path)
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    return LinkEntry(shown_name(relative.as_posix()), shown_name(target), inside)
