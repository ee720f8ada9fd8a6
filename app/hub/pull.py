"""Downloading a catalogue model into huggingface_hub's cache, resumably and verified.

Everything goes through huggingface_hub: ``get_hf_file_metadata`` asks the hub (or the
mirror ``HF_ENDPOINT`` names) for each file's commit, size and hash, ``http_get``
fetches the bytes, and ``hf_hub_download`` links the finished blobs into the cache's
own layout (``blobs/``, ``snapshots/<commit>/``, ``refs/``) under ``HF_HOME``. The login
token is the one ``huggingface-cli login`` stored; loragate never keeps one.

Why not ``hf_hub_download`` alone: since huggingface_hub 1.x it writes each download to
a file named for that process and deletes it when the process fails, so a download
killed at 20 of 24 GB starts again from nothing (huggingface_hub PR #4228). Here the
partial file has a stable name, ``blobs/<sha256>.incomplete`` (the cache's layout
before that change), and ``http_get`` continues it with an HTTP Range request — after a
lost connection (it retries by itself) and after a kill (the next pull).

Checks, in order: a model already in the cache is used without any request; offline
mode (``HF_HUB_OFFLINE``) refuses a download plainly; free disk against the
catalogue's sizes less what is already on disk (finished files, partial ones) before
any request, then against the hub's sizes before the first byte; gated or private repositories are explained with their page; after each file,
its SHA-256 against the hub's LFS hash (git's blob hash for small files), deleting a
file that does not match.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huggingface_hub import (
    constants,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get, repo_folder_name
from huggingface_hub.utils import build_hf_headers

from app.hub.catalogue import HUB_PAGE, CatalogueEntry, HubFile
from app.words import human_bytes

Progress = Callable[[int, int | None, str | None], None]
ShouldCancel = Callable[[], bool]

# huggingface_hub hands over downloaded bytes in chunks of this size: a kill loses at
# most one chunk, and progress moves at least this often (its default is 10 MB).
CHUNK_BYTES = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")
LOGIN_HINT = "log in with `huggingface-cli login`"


class PullError(ValueError):
    """A model cannot be downloaded; the message says why and what to do."""


class PullCancelled(Exception):
    """The artist cancelled; the partial file is kept for the next pull."""


@dataclass(frozen=True)
class Pulled:
    entry: CatalogueEntry
    path: Path  # a base model's checkpoint file; a captioner's snapshot folder
    commit: str  # the commit the files came from: the hub's answer where "main" was asked
    downloaded: int  # bytes fetched this time; 0 when everything came from the cache
    parts: dict[str, Path] = field(default_factory=dict)  # a base model's companion files


def hub_cache() -> Path:
    """huggingface_hub's cache folder (``HF_HUB_CACHE``, else ``HF_HOME``/hub)."""
    return Path(constants.HF_HUB_CACHE).expanduser()


def repo_folder(repo: str, cache: Path) -> Path:
    return cache / repo_folder_name(repo_id=repo, repo_type="model")


def storage_folder(entry: CatalogueEntry, cache: Path) -> Path:
    return repo_folder(entry.repo, cache)


def _cached(entry: CatalogueEntry, item: HubFile, cache: Path) -> Path | None:
    path = try_to_load_from_cache(
        entry.repo_of(item), item.name, cache_dir=cache, revision=entry.revision_of(item)
    )
    return Path(path) if isinstance(path, str) else None


def cached_files(entry: CatalogueEntry, cache: Path) -> dict[HubFile, Path] | None:
    """Every file of the entry at its revision, from the cache alone; None when one is
    missing. Reads the disk only."""
    found = {}
    for item in entry.files:
        path = _cached(entry, item, cache)
        if path is None:
            return None
        found[item] = path
    return found


def arrived_bytes(entry: CatalogueEntry, cache: Path) -> int:
    """What of the entry is already on this disk, from the disk alone: its files in the
    cache (at the catalogue's sizes) and the partial downloads in its repositories'
    ``blobs/*.incomplete``, which the next pull continues rather than fetches again."""
    arrived = sum(item.size for item in entry.files if _cached(entry, item, cache))
    for repo in {entry.repo_of(item) for item in entry.files}:
        blobs = repo_folder(repo, cache) / "blobs"
        if blobs.is_dir():
            arrived += sum(partial.stat().st_size for partial in blobs.glob("*.incomplete"))
    return arrived


def snapshot_commit(entry: CatalogueEntry, cache: Path, path: Path) -> str:
    relative = path.relative_to(storage_folder(entry, cache) / "snapshots")
    return relative.parts[0]


