"""``loragate jobs [--json]``, ``jobs start KIND PROJECT``, ``jobs cancel ID``,
``jobs follow ID``: the worker's jobs from the command line, through the same
``app.worker`` calls the pages make. ``follow`` supervises while it runs (it stores
the job's events, as the server does; both at once is safe), so it works with no
server running."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from app.cli.common import add_json_flag, fail_usage, open_workspace, print_json, project_context
from app.models import Job, Project
from app.worker import FINISHED_STATES, JobBusy, JobRefused, Worker
from app.worker.service import StoredEvent
from app.workspace import Workspace

# Kinds that need nothing but their project, so the command line can start them.
STARTABLE = ("dataset.audit", "dataset.layout", "environment.check")
BAR_WIDTH = 30
FOLLOW_INTERVAL = 0.1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("jobs", help="list, start, cancel and follow jobs")
    add_json_flag(parser)
    parser.set_defaults(handler=handle_list)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    start = actions.add_parser("start", help="start a job on a project")
    start.add_argument("kind", choices=STARTABLE)
    start.add_argument("project", help="the project's slug")
    start.add_argument("--follow", action="store_true", help="then follow it to its end")
    add_json_flag(start)
    start.set_defaults(handler=handle_start)

    cancel = actions.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=handle_cancel)

    follow = actions.add_parser("follow", help="print a job's events with a progress bar")
    follow.add_argument("id", type=int)
    follow.set_defaults(handler=handle_follow)


def _slugs(workspace: Workspace) -> dict[int, str]:
    from sqlmodel import select

    with workspace.db.reading() as session:
        return {p.id or 0: p.slug for p in session.exec(select(Project)).all()}


def job_record(job: Job, slugs: dict[int, str]) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "project": slugs.get(job.project_id or 0),
        "title": job.title,
        "state": job.state,
        "done": job.done,
        "total": job.total,
        "message": job.message,
        "error": job.error,
        "pid": job.pid,
        "log": job.log_path,
        "events": job.events_path,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def handle_list(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    worker = Worker(workspace)
    jobs = worker.recent()
    slugs = _slugs(workspace)
    if args.json:
        print_json({"jobs": [job_record(job, slugs) for job in jobs]})
        return 0
    if not jobs:
        print("No jobs yet.")
        return 0
    for job in jobs:
        where = slugs.get(job.project_id or 0, "-")
        state = job.state
        if job.state == "queued":
            state = f"queued ({worker.place_in_line(job)} in line)"
        progress = f" {job.done}/{job.total}" if job.total else ""
        print(f"{job.id:>5}  {state:<20} {where:<20} {job.title or job.kind}{progress}")
    return 0


def handle_start(args: argparse.Namespace) -> int:
    workspace = open_workspace()
    ctx = project_context(workspace, args.project)
    worker = Worker(workspace)
    try:
        job = worker.start(args.kind, ctx.project.id, title=_title(args.kind))
    except JobBusy as exc:
        sys.stderr.write(
            f"loragate: {exc} Wait for it to finish, or cancel it (job {exc.job.id}).\n"
        )
        return 1
    except JobRefused as exc:
        sys.stderr.write(f"loragate: {exc}\n")
        return 1
    if args.json:
        print_json(job_record(job, {ctx.project.id or 0: ctx.project.slug}))
    else:
        print(f"Started job {job.id}: {job.title} ({job.state}).")
    return follow(worker, job.id or 0) if args.follow else 0


def _title(kind: str) -> str:
    return {
        "dataset.audit": "Auditing the dataset",
        "dataset.layout": "Writing the training folder",
        "environment.check": "Checking the environment",
    }.get(kind, kind)


def handle_cancel(args: argparse.Namespace) -> int:
    worker = Worker(open_workspace())
    job = worker.cancel(args.id)
    if job is None:
        fail_usage(f"there is no job {args.id} (see `loragate jobs`).")
    if job.state in FINISHED_STATES and not job.cancel_requested:
        print(f"Job {job.id} had already ended ({job.state}).")
        return 0
    print(f"Cancelling job {job.id}: its processes get SIGTERM, then SIGKILL if they linger.")
    return 0


def handle_follow(args: argparse.Namespace) -> int:
    worker = Worker(open_workspace())
    if worker.get(args.id) is None:
        fail_usage(f"there is no job {args.id} (see `loragate jobs`).")
    try:
        return follow(worker, args.id)
    except KeyboardInterrupt:
        sys.stderr.write("\nStopped following; the job runs on (`loragate jobs` shows it).\n")
        return 130


def stored_events(worker: Worker, job_id: int) -> Iterator[StoredEvent]:
    """The job's events as they are stored (this process supervises while it reads), up
    to its end event, or to its last event once it has finished without one."""
    last = 0
    while True:
        worker.supervisor.run_pass()
        for event in worker.events(job_id, last):
            last = event.id or last
            yield event
            if event.type == "end":
                return
        job = worker.get(job_id)
        if job is None or (job.state in FINISHED_STATES and not worker.events(job_id, last)):
            return
        time.sleep(FOLLOW_INTERVAL)


def follow(worker: Worker, job_id: int) -> int:
    """Print the job's events as they are stored; 0 when it ends done, 1 otherwise."""
    tty = sys.stdout.isatty()
    for event in stored_events(worker, job_id):
        data = json.loads(event.data)
        if event.type == "progress":
            _print_progress(data, tty)
        elif event.type == "log":
            print(data.get("line", ""))
    return _print_end(worker, job_id, tty)


def wait_for(worker: Worker, job_id: int, progress: Callable[..., None]) -> Job:
    """Follow a job this command started to its end, its progress drawn by ``progress``
    (on stderr: stdout is for the result); Ctrl-C cancels the job, then stops."""
    try:
        for event in stored_events(worker, job_id):
            if event.type == "progress":
                data = json.loads(event.data)
                progress(int(data.get("done", 0)), data.get("total"), data.get("message"))
    except KeyboardInterrupt:
        worker.cancel(job_id)
        raise
    job = worker.get(job_id)
    if job is None:
        raise LookupError(f"job {job_id} is gone")
    return job


def _print_progress(data: dict[str, Any], tty: bool) -> None:
    done, total = int(data.get("done", 0)), int(data.get("total", 0))
    filled = int(BAR_WIDTH * done / total) if total else 0
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    line = f"[{bar}] {done}/{total} {data.get('message', '')}"
    if tty:
        sys.stdout.write("\r\033[K" + line)
        sys.stdout.flush()
    else:
        print(line)


def end_line(job: Job) -> str:
    """How the job ended, in one line that names its state once."""
    if job.state == "done":
        return f"Job {job.id} done."
    if job.state == "failed":
        return f"Job {job.id} failed: {job.error}"
    if job.message.lower().startswith(job.state):  # "Cancelled. Nothing was lost."
        return f"Job {job.id}: {job.message}"
    return f"Job {job.id} {job.state}. {job.message}".rstrip()


def _print_end(worker: Worker, job_id: int, tty: bool) -> int:
    job = worker.get(job_id)
    if tty:
        sys.stdout.write("\n")
    if job is None:
        return 1
    print(end_line(job))
    for line in job.result.get("log_tail", []) if job.state != "done" else []:
        print(f"  | {line}")
    return 0 if job.state == "done" else 1
