"""The worker: every long or GPU job runs in a child process that outlives the server.

- ``kinds``: the kinds of job, their work functions, GPU use and which exclude each
  other; ``queue``: ``start`` (exclusivity and GPU queueing decided in one write
  transaction), ``cancel``; ``process``: spawning in its own session, pid + start time,
  process-group signals; ``child``: the child's side (``JobHandle``, event lines, the
  log); ``eventfile``: writing and tailing JSON lines; ``supervisor``: tailing into
  SQLite, adoption after a restart, ending jobs; ``stream``: events as SSE;
  ``claims``: a command's hold on a project (no start, archive or deletion meanwhile);
  ``refusals``: why a start is refused, in plain words (``JobRefused``).

Why not an existing queue. Huey's ``SqliteStorage`` keeps a task queue, a schedule
and a result store in SQLite and runs tasks in consumer processes; RQ and Celery need
Redis or a broker; ``litequeue``/``persist-queue`` are SQLite FIFO tables. All of them
own the *worker* process and pop tasks at their own pace, while what loragate needs
most is not in any of them: rules that refuse a start (one job per project and kind,
an import and an audit never together) decided atomically with the insert, at most one
job per GPU with the rest shown in line, the job's own process group (so Cancel
reaches a trainer's data-loader workers), adoption of a child that outlived a server
restart by pid *and* start time, and its events tailed from a file into SQLite for
SSE replay. A Huey queue would cover only the FIFO part, the smallest, and would add
a consumer daemon to run beside the server. So the queue is one table (``job``) and
one ``BEGIN IMMEDIATE`` transaction in ``queue.start``, and the supervision is ours.
"""

from __future__ import annotations

from app.worker.child import JobCancelled, JobHandle
from app.worker.queue import ACTIVE_STATES, FINISHED_STATES, claim_project
from app.worker.refusals import JobBusy, JobRefused
from app.worker.service import Worker

__all__ = [
    "ACTIVE_STATES",
    "FINISHED_STATES",
    "JobBusy",
    "JobCancelled",
    "JobHandle",
    "JobRefused",
    "Worker",
    "claim_project",
]
