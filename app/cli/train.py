"""``loragate train PROJECT [--yes-cost] [--detach]`` and ``loragate monitor
PROJECT[/RUN] [--json]``: training from the command line, through the same
``app.runs.start`` the Start button uses.

``train`` shows the gates' verdict and the estimated time and cost, and asks before it
starts (``--yes-cost`` answers yes, after printing the figures it confirms; the
confirmation is journaled with them). There is no flag that skips a gate. Then it
follows the run like ``monitor`` (supervising it, so no server is needed) unless
``--detach``; Ctrl-C stops following, the run trains on.

``monitor`` draws a run live: a bar with step/total, loss, s/step, time left and VRAM;
``--json`` prints its events, one JSON object per line. Exit 0 when the run finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from app.cli.common import fail_usage, open_workspace, project_context

BAR_WIDTH = 30
FOLLOW_INTERVAL = 0.2


def register(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train", help="start training (all four gates must pass; you confirm the cost)"
    )
    train.add_argument("project", help="the project's slug")
    train.add_argument(
        "--yes-cost",
        action="store_true",
        help="confirm the estimated time and cost printed (journaled with its figures)",
    )
    train.add_argument("--detach", action="store_true", help="start it and return")
    train.set_defaults(handler=handle_train)

    monitor = subparsers.add_parser("monitor", help="follow a training run live")
    monitor.add_argument(
        "run", help="PROJECT/NUMBER, or PROJECT for its newest run (see the Train page)"
    )
    monitor.add_argument("--json", action="store_true", help="print its events as JSON lines")
    monitor.set_defaults(handler=handle_monitor)


def handle_train(args: argparse.Namespace) -> int:
    from app.gates.state import training_allowed
    from app.runs.cost import current_estimate, is_confirmed
    from app.runs.start import TrainingRefused, start_training
    from app.worker import JobBusy, Worker

    workspace = open_workspace()
    ctx = project_context(workspace, args.project)
    permission = training_allowed(ctx)
    if not permission.allowed:
        sys.stderr.write("loragate: training cannot start:\n")
        for reason in permission.reasons:
            sys.stderr.write(f"  - {reason}\n")
        return 1
    estimate = current_estimate(ctx)
    print(f"All four gates pass. The estimate: {estimate.words()}.")
    confirm: str | None = None
    how = ""
    if is_confirmed(ctx, estimate):
        print("You confirmed this estimate before.")
    elif args.yes_cost:
        confirm, how = estimate.digest, "with --yes-cost on the command line"
        print(f"Confirmed with --yes-cost: {estimate.words()}.")
    elif sys.stdin.isatty():
        answer = input("Start training at this time and cost? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Not started.")
            return 1
        confirm, how = estimate.digest, "on the command line"
    else:
        sys.stderr.write(
            "loragate: confirm the estimated time and cost first: read the figures above, "
            "then run again with --yes-cost (or start it on the Train page).\n"
        )
        return 1
    worker = Worker(workspace)
    try:
        run = start_training(ctx, worker, confirm=confirm, how=how)
    except TrainingRefused as exc:
        sys.stderr.write("loragate: training cannot start: " + " ".join(exc.reasons) + "\n")
        return 1
    except JobBusy as exc:
        sys.stderr.write(f"loragate: {exc} Wait for it to finish, or cancel it.\n")
        return 1
    print(
        f"Run {run.number} started: `loragate monitor {ctx.project.slug}/{run.number}` follows it."
    )
    if args.detach:
        return 0
    try:
        return monitor(worker, ctx, run.id or 0, as_json=False)
    except KeyboardInterrupt:
        sys.stderr.write("\nStopped following; the run trains on.\n")
        return 130


def handle_monitor(args: argparse.Namespace) -> int:
    from app.runs.records import get_run, list_runs
    from app.worker import Worker

    slug, _, number = args.run.partition("/")
    workspace = open_workspace()
    ctx = project_context(workspace, slug)
    if number:
        if not number.isdigit():
            fail_usage(f"“{number}” is not a run number (write PROJECT/NUMBER).")
        run = get_run(ctx, int(number))
    else:
        runs = list_runs(ctx)
        run = runs[0] if runs else None
    if run is None:
        fail_usage(f"there is no such run of “{slug}” (see the Train page).")
    try:
        return monitor(Worker(workspace), ctx, run.id or 0, as_json=args.json)
    except KeyboardInterrupt:
        sys.stderr.write("\nStopped following; the run trains on.\n")
        return 130


def run_events(worker: Any, ctx: Any, run_id: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The run's stored events (this process supervises while it reads) up to the end
    event of its newest job."""
    from app.runs.records import run_by_id
    from app.runs.stream import events_after
    from app.worker import FINISHED_STATES

    last = 0
    while True:
        worker.supervisor.run_pass()
        run = run_by_id(ctx, run_id)
        if run is None or not run.job_ids:
            return
        rows = events_after(worker, run.job_ids, last, 5000)
        for event_id, job_id, kind, data in rows:
            last = event_id
            yield kind, json.loads(data)
            if kind == "end" and job_id == run.job_ids[-1]:
                return
        if not rows:
            job = worker.get(run.job_ids[-1])
            if job is None or job.state in FINISHED_STATES:
                return
            time.sleep(FOLLOW_INTERVAL)


