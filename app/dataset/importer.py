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
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image, UnidentifiedImageError

from app.dataset.analyze import describe_content
from app.dataset.files import (
    BAD_NAME_REASON,
    CAPTION_SUFFIX,
    FileEntry,
    caption_path_for,
    scan_folder,
    shown_name,
)
from app.dataset.pillow_guard import BOMB_ERRORS, bomb_guard
from app.dataset.sidecar import text_bom
from app.paths import is_inside, safe_join
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
            parts.append(f"{len(self.junk)} junk files ignored")
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
    kind: str  # image | bomb | empty | not_image
    format: str = ""
    detail: str = ""


def identify(path: Path, max_pixels: int) -> Identified:
    """What a file is, from its first bytes and its header (pixels are not decoded)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        return Identified("not_image", detail=f"unreadable ({exc.strerror})")
    if not head:
        return Identified("empty", detail="an empty file")
    with bomb_guard():
        try:
            with Image.open(path) as image:
                if image.width * image.height > max_pixels:
                    return Identified(
                        "bomb", image.format or "", f"claims {image.width}×{image.height} pixels"
                    )
                return Identified("image", image.format or "")
        except BOMB_ERRORS:
            return Identified("bomb", detail="claims more pixels than the limit")
        except UnidentifiedImageError:
            return Identified("not_image", detail=describe_content(head))
        except Exception as exc:
            return Identified("not_image", detail=f"a damaged image header ({exc})")


def validate_source(source: str | Path, dataset_root: Path) -> Path:
    text = str(source).strip()
    if not text:
        raise ImportRefused("Type the full path of the folder that holds your images.")
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise ImportRefused(
            f"“{text}” is not a full path. Give the whole path of the folder on this "
            "computer, for example /home/you/pictures/mira."
        )
    if not path.exists():
        raise ImportRefused(
            f"Nothing exists at {path}. Check the path (it is read on this computer)."
        )
    if not path.is_dir():
        raise ImportRefused(
            f"{path} is a file, not a folder. Give the folder that holds it, or upload a zip."
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
    label: str | None = None,
    progress: Progress | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> ImportReport:
    """Copy every image and caption of ``source`` into ``dataset_root``. A file whose
    name is not valid UTF-8 is copied under a clean name (``files.utf8_name``), listed
    in ``renamed`` with the reason."""
    dataset_root.mkdir(parents=True, exist_ok=True)
    root = validate_source(source, dataset_root)
    scan = scan_folder(root)
    report = ImportReport(source=label or shown_name(str(root)), junk=list(scan.junk))
    for link in scan.links:
        why = (
            "a link to a file outside the folder: refused, not followed"
            if not link.inside
            else "a link to another file of the folder, which is imported itself"
        )
        report.refused.append({"path": link.path, "why": why})
    images = [*scan.files, *(e for e in scan.misnamed if not _is_caption(e.path))]
    captions = [*scan.captions.values(), *(e for e in scan.misnamed if _is_caption(e.path))]
    taken: set[str] = set()
    # Source file (by its name on disk, without suffix) → its dataset path: captions pair
    # with images the way trainers pair them, by the names on disk.
    imported_stems: dict[str, str] = {}
    total = len(images) + len(captions)
    done = 0
    for entry in images:
        if check_cancelled:
            check_cancelled()
        done += 1
        if progress:
            progress(done, total, "Copying images")
        source_path = root / entry.disk_path
        found = identify(source_path, max_pixels)
        if found.kind != "image":
            why = {
                "empty": "an empty file",
                "bomb": f"{found.detail} (a decompression bomb)",
            }.get(found.kind, f"not an image: {found.detail}")
            report.refused.append({"path": entry.shown, "why": why})
            continue
        wanted = _with_right_suffix(entry.path, found.format)
        destination = _place(dataset_root, wanted, source_path, taken)
        if destination is None:
            report.unchanged.append(wanted)
            imported_stems[_stem(entry.disk_path)] = wanted
            continue
        _copy(source_path, safe_join(dataset_root, destination))
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
    _import_captions(captions, images, root, dataset_root, imported_stems, taken, report)
    if progress:
        progress(total, total, "Copied")
    return report


def _is_caption(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() == CAPTION_SUFFIX


def _import_captions(
    captions: list[FileEntry],
    images: list[FileEntry],
    root: Path,
    dataset_root: Path,
    imported_stems: dict[str, str],
    taken: set[str],
    report: ImportReport,
) -> None:
    image_stems = {_stem(entry.disk_path) for entry in images}
    for entry in sorted(captions, key=lambda e: e.path):
        source_path = root / entry.disk_path
        with open(source_path, "rb") as handle:
            head = handle.read(4096)
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
        destination = _place(dataset_root, wanted, source_path, taken)
        if destination is None:
            continue
        _copy(source_path, safe_join(dataset_root, destination))
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


def _copy(source: Path, target: Path) -> None:
    """Copy without following a link (O_NOFOLLOW: a file swapped for a link after the scan
    is refused) into a temporary file, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    handle, temporary = tempfile.mkstemp(prefix=".import-", dir=target.parent)
    try:
        with os.fdopen(descriptor, "rb") as reader, os.fdopen(handle, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
