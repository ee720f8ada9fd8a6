"""GET /jobs/{id}/events (SSE), against a real server: stored events first with their
row ids, then the live tail; a client that drops the connection and comes back with
``Last-Event-ID`` (or ``?after=``) gets exactly what it missed; the end event closes
the stream; pings carry no id."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from app.models import Project
from app.worker import Worker
from app.worker.stream import event_stream
from app.workspace import Workspace
from tests.worker.conftest import Server, read_job, stored_events
from tests.worker.kinds import COUNT


def read_events(
    url: str, *, headers: dict[str, str] | None = None, stop_after: int | None = None
) -> list[tuple[int, str, dict[str, object]]]:
    """(id, event, data) of each frame; an id-less frame (a ping) fails the test."""
    events: list[tuple[int, str, dict[str, object]]] = []
    frame: dict[str, str] = {}
    with httpx.stream("GET", url, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(":"):
                continue  # a comment: sse-starlette's ping
            if line:
                name, _, value = line.partition(": ")
                frame[name] = value
                continue
            if not frame:
                continue
            assert "id" in frame, frame
            events.append((int(frame["id"]), frame["event"], json.loads(frame["data"])))
            frame = {}
            if stop_after is not None and len(events) >= stop_after:
                break  # leaving the block drops the connection mid-stream
    return events


def test_a_reconnecting_client_gets_exactly_what_it_missed(
    workspace: Workspace, project: Project, servers: Callable[[], Server]
) -> None:
    server = servers()
    n = 40
    job = Worker(workspace).start(COUNT, project.id, {"n": n, "delay": 0.05})
    url = f"{server.url}/jobs/{job.id}/events"
    first = read_events(url, stop_after=10)
    assert [data["done"] for _, _, data in first] == list(range(1, 11))
    rest = read_events(url, headers={"Last-Event-ID": str(first[-1][0])})
    received = first + rest
    stored = stored_events(workspace, job.id or 0)
    assert [event_id for event_id, _, _ in received] == [event.id for event in stored]
    assert rest[-1][1] == "end" and rest[-1][2]["state"] == "done"  # and the stream closed
    assert read_job(workspace, job.id or 0).state == "done"

    # htmx's SSE extension reconnects with a fresh EventSource: ?after= does the same.
    middle = first[4][0]
    again = read_events(f"{url}?after={middle}")
    assert [event_id for event_id, _, _ in again] == [e.id for e in stored if (e.id or 0) > middle]
    # A finished job replays and closes at once.
    assert len(read_events(url)) == n + 1


def test_a_stream_for_no_such_job_is_404(servers: Callable[[], Server]) -> None:
    server = servers()
    response = httpx.get(f"{server.url}/jobs/999/events", timeout=10)
    assert response.status_code == 404


def test_a_job_that_ends_between_the_streams_two_looks_still_sends_its_end(
    workspace: Workspace, project: Project
) -> None:
    """The stream looks at the events, then at the job's state. A job whose end event
    and state are committed between those two looks must still send its end event
    (it once closed the stream without it: htmx's SSE extension logged an error and
    reconnected). Here the first look is made to come before the commit."""
    worker = Worker(workspace)
    job = worker.start(COUNT, project.id, {"n": 3})
    assert worker.wait(job.id or 0, 60).state == "done"
    looks = {"count": 0}
    real_frames = worker.event_frames

    def frames_after_a_late_commit(job_id: int, after: int, limit: int) -> list[Any]:
        looks["count"] += 1
        return [] if looks["count"] == 1 else real_frames(job_id, after, limit)

    worker.event_frames = frames_after_a_late_commit  # type: ignore[method-assign]

    async def read() -> bytes:
        return b"".join([chunk async for chunk in event_stream(worker, job.id or 0)])

    sent = anyio.run(read).decode()
    assert "event: end" in sent
    assert sent.count("event: progress") == 3
