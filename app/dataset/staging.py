"""Unpacking what arrives over HTTP (a zip, or files dropped in the browser) into a
staging folder under the data folder, from which ``import_folder`` copies it.

Zip guards, all decided before a byte is written:
- zip slip: every entry name goes through ``safe_join`` (``../``, absolute paths,
  backslashes, NUL bytes are refused), and one bad name refuses the whole archive;
- zip bomb: the number of entries, the total uncompressed size and the compression ratio
  (per entry and overall) are capped by ``Settings``; while extracting, the bytes
  actually written are counted too, since a header can lie;
- one file: an entry (or an uploaded file) larger than ``Settings.max_file_bytes``, or
  with a name longer than a file system takes, is skipped and listed;
- links stored in the archive and encrypted entries are skipped and listed.

A staging folder is live while the process that made it holds the lock on its
``<name>.lock`` file beside it (``flock``: the kernel drops it when that process ends,
however it ends). A folder whose lock anyone can take was left by a process that died
(a ``kill -9``, a power cut) before it could remove it: ``remove_stale_staging``, run
when loragate starts, removes those and only those.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import stat
import uuid
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from app.dataset.files import BAD_NAME_REASON, shown_name, utf8_name
from app.fsutil import TooLarge, copy_limited
from app.paths import NameTooLong, UnsafePathError, safe_join
from app.settings import DEFAULT_MAX_FILE_BYTES, Settings
from app.words import human_bytes, plural

logger = logging.getLogger(__name__)
STAGING_DIRNAME = "staging"
LOCK_SUFFIX = ".lock"
# Small entries compress extremely well when they are text or flat images; the ratio is
# only a bomb signal for entries that also inflate to something large.
RATIO_MIN_BYTES = 1 << 20
LEAVES_FOLDER = "a path that leaves its folder: refused"


class ArchiveRefused(ValueError):
    """The archive is refused as a whole; the message says why."""


# The upload (all its files together) is over its limit.
UploadTooLarge = TooLarge


@dataclass
class Unpacked:
    files: int = 0
    bytes: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # path, why


def too_large_why(size: int | None, limit: int) -> str:
    """Why one file over the per-file limit (``Settings.max_file_bytes``) is refused,
    wherever it came from: a folder, a zip, an upload."""
    what = f"{human_bytes(size)}, more" if size is not None else "more"
    return (
        f"too large: {what} than the {human_bytes(limit)} one file may hold "
        "(LORAGATE_MAX_FILE_BYTES); it was not copied"
    )


def remove_staging(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.with_name(folder.name + LOCK_SUFFIX).unlink(missing_ok=True)


def _take_lock(lock_path: Path) -> BinaryIO | None:
    """The lock file, opened and locked; None when another holds its lock."""
    handle = open(lock_path, "ab")  # noqa: SIM115 (held for the folder's life)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


class StagingFolder:
    """A new staging folder, removed when the ``with`` block ends, whatever ends it (a
    refusal, an error), unless ``hand_over`` was called: then the import job owns it and
    calls ``remove`` when done. It is locked from before it exists until it is gone."""

    def __init__(self, settings: Settings) -> None:
        base = settings.data_dir / STAGING_DIRNAME
        base.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        # Lock first, then make the folder: the clean-up never sees it unlocked.
        self._lock = _take_lock(base / (name + LOCK_SUFFIX))
        self.path = base / name
        self.path.mkdir()
        self._handed_over = False

    def hand_over(self) -> StagingFolder:
        """The import job (a child process) owns the folder now: it takes the lock in
        turn (``hold_staging``) and removes the folder when done. Its job row, committed
        before this is called, keeps the clean-up away from it meanwhile."""
        self._handed_over = True
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        return self

    def remove(self) -> None:
        remove_staging(self.path)
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> StagingFolder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._handed_over:
            self.remove()


@contextmanager
def hold_staging(folder: Path | None) -> Iterator[None]:
    """Hold ``folder``'s lock while an import job (a child process) reads it. The server
    that unpacked it lets go of its own lock once the job has started, so this waits for
    that, however briefly; the clean-up never sees the folder unlocked meanwhile because
    ``remove_stale_staging`` spares the folders of jobs that are not over."""
    if folder is None:
        yield
        return
    with open(folder.with_name(folder.name + LOCK_SUFFIX), "ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def remove_stale_staging(data_dir: Path, keep: Collection[Path] = ()) -> list[str]:
    """Remove the staging folders no running process holds (left by a crash), and say
    so in the log. Returns their names. ``keep``: the folders of jobs that are not over
    (an import interrupted by a restart resumes from its folder)."""
    base = data_dir / STAGING_DIRNAME
    if not base.is_dir():
        return []
    kept = {path.name for path in keep}
    removed = []
    for folder in sorted(base.iterdir()):
        if folder.name.endswith(LOCK_SUFFIX) or not folder.is_dir() or folder.is_symlink():
            continue
        if folder.name in kept:
            continue
        lock = _take_lock(folder.with_name(folder.name + LOCK_SUFFIX))
        if lock is None:
            continue  # a live upload or import, in this process or another
        with lock:
            count, size = _contents(folder)
            remove_staging(folder)
        removed.append(folder.name)
        logger.warning(
            "Removed the staging folder %s (%s, %s), left by an upload that ended without "
            "cleaning up (loragate was stopped hard or crashed while unpacking or importing).",
            folder,
            plural(count, "file"),
            human_bytes(size),
        )
    return removed


def _contents(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``, links not followed."""
    count = size = 0
    for directory, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(directory, name)).st_size
                count += 1
    return count, size


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
            f"The zip would unpack to {human_bytes(total)}, more than the "
            f"{human_bytes(settings.max_zip_uncompressed_bytes)} loragate accepts. "
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
        except NameTooLong:
            continue  # this entry alone is skipped, with the limit named
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
            try:
                target = safe_join(staging, entry.filename)
            except NameTooLong as exc:
                unpacked.skipped.append({"path": entry.filename, "why": str(exc)})
                continue
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode):
                unpacked.skipped.append({"path": entry.filename, "why": "a link: not followed"})
                continue
            if entry.flag_bits & 0x1:
                unpacked.skipped.append({"path": entry.filename, "why": "encrypted"})
                continue
            if entry.file_size > settings.max_file_bytes:
                why = too_large_why(entry.file_size, settings.max_file_bytes)
                unpacked.skipped.append({"path": entry.filename, "why": why})
                continue
            try:
                # The header's size is a limit too: an entry that inflates past it lies.
                written = _unpack_entry(archive, entry, target, min(budget, entry.file_size))
            except TooLarge:
                raise ArchiveRefused(
                    f"“{entry.filename}” unpacks to more than its header announced. The zip "
                    "was not imported."
                ) from None
            except (OSError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
                # One entry that cannot be written (its name clashes with another entry's
                # folder, a damaged or unsupported entry) is skipped, not the whole zip.
                with contextlib.suppress(OSError):
                    if not target.is_dir():
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
        return copy_limited(source, output, limit)


def _why_not_unpacked(
    exc: BaseException, target: Path, staging: Path, *, among: str = "in the zip"
) -> str:
    """Why one entry (or uploaded file) could not be written, in plain words. Never
    raises: ``is_dir`` and ``is_file`` raise on a name the system refuses."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        if _is(target, stat.S_ISDIR):
            return f"its name is also a folder {among}"
        inside = [parent for parent in target.parents if parent.is_relative_to(staging)]
        if any(_is(parent, stat.S_ISREG) for parent in inside):
            return f"its folder has the name of a file {among}"
        return "a duplicate entry" if among == "in the zip" else "sent twice"
    if isinstance(exc, NotImplementedError):
        return "compressed with a method loragate cannot unpack"
    if isinstance(exc, OSError) and exc.strerror:
        return f"could not be written ({exc.strerror.lower()})"
    return f"damaged ({exc})"


def _is(path: Path, kind: Callable[[int], bool]) -> bool:
    try:
        return kind(path.lstat().st_mode)
    except OSError:
        return False


@dataclass
class SavedUploads:
    skipped: list[dict[str, str]] = field(default_factory=list)  # path, why
    renamed: list[dict[str, str]] = field(default_factory=list)  # from, to, why


def save_uploads(
    sources: Sequence[BinaryIO],
    paths: Sequence[str],
    staging: Path,
    limit: int,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> SavedUploads:
    """Write uploaded files under ``staging`` at the paths the browser gave, at most
    ``limit`` bytes in all (``UploadTooLarge`` past it). A path that is not valid UTF-8
    text gets a clean name (``utf8_name``), listed as renamed; one that leaves its folder
    or clashes with another, or a file over ``max_file_bytes``, is skipped, listed with
    the reason."""
    saved = SavedUploads()
    remaining = limit
    for source, path in zip(sources, paths, strict=True):
        clean = utf8_name(path)
        per_file = min(remaining, max_file_bytes)
        try:
            remaining -= save_stream(source, staging, clean, per_file)
        except TooLarge:
            if per_file == remaining:
                raise
            why = too_large_why(None, max_file_bytes)
            saved.skipped.append({"path": shown_name(path), "why": why})
        except NameTooLong as exc:
            saved.skipped.append({"path": shown_name(path), "why": str(exc)})
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
    to go past ``remaining`` bytes (``TooLarge``). Returns the bytes written."""
    target = safe_join(staging, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as output:
        try:
            return copy_limited(source, output, remaining)
        except TooLarge:
            output.close()
            target.unlink(missing_ok=True)
            raise