def monitor(worker: Any, ctx: Any, run_id: int, *, as_json: bool) -> int:
    from app.runs.records import run_by_id, run_job, run_status

    tty = sys.stdout.isatty() and not as_json
    for kind, data in run_events(worker, ctx, run_id):
        if as_json:
            print(json.dumps(data), flush=True)
        elif kind == "step":
            _bar(data, tty)
        elif kind in ("rung", "checkpoint", "sample", "run"):
            if tty:
                sys.stdout.write("\n")
            print(_words(kind, data))
    run = run_by_id(ctx, run_id)
    if run is None:
        return 1
    status = run_status(run, run_job(ctx, run))
    if not as_json:
        if tty:
            sys.stdout.write("\n")
        print(f"Run {run.number} {status.words}. {status.message}".rstrip())
    return 0 if status.state == "finished" else 1


def _bar(data: dict[str, Any], tty: bool) -> None:
    step, total = int(data.get("step") or 0), int(data.get("total") or 0)
    filled = int(BAR_WIDTH * step / total) if total else 0
    parts = [f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {step}/{total}"]
    if data.get("loss") is not None:
        parts.append(f"loss {data['loss']:.4f}")
    if data.get("seconds_per_step") is not None:
        parts.append(f"{data['seconds_per_step']:.2f} s/step")
    if data.get("eta_seconds") is not None:
        parts.append(f"ETA {_duration(data['eta_seconds'])}")
    if data.get("vram_used_gb") is not None:
        total_gb = data.get("vram_total_gb")
        parts.append(
            f"VRAM {data['vram_used_gb']:.1f}" + (f"/{total_gb:.1f}" if total_gb else "") + " GB"
        )
    if data.get("cost") is not None:
        parts.append(f"{data['cost']:.2f} {data.get('currency', '')}".rstrip())
    line = "  ".join(parts)
    if tty:
        sys.stdout.write("\r\033[K" + line)
        sys.stdout.flush()
    else:
        print(line)


def _duration(seconds: float) -> str:
    from app.training.estimates import duration_words

    return f"{round(seconds)} s" if seconds < 60 else duration_words(seconds)


def _words(kind: str, data: dict[str, Any]) -> str:
    if kind == "rung":
        return (
            f"Out of memory at step {data.get('at_step')}: continuing from step "
            f"{data.get('resumed_from')} with {data.get('title')}."
        )
    if kind == "checkpoint":
        return f"Checkpoint saved at step {data.get('step')}: {data.get('path')}"
    if kind == "sample":
        return f"Sample at step {data.get('step')}: {data.get('path')}"
    state = data.get("state")
    if state == "waiting":
        return f"Waiting for your answer: {data.get('question')}"
    if state == "failed":
        return f"Failed: {data.get('message')}"
    return f"Run {state}."
