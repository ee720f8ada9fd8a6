"""A job's events as Server-Sent Events: the stored ones after a given id first, then
the live tail as the supervisor stores them; each event's id is its row id, so a
client that reconnects with ``Last-Event-ID`` (or ``?after=``) gets exactly what it
missed. The stream ends after the job's end event."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio.to_thread

from app.models import JobEvent
from app.worker.eventfile import END
from app.worker.queue import FINISHED_STATES
from app.worker.service import Worker

BATCH = 5000  # events per read and per write to the socket
POLL = 0.02  # seconds between looks at the supervisor's counter (no SQLite involved)
RECHECK = 1.0  # SQLite is asked at least this often (another process may store events)


def encode(events: list[JobEvent]) -> bytes:
    """SSE frames, built directly: a replay of 100,000 events is one join per batch,
    not 100,000 trips through a generic encoder. ``data`` is one line of JSON."""
    return "".join(
        f"id: {event.id}\nevent: {event.type}\ndata: {event.data}\n\n" for event in events
    ).encode()


async def event_stream(worker: Worker, job_id: int, after: int = 0) -> AsyncIterator[bytes]:
    last = after
    while True:
        version = worker.supervisor.version
        events = await anyio.to_thread.run_sync(worker.events, job_id, last, BATCH)
        if events:
            end = next((i for i, event in enumerate(events) if event.type == END), None)
            if end is not None:
                yield encode(events[: end + 1])
                return
            yield encode(events)
            last = events[-1].id or last
            continue
        job = await anyio.to_thread.run_sync(worker.get, job_id)
        if job is None or job.state in FINISHED_STATES:
            return  # ended before events were kept (an older job): nothing will come
        deadline = time.monotonic() + RECHECK
        while worker.supervisor.version == version and time.monotonic() < deadline:
            await anyio.sleep(POLL)