def _pulled(entry: CatalogueEntry, cache: Path, paths: dict[HubFile, Path], fetched: int) -> Pulled:
    first = paths[entry.files[0]]
    commit = snapshot_commit(entry, cache, first)
    if entry.kind == "captioner":
        where = storage_folder(entry, cache) / "snapshots" / commit
    else:
        where = first
    parts = {item.part: paths[item] for item in entry.parts}
    return Pulled(entry, where, commit, fetched, parts)


def _free_bytes(folder: Path) -> tuple[Path, int]:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing, shutil.disk_usage(existing).free


def check_space(entry: CatalogueEntry, needed: int, cache: Path) -> None:
    """Refuse before a byte is written when the cache's disk cannot hold what is left."""
    where, free = _free_bytes(cache)
    if needed > free:
        raise PullError(
            f"Not enough disk space for {entry.title}: it needs {human_bytes(needed)} more, "
            f"and the disk that holds {cache} has {human_bytes(free)} free (checked at "
            f"{where}). Free some space, or point HF_HOME at a larger disk, then download "
            "again. Nothing was downloaded."
        )


def _partial(blob: Path) -> Path:
    return blob.with_name(blob.name + ".incomplete")


def _bytes_on_disk(storage: Path, etag: str) -> int:
    blob = storage / "blobs" / etag
    if blob.exists():
        return blob.stat().st_size
    partial = _partial(blob)
    return partial.stat().st_size if partial.exists() else 0


def _explain(entry: CatalogueEntry, exc: Exception, repo: str = "") -> PullError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    repo = repo or entry.repo
    if isinstance(exc, GatedRepoError) or (entry.gated and status in (401, 403)):
        return PullError(
            f"{entry.title} is gated: its makers ask everyone to accept their licence "
            f"({entry.licence}) before downloading. Open {entry.page}, accept the terms "
            f"while logged in, then {LOGIN_HINT} on this computer and download again. "
            "loragate uses that login and never stores your token."
        )
    if isinstance(exc, RepositoryNotFoundError) or status in (401, 403):
        return PullError(
            f"The hub refused {repo} (HTTP {status}): the repository is private, "
            f"gated or gone. Check {HUB_PAGE}/{repo}; if it asks you to accept terms or log "
            f"in, do so, then {LOGIN_HINT} and download again."
        )
    if isinstance(exc, RevisionNotFoundError):
        return PullError(
            f"The hub has no revision {entry.revision} of {repo}: the catalogue "
            "pins a commit the repository no longer has."
        )
    if isinstance(exc, EntryNotFoundError):
        return PullError(f"{repo} has no file the catalogue names: {exc}")
    if isinstance(exc, OfflineModeIsEnabled):
        return PullError(_offline_message(entry))
    if isinstance(exc, HfHubHTTPError):
        return PullError(f"The hub answered with an error for {repo}: {exc}")
    return PullError(
        f"The hub cannot be reached ({type(exc).__name__}: {exc}). Check the connection "
        "(and HF_ENDPOINT if you use a mirror), then download again: what arrived is kept."
    )


def _offline_message(entry: CatalogueEntry) -> str:
    return (
        f"{entry.title} is not in the Hugging Face cache ({hub_cache()}) and downloads "
        "are switched off (HF_HUB_OFFLINE is set). Unset HF_HUB_OFFLINE to download it, "
        "or copy the model onto this computer and give its path."
    )


def _metadata(entry: CatalogueEntry, item: HubFile, revision: str, headers: dict[str, str]) -> Any:
    url = hf_hub_url(entry.repo_of(item), item.name, revision=revision)
    try:
        return get_hf_file_metadata(url, headers=headers)
    except Exception as exc:  # every failure is explained to the artist
        raise _explain(entry, exc, entry.repo_of(item)) from None


def file_digest(path: Path, etag: str) -> str | None:
    """The file's hash in the hub's form: SHA-256 for LFS files (their etag), git's
    blob SHA-1 for small files kept in git; None for an etag of neither form."""
    if _SHA256.match(etag):
        digest = hashlib.sha256()
    elif _GIT_SHA1.match(etag):
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(f"blob {path.stat().st_size}\0".encode())
    else:
        return None
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(repo: str, name: str, path: Path, etag: str) -> None:
    """Delete ``path`` and say so unless it hashes to the hub's ``etag``."""
    actual = file_digest(path, etag)
    if actual == etag:
        return
    path.unlink(missing_ok=True)
    if actual is None:
        raise PullError(
            f"The hub gave no checksum loragate can check for {name} of {repo} "
            f"(its etag is “{etag}”), so the download was deleted. Is HF_ENDPOINT a "
            "Hugging Face-compatible mirror?"
        )
    raise PullError(
        f"The downloaded {name} of {repo} does not match the hub's checksum "
        f"(expected SHA {etag}, got {actual}); the file was deleted. Download it again; "
        "if this repeats, something between you and the hub changes the data."
    )


