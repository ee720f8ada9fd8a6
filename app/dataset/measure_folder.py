"""Measuring every file of a folder, fast: cached files are skipped, the rest are
analysed in a process pool across the machine's cores, and only exact-duplicate
candidates get the full decode their pixel hash needs.

The pool uses the ``forkserver`` start method: the web server that runs audits is
multi-threaded, and forking a threaded process can deadlock on a lock another thread
held. The fork server imports the analysis code once; every worker forks from it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

import numpy as np

from app.dataset import measure_worker
from app.dataset.cache import AuditedFile, MetricsCache
from app.dataset.duplicates import close_pairs, group_pairs, hex_to_int
from app.dataset.files import FileEntry
from app.paths import safe_join
from app.settings import DEFAULT_MAX_FILE_BYTES

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
CheckCancelled = Callable[[], None]

# Below this many files the pool's start-up costs more than it saves.
INLINE_LIMIT = 8
CHUNK = 4  # files per task: enough to amortise the round trip, small enough to balance
STORE_EVERY = 0.5  # seconds between cache writes, so a cancelled audit keeps its work
MAX_WORKERS = 8
# How far apart the hashes of two files with the same pixels can land (measured: up to 4
# bits between JPEGs and their PNG exports), with a wide margin: a false candidate only
# costs one full decode.
EXACT_CANDIDATE_BITS = 12


def default_workers() -> int:
    """One worker per core this process may run on (its CPU affinity), at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


@cache
def _pool_context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([measure_worker.__name__])
    return context


@dataclass
class MeasureCounts:
    cached: int = 0  # unchanged since the last audit: not read at all
    reused: int = 0  # read and hashed, but that content was measured before
    measured: int = 0  # decoded and measured now
    pixel_hashed: int = 0  # fully decoded to compare pixels (duplicate candidates)


def measure(
    root: Path,
    entries: Sequence[FileEntry],
    cache: MetricsCache,
    *,
    max_pixels: int,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
    progress: Progress | None = None,
    check_cancelled: CheckCancelled | None = None,
    counts: MeasureCounts | None = None,
) -> dict[str, AuditedFile]:
    """Measurements of every entry, from the cache where it is current. A file that
    could not be read is not cached: giving access back does not change its mtime."""
    counts = counts if counts is not None else MeasureCounts()
    report = progress or (lambda done, total, message: None)
    stop = check_cancelled or (lambda: None)
    results: dict[str, AuditedFile] = {}
    todo: list[FileEntry] = []
    for entry in entries:
        hit = cache.lookup(entry)
        if hit is not None:
            results[entry.path] = hit
        else:
            todo.append(entry)
    total = len(entries)
    counts.cached = len(results)
    report(len(results), total, f"Checking {len(todo)} new or changed files")
    known = cache.known_sha256()
    pending: list[AuditedFile] = []
    last_store = time.monotonic()
    paths = [str(safe_join(root, entry.path)) for entry in todo]
    for entry, outcome in zip(
        todo,
        _run(measure_worker.analyze_batch, paths, (max_pixels, max_bytes), workers, stop, (known,)),
        strict=True,
    ):
        metrics = outcome["metrics"]
        if metrics is None:  # the same bytes were measured before under another name
            metrics = cache.by_sha256(outcome["sha256"]) or {}
            counts.reused += 1
        else:
            counts.measured += 1
        audited = AuditedFile(entry.path, entry.size, entry.mtime_ns, outcome["sha256"], metrics)
        results[entry.path] = audited
        if metrics.get("kind") != "unreadable":
            pending.append(audited)
        if time.monotonic() - last_store >= STORE_EVERY:
            cache.store(pending)
            pending, last_store = [], time.monotonic()
        report(len(results), total, "Checking images")
    cache.store(pending)
    counts.pixel_hashed = _pixel_hashes(root, results, cache, max_pixels, workers, report, stop)
    return results


