"""Unpacking what arrives over HTTP (a zip, or files dropped in the browser) into a
staging folder under the data folder, from which ``import_folder`` copies it.

Zip guards, all decided before a byte is written:
- zip slip: every entry name goes through ``safe_join`` (``../``, absolute paths,
  backslashes, NUL bytes are refused), and one bad name refuses the whole archive;
- zip bomb: the number of entries, the total uncompressed size and the compression ratio
  (per entry and overall) are capped by ``Settings``; while extracting, the bytes
  actually written are counted too, since a header can lie;
- links stored in the archive and encrypted entries are skipped and listed.
"""

from __future__ import annotations

import contextlib
import shutil
import stat
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from app.dataset.files import BAD_NAME_REASON, shown_name, utf8_name
from app.paths import UnsafePathError, safe_join
from app.settings import Settings

CHUNK = 1 << 20
# Small entries compress extremely well when they are text or flat images; the ratio is
# only a bomb signal for entries that also inflate to something large.
RATIO_MIN_BYTES = 1 << 20
LEAVES_FOLDER = "a path that leaves its folder: refused"


class ArchiveRefused(ValueError):
    """The archive is refused as a whole; the message says why."""


class UploadTooLarge(ValueError):
    pass


@dataclass
class Unpacked:
    files: int = 0
    bytes: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # path, why


