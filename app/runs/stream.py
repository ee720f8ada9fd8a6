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


def step_losses(db: Database, run: Run, limit: int = 100_000) -> list[float | None]:
    """The stored steps' losses of the run, in step order, all of its jobs together (at
    most ``limit``, the first ones): what diagnosis reads the loss curve's shape from.
    None for a loss that was not a finite number (written as NaN or Infinity, which
    SQLite's JSON functions refuse to read, or as the text "nan" by an import); steps
    without a loss are left out."""
    ids = list(run.job_ids)
    sql = (
        "SELECT json_valid(data), CASE WHEN json_valid(data) THEN json_extract(data, '$.loss') "
        f"END FROM jobevent WHERE job_id IN ({_in(ids)}) AND type = 'step' ORDER BY id LIMIT ?"
    )
    losses: list[float | None] = []
    for valid, value in _query(db, sql, [*ids, limit]):
        if not valid:
            losses.append(None)
        elif isinstance(value, int | float):
            losses.append(float(value) if math.isfinite(value) else None)
        elif isinstance(value, str):
            losses.append(None)
    return losses


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
            return
        deadline = time.monotonic() + RECHECK
        while worker.supervisor.version == version and time.monotonic() < deadline:
            await anyio.sleep(POLL)


def history(worker: Worker, run: Run, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """The run's step series (downsampled to at most ``max_points``, the newest always
    kept), its newest samples and log lines, and the last event id they include."""
    ids = list(run.job_ids)
    last_id = _rows(worker, f"SELECT max(id) FROM jobevent WHERE job_id IN ({_in(ids)})", ids)
    last = int(last_id[0][0] or 0) if last_id else 0
    count_rows = _rows(
        worker,
        f"SELECT count(*) FROM jobevent WHERE job_id IN ({_in(ids)}) AND type = 'step' AND id <= ?",
        [*ids, last],
    )
    count = int(count_rows[0][0]) if count_rows else 0
    stride = max(1, -(-count // max_points))
    columns = ", ".join(f"json_extract(data, '$.{name}')" for name in STEP_FIELDS)
    sql = (
        f"SELECT {columns} FROM (SELECT data, row_number() OVER (ORDER BY id) AS n FROM jobevent "
        f"WHERE job_id IN ({_in(ids)}) AND type = 'step' AND id <= ?) "
        "WHERE (n - 1) % ? = 0 OR n = ? ORDER BY n"
    )
    points = _rows(worker, sql, [*ids, last, stride, count])
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
