"""A run's events: one stream over all of its jobs (a resume or a relaunch after an
answer is a new job of the same run), and the history the run page draws first.

The SSE stream works as a job's (app/worker/stream.py): stored events after an id
first, then the live tail as the supervisor stores them; ids are event row ids, so a
reconnecting client (Last-Event-ID) gets exactly what it missed. It ends after the end
event of the run's newest job.

The history is what the charts need, downsampled on the server (``MAX_POINTS``):
100,000 stored steps are read by SQLite's own JSON functions and sent as a few
thousand points; the stream then continues after the newest event id the history
included. Nothing stored is thinned.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from app.db import Database
from app.models import Run
from app.worker import FINISHED_STATES, Worker
from app.worker.eventfile import END

BATCH = 20000
POLL = 0.02
RECHECK = 1.0
MAX_POINTS = 4000
STEP_FIELDS = ("step", "loss", "smoothed_loss", "vram_used_gb", "lr")


def _in(ids: list[int]) -> str:
    return ",".join("?" * len(ids)) or "NULL"


def _query(db: Database, sql: str, params: list[Any]) -> list[Any]:
    with db.reading() as session:
        connection = session.connection().connection.dbapi_connection
        return connection.cursor().execute(sql, params).fetchall()  # type: ignore[union-attr]


def _rows(worker: Worker, sql: str, params: list[Any]) -> list[Any]:
    return _query(worker.db, sql, params)


@dataclass(frozen=True)
class LossSeries:
    values: list[float | None]  # None: a step whose loss was not a finite number
    # The trainer's running average, not each step's loss: sd-scripts prints only its
    # avr_loss, so a kohya run stores no per-step loss.
    smoothed: bool = False


def step_losses(db: Database, run: Run, limit: int = 100_000) -> LossSeries:
    """The stored steps' losses of the run, in step order, all of its jobs together (at
    most ``limit``, the first ones): what diagnosis reads the loss curve's shape from.
    The smoothed loss stands in when no step stored a loss of its own. None for a loss
    that was not a finite number (written as NaN or Infinity, which SQLite's JSON
    functions refuse to read, or as the text "nan" by an import, or the step the run
    was stopped at for a non-finite loss); steps without a loss are left out."""
    ids = list(run.job_ids)
    sql = (
        "SELECT json_valid(data), "
        + ", ".join(
            f"CASE WHEN json_valid(data) THEN json_extract(data, '$.{name}') END"
            for name in ("loss", "smoothed_loss")
        )
        + f" FROM jobevent WHERE job_id IN ({_in(ids)}) AND type = 'step' ORDER BY id LIMIT ?"
    )
    rows = _query(db, sql, [*ids, limit])
    smoothed = all(loss is None for valid, loss, _ in rows if valid)
    losses: list[float | None] = []
    for valid, loss, average in rows:
        value = average if smoothed else loss
        if not valid:
            losses.append(None)
        elif isinstance(value, int | float):
            losses.append(float(value) if math.isfinite(value) else None)
        elif isinstance(value, str):
            losses.append(None)
    # A loss that went NaN is stored as null (strict_json), like a step that printed
    # none: the supervisor's verdict says which, and the series ends where it stopped.
    stopped = _query(
        db,
        f"SELECT 1 FROM jobevent WHERE job_id IN ({_in(ids)}) AND type = 'run' "
        "AND json_valid(data) AND json_extract(data, '$.kind') = 'nan' LIMIT 1",
        ids,
    )
    if stopped and len(losses) < limit:
        losses.append(None)
    return LossSeries(losses, smoothed and bool(losses))


def frames_after(worker: Worker, job_ids: list[int], after: int, limit: int) -> list[Any]:
    """(id, job_id, type, SSE frame) of the run's events after ``after``."""
    sql = (
        "SELECT id, job_id, type, 'id: ' || id || char(10) || 'event: ' || type || char(10) || "
        "'data: ' || data || char(10) || char(10) FROM jobevent "
        f"WHERE job_id IN ({_in(job_ids)}) AND id > ? ORDER BY id LIMIT ?"
    )
    return _rows(worker, sql, [*job_ids, after, limit])


def events_after(worker: Worker, job_ids: list[int], after: int, limit: int) -> list[Any]:
    """(id, job_id, type, JSON text) of the run's events after ``after``."""
    sql = (
        "SELECT id, job_id, type, data FROM jobevent "
        f"WHERE job_id IN ({_in(job_ids)}) AND id > ? ORDER BY id LIMIT ?"
    )
    return _rows(worker, sql, [*job_ids, after, limit])


