"""The supervisor: tails every running job's event file into SQLite, ends jobs, starts
queued ones, and sends SIGKILL to cancelled jobs that outlive the grace period.

The server runs one in a thread from its lifespan; ``loragate jobs follow`` and the
tests' waits run passes of their own. Running two at once is safe: events are stored
only past the offset stored in the job's row, in the same write transaction that
moves the offset, so a line is stored once whoever reads it (no gap, no duplicate),
and a job is ended only while its row still says running.

Adoption needs nothing special: the first pass after a start finds each job the row
says is running; when its process (pid and start time) is alive it is tailed on from
the stored offset; when it is gone, what the file holds is stored and the job ends as
its last event says, or as interrupted by the restart when the child wrote no end.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import select

from app.models import Job
from app.models.base import utcnow
from app.worker.eventfile import END, Line, read_lines
from app.worker.process import end_group, is_alive, signal_group
from app.worker.queue import (
    CANCELLED_MESSAGE,
    finish_without_child,
    launch_waiting,
    log_tail,
)
from app.workspace import Workspace

logger = logging.getLogger(__name__)

INSERT_EVENTS = "INSERT INTO jobevent (job_id, type, data, file_end) VALUES (?, ?, ?, ?)"

CANCEL_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
BUSY_INTERVAL = 0.03  # between passes while a job runs
IDLE_INTERVAL = 0.5
RESTART_MESSAGE = (
    "Interrupted by a restart: loragate stopped while this ran, and its process was gone "
    "when loragate started again. Resume it: work already done is kept."
)
VANISHED_MESSAGE = (
    "Its process stopped before finishing (it was killed, or the computer ran out of "
    "memory). The last lines of its log are below. Resume it: work already done is kept."
)


@dataclass
class Pass:
    running: int = 0
    stored: int = 0


class Supervisor:
    def __init__(self, workspace: Workspace, *, cancel_grace: float = CANCEL_GRACE) -> None:
        self.workspace = workspace
        self.cancel_grace = cancel_grace
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._seen: set[int] = set()  # jobs this supervisor has seen alive
        self._first_pass = True
        # Bumped after every commit of new events: streams in this process look here
        # before they ask SQLite.
        self.version = 0

    # -- the thread --------------------------------------------------------------
    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="job-supervisor", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_pass()
            except Exception:
                logger.exception("job supervisor pass failed")
                done = Pass(running=1)
            self._wake.wait(BUSY_INTERVAL if done.running else IDLE_INTERVAL)
            self._wake.clear()

    # -- one pass ----------------------------------------------------------------
    def run_pass(self) -> Pass:
        with self._lock:
            outcome = Pass()
            with self.workspace.db.reading() as session:
                running = session.exec(select(Job).where(Job.state == "running")).all()
            for job in running:
                outcome.running += 1
                outcome.stored += self._supervise(job)
            if launch_waiting(self.workspace):
                outcome.running += 1
            self._first_pass = False
            return outcome

    def _supervise(self, job: Job) -> int:
        assert job.id is not None
        alive = is_alive(job.pid, job.process_started)
        stored, end = self._drain(job)
        if end is not None:
            if alive or job.id in self._seen:
                # Whatever the child left behind (a pool worker, a grandchild) ends with it.
                end_group(job.pid or 0)
        elif not alive:
            self._vanished(job)
        else:
            self._seen.add(job.id)
            self._escalate(job)
        return stored

    def _drain(self, job: Job) -> tuple[int, dict[str, Any] | None]:
        """Store every complete line past the stored offset; the end event if seen."""
        stored, offset = 0, job.events_offset
        while True:
            lines = read_lines(Path(job.events_path), offset)
            if not lines:
                return stored, None
            count, offset, end = self._store(job, lines)
            stored += count
            if end is not None or offset is None:
                return stored, end

    def _store(self, job: Job, lines: list[Line]) -> tuple[int, int | None, dict[str, Any] | None]:
        end: dict[str, Any] | None = None
        with self.workspace.db.writing() as session:
            row = session.get(Job, job.id)
            if row is None or row.state != "running":
                return 0, None, None  # another supervisor ended it
            fresh = [line for line in lines if line.end > row.events_offset]
            if fresh:
                # Through the driver: one executemany, no ORM objects (20,000+ rows a second).
                session.connection().exec_driver_sql(
                    INSERT_EVENTS, [(job.id, line.type, line.data, line.end) for line in fresh]
                )
                row.events_offset = fresh[-1].end
                progress = next((line for line in reversed(fresh) if line.type == "progress"), None)
                if progress is not None:
                    data = json.loads(progress.data)
                    row.done, row.total = int(data.get("done", 0)), int(data.get("total", 0))
                    if not row.cancel_requested:
                        row.message = str(data.get("message", ""))
                end_line = next((line for line in fresh if line.type == END), None)
                if end_line is not None:
                    # In the transaction that stores the end event: whoever reads that
                    # event (a page following the stream) then finds the job ended.
                    end = json.loads(end_line.data)
                    _end(row, end)
                row.updated_at = utcnow()
                session.add(row)
            offset = max(row.events_offset, lines[-1].end)
        if fresh:
            self.version += 1
        return len(fresh), offset, end

    def _vanished(self, job: Job) -> None:
        """The child is gone without an end event: cancelled if that was asked,
        interrupted otherwise."""
        restarted = self._first_pass and job.id not in self._seen
        with self.workspace.db.writing() as session:
            row = session.get(Job, job.id)
            if row is None or row.state != "running":
                return
            if row.cancel_requested:
                finish_without_child(session, row, "cancelled", CANCELLED_MESSAGE)
            else:
                message = RESTART_MESSAGE if restarted else VANISHED_MESSAGE
                finish_without_child(session, row, "interrupted", message)
                row.result = {"log_tail": log_tail(row)}
        self.version += 1

    def _escalate(self, job: Job) -> None:
        asked = job.cancel_requested_at
        if asked is None or job.pid is None:
            return
        if (utcnow() - asked).total_seconds() >= self.cancel_grace:
            signal_group(job.pid, signal.SIGKILL)

    # -- waiting -----------------------------------------------------------------
    def wait(self, job_id: int, timeout: float | None = None) -> Job | None:
        """Run passes until the job has ended (for the CLI and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.run_pass()
            with self.workspace.db.reading() as session:
                job = session.get(Job, job_id)
            if job is None or job.state not in ("queued", "running"):
                return job
            if deadline is not None and time.monotonic() > deadline:
                return job
            time.sleep(BUSY_INTERVAL)


def _end(row: Job, end: dict[str, Any]) -> None:
    """The job as its child's end event says it ended."""
    state = str(end.get("state", "failed"))
    row.state = state if state in ("done", "failed", "cancelled") else "failed"
    if row.state == "done":
        row.result = end.get("result") or {}
    elif row.state == "failed":
        row.error = str(end.get("error") or "It stopped with an error.")
        row.result = {"log_tail": log_tail(row)}
    else:
        row.message = CANCELLED_MESSAGE
    row.finished_at = utcnow()
