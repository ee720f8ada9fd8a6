"""Copying images (and their caption sidecars) from a folder into a project's dataset.

The artist's originals are only ever read. Each file is judged by its content (Pillow
identifies it from its header), not by its name; junk is listed and skipped; links are
never followed (one pointing outside the source is refused, one inside is skipped since
its target is imported itself); every destination path goes through ``safe_join``.
The folder structure is kept, so kohya folders (``10_mira/``) keep their repeats and
their captions. A name already taken in the dataset gets a deterministic new one
(``a.png`` → ``a-2.png``); a file already there with the same content is left alone.
Zip archives and browser uploads are unpacked into a staging folder and imported from
there through the same function.

Only regular files are ever opened (a named pipe would block the import forever), and
none larger than ``Settings.max_file_bytes``; a file or folder that cannot be read is
refused with the reason, and the import goes on. An import that stops part way (an
error writing, a cancel) removes what it had copied: it completes, or leaves the
dataset as it was.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image, UnidentifiedImageError

from app.captions.sidecar_decode import text_bom
from app.dataset.files import (
    BAD_NAME_REASON,
    CAPTION_SUFFIX,
    FileEntry,
    FolderScan,
    caption_path_for,
    scan_folder,
    shown_name,
)
from app.dataset.measure_file import describe_content
from app.dataset.pillow_guard import BOMB_ERRORS
from app.dataset.staging import too_large_why
from app.fsutil import (
    NotRegularFile,
    TooLarge,
    atomic_writer,
    copy_limited,
    open_regular,
    special_kind,
)
from app.paths import UnsafePathError, is_inside, safe_join, user_path
from app.settings import DEFAULT_MAX_FILE_BYTES
from app.words import plural

Progress = Callable[[int, int, str], None]
# The extension an image gets when its own is missing or wrong.
CANONICAL_SUFFIX = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "GIF": ".gif",
    "TIFF": ".tif",
}
ACCEPTED_SUFFIXES = {"JPEG": (".jpg", ".jpeg"), "MPO": (".jpg", ".jpeg"), "TIFF": (".tif", ".tiff")}


class ImportRefused(ValueError):
    """The source cannot be imported at all; the message says why."""


@dataclass
class ImportReport:
    source: str
    images: list[str] = field(default_factory=list)  # dataset paths, as imported
    captions: list[str] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)  # from, to, why
    unchanged: list[str] = field(default_factory=list)  # already there, same content
    junk: list[str] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)  # path, why

    def summary(self) -> str:
        parts = [
            f"Imported {plural(len(self.images), 'image')} and "
            f"{plural(len(self.captions), 'caption')} from "
            f"{self.source}"
        ]
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} already there")
        if self.renamed:
            parts.append(f"{len(self.renamed)} renamed")
        if self.junk:
            parts.append(f"{plural(len(self.junk), 'junk file')} ignored")
        if self.refused:
            parts.append(f"{len(self.refused)} refused")
        return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "") + "."

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "images": self.images,
            "captions": self.captions,
            "renamed": self.renamed,
            "unchanged": self.unchanged,
            "junk": self.junk,
            "refused": self.refused,
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class Identified:
    kind: str  # image | bomb | empty | not_image | unreadable
    format: str = ""
    detail: str = ""


def identify(path: Path, max_pixels: int) -> Identified:
    """What a file is, from its first bytes and its header (pixels are not decoded)."""
    try:
        handle = open_regular(path)
    except NotRegularFile as exc:
        return Identified("unreadable", detail=f"{exc.kind}, not a regular file")
    except OSError as exc:
        return Identified("unreadable", detail=unreadable_why(exc))
    with handle:
        try:
            head = handle.read(512)
        except OSError as exc:
            return Identified("unreadable", detail=unreadable_why(exc))
        if not head:
            return Identified("empty", detail="an empty file")
        handle.seek(0)
        try:
            with Image.open(handle) as image:
                if image.width * image.height > max_pixels:
                    claim = f"claims {image.width}×{image.height} pixels"
                    return Identified("bomb", image.format or "", claim)
                return Identified("image", image.format or "")
        except BOMB_ERRORS:
            return Identified("bomb", detail="claims more pixels than the limit")
        except UnidentifiedImageError:
            return Identified("not_image", detail=describe_content(head))
        except Exception as exc:
            return Identified("not_image", detail=f"a damaged image header ({exc})")


def unreadable_why(exc: OSError) -> str:
    """Why a file could not be read, and what to do, for the import report."""
    reason = (exc.strerror or str(exc)).lower()
    return (
        f"cannot be read ({reason}): give your user read access to it (chmod u+r), "
        "then import again"
    )


def validate_source(source: str | Path, dataset_root: Path) -> Path:
    text = str(source).strip()
    if not text:
        raise ImportRefused("Type the full path of the folder that holds your images.")
    try:
        path = user_path(text)
    except UnsafePathError as exc:
        raise ImportRefused(str(exc)) from None
    if not path.is_absolute():
        raise ImportRefused(
            f"“{text}” is not a full path. Give the whole path of the folder on this "
            "computer, for example /home/you/pictures/mira."
        )
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ImportRefused(
            f"Nothing exists at {path}. Check the path (it is read on this computer)."
        ) from None
    except OSError as exc:
        raise ImportRefused(
            f"loragate cannot look at {path} ({(exc.strerror or str(exc)).lower()}). Give "
            "your user access to the folders on the way to it, or import another copy."
        ) from None
    if not stat.S_ISDIR(mode):
        what = "a file" if stat.S_ISREG(mode) else special_kind(mode)
        raise ImportRefused(
            f"{path} is {what}, not a folder. Give the folder that holds it, or upload a zip."
        )
    resolved = path.resolve()
    if is_inside(dataset_root, resolved) or is_inside(resolved, dataset_root):
        raise ImportRefused(
            f"{path} is the project's own dataset folder (or holds it); importing it into "
            "itself would copy every image twice."
        )
    if not os.access(resolved, os.R_OK | os.X_OK):
        raise ImportRefused(f"loragate is not allowed to read {path}.")
    return resolved


def import_folder(
    source: Path,
    dataset_root: Path,
    *,
    max_pixels: int,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    label: str | None = None,
    progress: Progress | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> ImportReport:
    """Copy every image and caption of ``source`` into ``dataset_root``. A file whose
    name is not valid UTF-8 is copied under a clean name (``files.utf8_name``), listed
    in ``renamed`` with the reason. Whatever stops it part way (a cancel, a write that
    fails) takes back every file it had copied, then goes on up."""
    dataset_root.mkdir(parents=True, exist_ok=True)
    root = validate_source(source, dataset_root)
    scan = scan_folder(root)
    report = ImportReport(source=label or shown_name(str(root)), junk=list(scan.junk))
    report.refused.extend(_skipped(scan))
    copier = _Copier(dataset_root, max_file_bytes)
    try:
        _import_all(scan, root, copier, report, max_pixels, progress, check_cancelled)
    except BaseException:
        copier.take_back()
        raise
    return report


def _skipped(scan: FolderScan) -> list[dict[str, str]]:
    """What the scan set aside before any file is opened, with the reason."""
    refused = []
    for link in scan.links:
        why = (
            "a link to a file outside the folder: refused, not followed"
            if not link.inside
            else "a link to another file of the folder, which is imported itself"
        )
        refused.append({"path": link.path, "why": why})
    for entry in scan.special:
        why = f"{entry.what}, not a regular file: skipped, never opened"
        refused.append({"path": entry.path, "why": why})
    for entry in scan.unreadable:
        why = (
            f"{entry.what} that cannot be read ({entry.reason}): nothing in it was imported; "
            "give your user access to it (chmod -R u+rX), then import again"
            if entry.what == "a folder"
            else f"cannot be read ({entry.reason}): give your user access to its folder "
            "(chmod u+x), then import again"
        )
        refused.append({"path": entry.path, "why": why})
    return refused


def _import_all(
    scan: FolderScan,
    root: Path,
    copier: _Copier,
    report: ImportReport,
    max_pixels: int,
    progress: Progress | None,
    check_cancelled: Callable[[], None] | None,
) -> None:
    images = [*scan.files, *(e for e in scan.misnamed if not _is_caption(e.path))]
    captions = [*scan.captions.values(), *(e for e in scan.misnamed if _is_caption(e.path))]
    # Source file (by its name on disk, without suffix) → its dataset path: captions pair
    # with images the way trainers pair them, by the names on disk.
    imported_stems: dict[str, str] = {}
    for done, entry in enumerate(images, 1):
        if check_cancelled:
            check_cancelled()
        if progress:
            progress(done, len(images), "Copying images")
        source_path = root / entry.disk_path
        if entry.size > copier.max_bytes:
            why = too_large_why(entry.size, copier.max_bytes)
            report.refused.append({"path": entry.shown, "why": why})
            continue
        found = identify(source_path, max_pixels)
        if found.kind != "image":
            why = {
                "empty": "an empty file",
                "bomb": f"{found.detail} (a decompression bomb)",
                "unreadable": found.detail,
            }.get(found.kind, f"not an image: {found.detail}")
            report.refused.append({"path": entry.shown, "why": why})
            continue
        wanted = _with_right_suffix(entry.path, found.format)
        destination = _place(copier.root, wanted, source_path, copier.taken)
        if destination is None:
            report.unchanged.append(wanted)
            imported_stems[_stem(entry.disk_path)] = wanted
            continue
        refusal = copier.copy(source_path, destination)
        if refusal:
            report.refused.append({"path": entry.shown, "why": refusal})
            continue
        report.images.append(destination)
        imported_stems[_stem(entry.disk_path)] = destination
        reasons = []
        if entry.on_disk:
            reasons.append(BAD_NAME_REASON)
        if wanted != entry.path:
            reasons.append(f"its content is {found.format}, not what its extension said")
        if destination != wanted:
            reasons.append("a different file already had this name")
        if reasons:
            report.renamed.append(
                {"from": entry.shown, "to": destination, "why": "; ".join(reasons)}
            )
    _import_captions(
        captions, images, root, copier, imported_stems, report, progress, check_cancelled
    )
    if progress:
        progress(1, 1, "Copied")


def _is_caption(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() == CAPTION_SUFFIX


def _import_captions(
    captions: list[FileEntry],
    images: list[FileEntry],
    root: Path,
    copier: _Copier,
    imported_stems: dict[str, str],
    report: ImportReport,
    progress: Progress | None,
    check_cancelled: Callable[[], None] | None,
) -> None:
    image_stems = {_stem(entry.disk_path) for entry in images}
    ordered = sorted(captions, key=lambda e: e.path)
    for done, entry in enumerate(ordered, 1):
        if check_cancelled:
            check_cancelled()
        if progress:
            progress(done, len(ordered), "Copying captions")
        source_path = root / entry.disk_path
        if entry.size > copier.max_bytes:
            why = too_large_why(entry.size, copier.max_bytes)
            report.refused.append({"path": entry.shown, "why": why})
            continue
        try:
            with open_regular(source_path) as handle:
                head = handle.read(4096)
        except OSError as exc:
            report.refused.append({"path": entry.shown, "why": unreadable_why(exc)})
            continue
        if b"\x00" in head and text_bom(head) is None:
            report.refused.append({"path": entry.shown, "why": "not a text file"})
            continue
        stem = _stem(entry.disk_path)
        if stem in imported_stems:
            wanted = caption_path_for(imported_stems[stem])
        elif stem in image_stems:
            report.refused.append({"path": entry.shown, "why": "its image was not imported"})
            continue
        else:
            wanted = entry.path  # a caption without an image: kept, and the audit says so
        destination = _place(copier.root, wanted, source_path, copier.taken)
        if destination is None:
            continue
        refusal = copier.copy(source_path, destination)
        if refusal:
            report.refused.append({"path": entry.shown, "why": refusal})
            continue
        report.captions.append(destination)
        if entry.on_disk:
            report.renamed.append({"from": entry.shown, "to": destination, "why": BAD_NAME_REASON})


def _stem(path: str) -> str:
    return PurePosixPath(path).with_suffix("").as_posix()


def _with_right_suffix(path: str, image_format: str) -> str:
    relative = PurePosixPath(path)
    accepted = ACCEPTED_SUFFIXES.get(image_format) or (CANONICAL_SUFFIX.get(image_format),)
    if relative.suffix.lower() in accepted or image_format not in CANONICAL_SUFFIX:
        return path
    if relative.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif"):
        relative = relative.with_suffix("")
    return f"{relative.as_posix()}{CANONICAL_SUFFIX[image_format]}"


def _place(dataset_root: Path, wanted: str, source_path: Path, taken: set[str]) -> str | None:
    """A free dataset path for this file: ``wanted`` itself, or ``stem-2.ext``, ``-3``…
    None when ``wanted`` already holds the same bytes."""
    candidate = PurePosixPath(wanted)
    number = 1
    while True:
        name = candidate.as_posix()
        target = safe_join(dataset_root, name)
        if name not in taken:
            if not target.exists() and not target.is_symlink():
                taken.add(name)
                return name
            if number == 1 and target.is_file() and filecmp.cmp(target, source_path, shallow=False):
                taken.add(name)
                return None
        number += 1
        candidate = PurePosixPath(wanted).with_stem(f"{PurePosixPath(wanted).stem}-{number}")


class _Copier:
    """Copies files into the dataset, remembering what it made so that an import that
    stops part way can take every one of them back."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.taken: set[str] = set()  # dataset paths this import has placed
        self._made: list[Path] = []  # files and folders, in the order they were made

    def copy(self, source: Path, destination: str) -> str | None:
        """Copy ``source`` to the dataset path ``destination``; the reason when the
        source cannot be read (or outgrew the limit since the scan), None when done.
        Only a regular file is opened, never through a link (``open_regular``); the copy
        goes through the one write path every file takes (``fsutil.atomic_writer``)."""
        target = safe_join(self.root, destination)
        try:
            reader = open_regular(source)
        except OSError as exc:
            return unreadable_why(exc)
        missing = []
        folder = target.parent
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        self._made.extend(reversed(missing))  # outermost first: taken back last
        try:
            with reader, atomic_writer(target) as writer:
                copy_limited(reader, writer, self.max_bytes)
        except TooLarge:
            return too_large_why(None, self.max_bytes)
        self._made.append(target)
        return None

    def take_back(self) -> None:
        for path in reversed(self._made):
            with contextlib.suppress(OSError):
                if path.is_dir():
                    path.rmdir()  # only when empty: a folder of the artist's stays
                else:
                    path.unlink()