def duplicate_candidates(results: dict[str, AuditedFile]) -> list[list[AuditedFile]]:
    """Sets of decodable images of the same size whose hashes are within
    ``EXACT_CANDIDATE_BITS``: the only ones that can hold exactly the same pixels.

    Not "the same hashes": the same pixels are measured along different paths (a JPEG
    from a reduced draft decode, its lossless PNG export from a full decode and a
    shrink), and their hashes land a few bits apart."""
    by_size: dict[tuple[Any, ...], list[AuditedFile]] = {}
    for audited in results.values():
        metrics = audited.metrics
        if audited.is_image and metrics.get("phash") and metrics.get("dhash"):
            by_size.setdefault((metrics["width"], metrics["height"]), []).append(audited)
    candidates = []
    for files in by_size.values():
        if len(files) < 2 or len({f.sha256 for f in files}) < 2:
            continue
        phashes = np.array([hex_to_int(f.metrics["phash"]) for f in files], dtype=np.uint64)
        dhashes = np.array([hex_to_int(f.metrics["dhash"]) for f in files], dtype=np.uint64)
        pairs = close_pairs(phashes, dhashes, EXACT_CANDIDATE_BITS)
        for group in group_pairs(len(files), pairs):
            members = [files[i] for i in group]
            if len({f.sha256 for f in members}) > 1:
                candidates.append(members)
    return candidates


def _pixel_hashes(
    root: Path,
    results: dict[str, AuditedFile],
    cache: MetricsCache,
    max_pixels: int,
    workers: int | None,
    report: Progress,
    stop: CheckCancelled,
) -> int:
    missing = [f for group in duplicate_candidates(results) for f in group if not f.pixel_sha256]
    if not missing:
        return 0
    report(0, len(missing), "Comparing the pixels of possible exact duplicates")
    paths = [str(safe_join(root, f.path)) for f in missing]
    for done, (audited, digest) in enumerate(
        zip(
            missing,
            _run(measure_worker.pixel_batch, paths, (max_pixels,), workers, stop, None),
            strict=True,
        ),
        1,
    ):
        audited.pixel_sha256 = digest
        report(done, len(missing), "Comparing the pixels of possible exact duplicates")
    cache.store(missing)
    return len(missing)


def _run(
    function: Callable[..., list[Any]],
    paths: list[str],
    args: tuple[Any, ...],
    workers: int | None,
    stop: CheckCancelled,
    init_args: tuple[Any, ...] | None,
) -> Iterator[Any]:
    """``function`` over ``paths`` in chunks, results in input order, in a process pool
    unless the job is small (or the pool cannot start: then in this process)."""
    workers = workers or default_workers()
    if workers <= 1 or len(paths) <= INLINE_LIMIT:
        yield from _inline(function, paths, args, stop, init_args)
        return
    chunks = [paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK)]
    finished = 0
    try:
        executor = ProcessPoolExecutor(
            max_workers=min(workers, len(chunks)),
            mp_context=_pool_context(),
            initializer=measure_worker.init_worker if init_args is not None else None,
            initargs=init_args or (),
        )
        try:
            with _ctrl_c_for_this_process_only():  # the workers start in submit()
                futures: list[Future[list[Any]]] = [
                    executor.submit(function, chunk, *args) for chunk in chunks
                ]
            for future in futures:
                while True:
                    stop()
                    done, _ = wait([future], timeout=0.2, return_when=FIRST_COMPLETED)
                    if done:
                        break
                results = future.result()
                finished += 1
                yield from results
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
    except BrokenProcessPool:
        # A worker died (killed by the OOM killer, or a host that cannot start worker
        # processes): finish here rather than lose the audit.
        logger.warning("the audit's process pool broke; continuing in this process")
        rest = [path for chunk in chunks[finished:] for path in chunk]
        yield from _inline(function, rest, args, stop, init_args)


@contextmanager
def _ctrl_c_for_this_process_only() -> Iterator[None]:
    """Processes started inside (the fork server, the workers) inherit a blocked SIGINT.
    Ctrl-C reaches a terminal's whole process group: this process stops and shuts the
    pool down, instead of every worker, and a fork server still starting, dying with a
    traceback of its own."""
    # Started first: starting it unblocks SIGINT (SIG_UNBLOCK, not a restore), which
    # would undo the block below for the fork server started after it.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _inline(
    function: Callable[..., list[Any]],
    paths: list[str],
    args: tuple[Any, ...],
    stop: CheckCancelled,
    init_args: tuple[Any, ...] | None,
) -> Iterator[Any]:
    if init_args is not None:
        measure_worker.init_worker(*init_args)
    try:
        for path in paths:
            stop()
            yield from function([path], *args)
    finally:
        measure_worker.init_worker(frozenset())
