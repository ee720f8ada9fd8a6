"""A job's events as Server-Sent Events: the stored ones after a given id first, then
the live tail as the supervisor stores them; each event's id is its row id, so a
client that reconnects with ``Last-Event-ID`` (or ``?after=``) gets exactly what it
missed. The stream ends after the job's end event."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio.to_thread

from app.worker.eventfile import END
from app.worker.queue import FINISHED_STATES
from app.worker.service import Worker

BATCH = 20000  # events per read and per write to the socket
POLL = 0.02  # seconds between looks at the supervisor's counter (no SQLite involved)
RECHECK = 1.0  # SQLite is asked at least this often (another process may store events)


async def event_stream(worker: Worker, job_id: int, after: int = 0) -> AsyncIterator[bytes]:
    last = after
    while True:
        version = worker.supervisor.version
        rows = await anyio.to_thread.run_sync(worker.event_frames, job_id, last, BATCH)
        if rows:
            # One write per batch; the end event is always a job's last.
            yield "".join(row[2] for row in rows).encode()
            if rows[-1][1] == END:
                return
            last = rows[-1][0]
            continue
        job = await anyio.to_thread.run_sync(worker.get, job_id)
        if job is None or job.state in FINISHED_STATES:
            # Its end event and its state are stored in one transaction, which may have
            # committed between the two reads above: one more look, or a client would
            # see the stream close without the end (and reconnect, with an error).
            if await anyio.to_thread.run_sync(worker.event_frames, job_id, last, 1):
                continue
            return  # ended before events were kept (an older job): nothing will come
        deadline = time.monotonic() + RECHECK
        while worker.supervisor.version == version and time.monotonic() < deadline:
            await anyio.sleep(POLL)