def _bar_class(report: Callable[[int], None], should_cancel: ShouldCancel) -> type:
    """A tqdm stand-in for ``http_get``: each chunk it receives is reported (bytes of
    this file so far), and Cancel stops the download between chunks."""

    class Bar:
        def __init__(self, *, initial: int = 0, **_: Any) -> None:
            self.n = initial

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *_: object) -> None:
            return None

        def update(self, count: int) -> None:
            self.n += count
            report(self.n)
            if should_cancel():
                raise PullCancelled()

        def close(self) -> None:
            return None

    return Bar


def _fetch(
    entry: CatalogueEntry,
    item: HubFile,
    meta: Any,
    storage: Path,
    headers: dict[str, str],
    report: Callable[[int], None],
    should_cancel: ShouldCancel,
) -> int:
    """The file's blob in the cache, continuing a partial one; bytes fetched."""
    blob = storage / "blobs" / meta.etag
    if blob.exists():
        return 0
    blob.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(blob)
    resume = partial.stat().st_size if partial.exists() else 0
    if meta.size is not None and resume > meta.size:
        partial.unlink()
        resume = 0
    request_headers = dict(headers)
    url = hf_hub_url(entry.repo_of(item), item.name, revision=meta.commit_hash)
    if urlparse(meta.location).netloc != urlparse(url).netloc:
        # A signed CDN address: the hub token stays with the hub (as huggingface_hub does).
        request_headers.pop("authorization", None)
    constants.DOWNLOAD_CHUNK_SIZE = min(constants.DOWNLOAD_CHUNK_SIZE, CHUNK_BYTES)
    try:
        with partial.open("ab") as handle:
            http_get(
                meta.location,
                handle,
                resume_size=resume,
                headers=request_headers,
                expected_size=meta.size,
                displayed_filename=item.name,
                tqdm_class=_bar_class(report, should_cancel),
            )
    except PullCancelled:
        raise
    except OSError as exc:
        if "Consistency check failed" in str(exc):
            partial.unlink(missing_ok=True)
            raise PullError(
                f"{item.name} of {entry.repo_of(item)} arrived with the wrong size and was "
                "deleted: download it again."
            ) from None
        raise _explain(entry, exc, entry.repo_of(item)) from None
    except Exception as exc:
        raise _explain(entry, exc, entry.repo_of(item)) from None
    verify(entry.repo_of(item), item.name, partial, meta.etag)
    partial.chmod(0o644)
    os.replace(partial, blob)
    return (meta.size or blob.stat().st_size) - resume


def pull(
    entry: CatalogueEntry,
    progress: Progress | None = None,
    should_cancel: ShouldCancel | None = None,
) -> Pulled:
    """The entry's files in the hub cache: found there, or downloaded (resuming what an
    earlier pull left) and verified. Raises PullError with the reason, or PullCancelled."""
    report_progress: Progress = progress or (lambda done, total=None, message=None: None)
    cancelled: ShouldCancel = should_cancel or (lambda: False)
    cache = hub_cache()
    found = cached_files(entry, cache)
    if found is not None:
        return _pulled(entry, cache, found, 0)
    if constants.is_offline_mode():
        raise PullError(_offline_message(entry))
    # The catalogue's sizes less what an earlier pull left, before any request: a full
    # disk is refused at once, and a download that was killed near its end resumes.
    check_space(entry, max(0, entry.size - arrived_bytes(entry, cache)), cache)
    headers = build_hf_headers()
    report_progress(0, entry.size, f"Asking the hub about {entry.title}")
    revisions: dict[str, str] = {}
    plans = []
    for item in entry.files:
        repo = entry.repo_of(item)
        meta = _metadata(entry, item, revisions.get(repo, entry.revision_of(item)), headers)
        revisions[repo] = meta.commit_hash  # a repository's files from one commit
        plans.append((item, meta, repo_folder(repo, cache)))
    total = sum(meta.size or item.size for item, meta, _storage in plans)
    already = sum(_bytes_on_disk(storage, meta.etag) for _item, meta, storage in plans)
    check_space(entry, total - already, cache)
    fetched = 0
    done_before = 0
    for item, meta, storage in plans:
        start = done_before + 0
        message = f"Downloading {item.name}"

        def report(file_done: int, start: int = start, message: str = message) -> None:
            report_progress(start + file_done, total, message)

        report(_bytes_on_disk(storage, meta.etag))
        fetched += _fetch(entry, item, meta, storage, headers, report, cancelled)
        done_before += meta.size or item.size
    report_progress(total, total, "Linking the files into the cache")
    paths = {
        item: Path(
            hf_hub_download(entry.repo_of(item), item.name, revision=entry.revision_of(item))
        )
        for item in entry.files
    }
    return _pulled(entry, cache, paths, fetched)