async def run_stream(
    worker: Worker, read_run: Callable[[], Run | None], after: int = 0
) -> AsyncIterator[bytes]:
    last = after
    while True:
        version = worker.supervisor.version
        run = await anyio.to_thread.run_sync(read_run)
        if run is None or not run.job_ids:
            return
        rows = await anyio.to_thread.run_sync(frames_after, worker, run.job_ids, last, BATCH)
        if rows:
            yield "".join(row[3] for row in rows).encode()
            last = rows[-1][0]
            if any(row[2] == END and row[1] == run.job_ids[-1] for row in rows):
                return
            continue
        job = await anyio.to_thread.run_sync(worker.get, run.job_ids[-1])
        if job is None or job.state in FINISHED_STATES:
            # The end may have been committed between the two reads (app/worker/stream.py).
            if await anyio.to_thread.run_sync(frames_after, worker, run.job_ids, last, 1):
                continue
            return
        deadline = time.monotonic() + RECHECK
        while worker.supervisor.version == version and time.monotonic() < deadline:
            await anyio.sleep(POLL)


def _stride(count: int, max_points: int) -> int:
    """Steps per bucket: each bucket draws at most four points."""
    return max(1, -(-count // max(1, max_points // 4)))


def _drawn_sql(ids: list[int]) -> str:
    """The step rows that are drawn: in each bucket of ``stride`` consecutive steps its
    first and last, and those with the lowest and highest loss (the smoothed loss where
    a trainer prints no other), so a spike or a dip of a single step still shows."""
    columns = ", ".join(
        f"CASE WHEN json_valid(data) THEN json_extract(data, '$.{name}') END"
        for name in STEP_FIELDS
    )
    loss = (
        "CASE WHEN json_valid(data) THEN "
        "coalesce(json_extract(data, '$.loss'), json_extract(data, '$.smoothed_loss')) END"
    )
    return (
        f"SELECT {columns} FROM (SELECT data, n, "
        "min(n) OVER b AS first, max(n) OVER b AS last, "
        "row_number() OVER (PARTITION BY bucket ORDER BY value IS NULL, value, n) AS low, "
        "row_number() OVER (PARTITION BY bucket ORDER BY value IS NULL, value DESC, n) AS high "
        f"FROM (SELECT data, n, (n - 1) / ? AS bucket, {loss} AS value FROM ("
        "SELECT data, row_number() OVER (ORDER BY id) AS n FROM jobevent "
        f"WHERE job_id IN ({_in(ids)}) AND type = 'step' AND id <= ?)) "
        "WINDOW b AS (PARTITION BY bucket)) "
        "WHERE n = first OR n = last OR low = 1 OR high = 1 ORDER BY n"
    )


def history(worker: Worker, run: Run, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """The run's step series (downsampled to at most ``max_points``: each bucket's first,
    last, lowest and highest loss; the newest step always kept), its newest samples and
    log lines, and the last event id they include."""
    ids = list(run.job_ids)
    last_id = _rows(worker, f"SELECT max(id) FROM jobevent WHERE job_id IN ({_in(ids)})", ids)
    last = int(last_id[0][0] or 0) if last_id else 0
    count_rows = _rows(
        worker,
        f"SELECT count(*) FROM jobevent WHERE job_id IN ({_in(ids)}) AND type = 'step' AND id <= ?",
        [*ids, last],
    )
    count = int(count_rows[0][0]) if count_rows else 0
    points = _rows(worker, _drawn_sql(ids), [_stride(count, max_points), *ids, last])
    series: dict[str, list[Any]] = {name: [] for name in STEP_FIELDS}
    for point in points:
        for name, value in zip(STEP_FIELDS, point, strict=True):
            series[name].append(value)
    samples = _rows(
        worker,
        f"SELECT data FROM jobevent WHERE job_id IN ({_in(ids)}) AND type = 'sample' "
        "AND id <= ? ORDER BY id DESC LIMIT 8",
        [*ids, last],
    )
    lines = _rows(
        worker,
        f"SELECT json_extract(data, '$.text') FROM jobevent WHERE job_id IN ({_in(ids)}) "
        "AND type = 'line' AND id <= ? ORDER BY id DESC LIMIT 30",
        [*ids, last],
    )
    latest = _rows(
        worker,
        f"SELECT data FROM jobevent WHERE job_id IN ({_in(ids)}) AND type = 'step' "
        "AND id <= ? ORDER BY id DESC LIMIT 1",
        [*ids, last],
    )
    import json

    return {
        "last_event_id": last,
        "steps_stored": count,
        "series": series,
        "latest": json.loads(latest[0][0]) if latest else None,
        "samples": [json.loads(row[0]) for row in reversed(samples)],
        "log": [row[0] for row in reversed(lines)],
    }
