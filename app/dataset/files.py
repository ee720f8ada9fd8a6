"""What a dataset folder holds, from a walk that never follows a link: files that may be
images, caption sidecars, junk the operating system left behind, and symlinks (listed,
never followed).

Whether a file *is* an image is decided later from its content, not from its name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the scanned folder, POSIX separators
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class LinkEntry:
    path: str
    target: str  # what the link points at, as stored in the link
    inside: bool  # whether it resolves to somewhere inside the scanned folder


@dataclass
class FolderScan:
    root: Path
    files: list[FileEntry] = field(default_factory=list)  # possible images
    captions: dict[str, FileEntry] = field(default_factory=dict)
    junk: list[str] = field(default_factory=list)
    links: list[LinkEntry] = field(default_factory=list)


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
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(directory)
        relative_dir = PurePosixPath(base.relative_to(root).as_posix())
        kept_dirs = []
        for name in sorted(dirnames):
            relative = relative_dir / name
            if base == root and name in skip:
                continue
            if (base / name).is_symlink():
                scan.links.append(_link(root, base / name, relative))
            elif name.lower() in JUNK_DIRS or name.startswith("."):
                scan.junk.append(f"{relative.as_posix()}/")
            else:
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            path = base / name
            relative = relative_dir / name
            if path.is_symlink():
                scan.links.append(_link(root, path, relative))
                continue
            if is_junk(relative):
                scan.junk.append(relative.as_posix())
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # vanished while walking
            entry = FileEntry(relative.as_posix(), stat.st_size, stat.st_mtime_ns)
            if relative.suffix.lower() == CAPTION_SUFFIX:
                scan.captions[entry.path] = entry
            else:
                scan.files.append(entry)
    return scan


def _link(root: Path, path: Path, relative: PurePosixPath) -> LinkEntry:
    target = os.readlink(path)
    try:
        inside = is_inside(root, path)
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    return LinkEntry(relative.as_posix(), target, inside)