def new_staging(settings: Settings) -> Path:
    folder = settings.data_dir / "staging" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def remove_staging(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


class StagingFolder:
    """A new staging folder, removed when the ``with`` block ends, whatever ends it (a
    refusal, an error), unless ``hand_over`` was called: then the import job owns it and
    removes it when done."""

    def __init__(self, settings: Settings) -> None:
        self.path = new_staging(settings)
        self._handed_over = False

    def hand_over(self) -> Path:
        self._handed_over = True
        return self.path

    def __enter__(self) -> StagingFolder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._handed_over:
            remove_staging(self.path)


def check_archive(archive: zipfile.ZipFile, staging: Path, settings: Settings) -> None:
    """Refuse the archive before extracting anything."""
    entries = archive.infolist()
    if len(entries) > settings.max_zip_entries:
        raise ArchiveRefused(
            f"The zip holds {len(entries):,} entries; loragate accepts at most "
            f"{settings.max_zip_entries:,} in one archive."
        )
    total = sum(entry.file_size for entry in entries)
    if total > settings.max_zip_uncompressed_bytes:
        raise ArchiveRefused(
            f"The zip would unpack to {_size(total)}, more than the "
            f"{_size(settings.max_zip_uncompressed_bytes)} loragate accepts. "
            "Split it into smaller archives."
        )
    compressed = sum(entry.compress_size for entry in entries)
    if total > RATIO_MIN_BYTES and total > compressed * settings.max_zip_ratio:
        raise ArchiveRefused(
            f"The zip unpacks to {total / max(compressed, 1):,.0f} times its size, which is "
            "how zip bombs behave (images barely compress). It was not unpacked."
        )
    for entry in entries:
        try:
            safe_join(staging, entry.filename)
        except UnsafePathError:
            raise ArchiveRefused(
                f"The zip contains “{entry.filename}”, a path that would be written outside "
                "the folder it is unpacked into (a “zip slip”). It was not unpacked."
            ) from None
        if (
            entry.file_size > RATIO_MIN_BYTES
            and entry.file_size > max(entry.compress_size, 1) * settings.max_zip_ratio
        ):
            raise ArchiveRefused(
                f"“{entry.filename}” in the zip unpacks to "
                f"{entry.file_size / max(entry.compress_size, 1):,.0f} times its size, which "
                "is how zip bombs behave. The zip was not unpacked."
            )


def unpack_zip(archive_path: Path | BinaryIO, staging: Path, settings: Settings) -> Unpacked:
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError):
        raise ArchiveRefused("The uploaded file is not a zip archive (or it is damaged).") from None
    except UnicodeDecodeError:
        # The archive flags its names as UTF-8 but one is not: its directory is damaged.
        raise ArchiveRefused(
            "The zip says its file names are UTF-8 text, but at least one is not, so its "
            "names cannot be read. Create the archive again (most zip tools do it right)."
        ) from None
    unpacked = Unpacked()
    with archive:
        check_archive(archive, staging, settings)
        budget = settings.max_zip_uncompressed_bytes
        for entry in archive.infolist():
            target = safe_join(staging, entry.filename)
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode):
                unpacked.skipped.append({"path": entry.filename, "why": "a link: not followed"})
                continue
            if entry.flag_bits & 0x1:
                unpacked.skipped.append({"path": entry.filename, "why": "encrypted"})
                continue
            try:
                written = _unpack_entry(archive, entry, target, min(budget, entry.file_size))
            except UploadTooLarge:
                raise ArchiveRefused(
                    f"“{entry.filename}” unpacks to more than its header announced. The zip "
                    "was not imported."
                ) from None
            except (OSError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
                # One entry that cannot be written (its name clashes with another entry's
                # folder, a damaged or unsupported entry) is skipped, not the whole zip.
                if not target.is_dir():
                    with contextlib.suppress(OSError):
                        target.unlink(missing_ok=True)
                why = _why_not_unpacked(exc, target, staging)
                unpacked.skipped.append({"path": entry.filename, "why": why})
                continue
            if written is None:
                continue  # a folder
            budget -= written
            unpacked.files += 1
            unpacked.bytes += written
    return unpacked


def _unpack_entry(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, limit: int
) -> int | None:
    """Write one entry (``open(..., "xb")``: never over another); None for a folder."""
    if entry.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(entry) as source, open(target, "xb") as output:
        return _copy_limited(source, output, limit)


def _why_not_unpacked(
    exc: BaseException, target: Path, staging: Path, *, among: str = "in the zip"
) -> str:
    """Why one entry (or uploaded file) could not be written, in plain words."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        if target.is_dir():
            return f"its name is also a folder {among}"
        inside = [parent for parent in target.parents if parent.is_relative_to(staging)]
        if any(parent.is_file() for parent in inside):
            return f"its folder has the name of a file {among}"
        return "a duplicate entry" if among == "in the zip" else "sent twice"
    if isinstance(exc, NotImplementedError):
        return "compressed with a method loragate cannot unpack"
    if isinstance(exc, OSError) and exc.strerror:
        return f"could not be written ({exc.strerror.lower()})"
    return f"damaged ({exc})"


@dataclass
class SavedUploads:
    skipped: list[dict[str, str]] = field(default_factory=list)  # path, why
    renamed: list[dict[str, str]] = field(default_factory=list)  # from, to, why


def save_uploads(
    sources: Sequence[BinaryIO], paths: Sequence[str], staging: Path, limit: int
) -> SavedUploads:
    """Write uploaded files under ``staging`` at the paths the browser gave, at most
    ``limit`` bytes in all (``UploadTooLarge`` past it). A path that is not valid UTF-8
    text gets a clean name (``utf8_name``), listed as renamed; one that leaves its folder
    or clashes with another is skipped, listed with the reason."""
    saved = SavedUploads()
    remaining = limit
    for source, path in zip(sources, paths, strict=True):
        clean = utf8_name(path)
        try:
            remaining -= save_stream(source, staging, clean, remaining)
        except UnsafePathError:
            saved.skipped.append({"path": shown_name(path), "why": LEAVES_FOLDER})
        except OSError as exc:
            target = safe_join(staging, clean)
            why = _why_not_unpacked(exc, target, staging, among="among the files sent")
            saved.skipped.append({"path": shown_name(path), "why": why})
        else:
            if clean != path:
                saved.renamed.append(
                    {"from": shown_name(path), "to": clean, "why": BAD_NAME_REASON}
                )
    return saved


def save_stream(source: BinaryIO, staging: Path, relative: str, remaining: int) -> int:
    """Write one uploaded file under ``staging`` (its path through safe_join), refusing
    to go past ``remaining`` bytes. Returns the bytes written."""
    target = safe_join(staging, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as output:
        try:
            return _copy_limited(source, output, remaining)
        except UploadTooLarge:
            output.close()
            target.unlink(missing_ok=True)
            raise


def _copy_limited(source: BinaryIO, output: BinaryIO, limit: int) -> int:
    written = 0
    while block := source.read(CHUNK):
        written += len(block)
        if written > limit:
            raise UploadTooLarge()
        output.write(block)
    return written


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} bytes"
