"""Checking gates again from a command, in the command's own process (a command is its
own process, so long work runs in its foreground with progress on stderr): Gate 1
after a command changed the dataset or its captions, and every gate that is not
current for ``loragate gates --check``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from app.cli.progress import StderrProgress
from app.findings import GateResult
from app.gate_records import record_result
from app.gates.state import gate_state
from app.models import Job
from app.words import GATE_WORDS, plural
from app.worker import Worker, claim_project
from app.worker.refusals import JobBusy, ProjectClaimed
from app.workspace import ProjectContext

# The gates a command can check, in order: each judges what the one before it judged.
# The first three run in the command's foreground, holding the project; the dry run is
# a worker job (the GPU's queue decides when it runs), started after the hold ends.
FOREGROUND = ("dataset", "config", "environment")
CHECKABLE = (*FOREGROUND, "dryrun")


@contextmanager
def foreground(ctx: ProjectContext) -> Iterator[str | None]:
    """Hold the project while this command works on it in its foreground: no job starts
    on it, and it is neither archived nor deleted, until the block ends
    (``app.worker.claims``; the check and the hold are one step under the worker's write
    lock). Yields None when held; otherwise why not (a job of ``loragate serve`` or
    another command is at work on the project), and the command leaves it alone."""
    with ExitStack() as held:
        try:
            held.enter_context(claim_project(ctx.workspace, ctx.project.id or 0))
        except JobBusy as busy:
            yield busy_message(busy.job)
            return
        except ProjectClaimed as claimed:
            yield str(claimed)
            return
        yield None


def busy_message(job: Job) -> str:
    return (
        f"“{job.title or job.kind}” is running for this project in loragate serve. Wait "
        "for it to finish (or cancel it on its page), then run this again."
    )


def check_gate(ctx: ProjectContext, name: str, progress: StderrProgress) -> GateResult | None:
    """Judge one gate as its inputs are now and record the result (journaled). The dry
    run runs as the worker's job (it waits for the GPU like any other) and only when
    Gates 1-3 pass: None when it did not start."""
    if name == "dryrun":
        return _dry_run(ctx, progress)
    if name == "dataset":
        from app.curation.project_audit import run_project_audit  # loads the audit's modules

        progress.stage("Checking Gate 1 (the dataset)")
        result = run_project_audit(ctx, progress=progress).result
    elif name == "config":
        from app.gates import config as gate2

        progress.stage("Checking Gate 2 (the config)")
        result = gate2.evaluate(ctx)
        record_result(ctx, result)
    else:
        from app.gates import environment as gate3

        progress.stage("Checking Gate 3 (the environment)")
        result = gate3.evaluate(ctx, progress)
        record_result(ctx, result)
    progress.finish()
    return result


def _dry_run(ctx: ProjectContext, progress: StderrProgress) -> GateResult | None:
    from app.cli.jobs import wait_for
    from app.gates.dryrun_job import DryRunRefused, start_dry_run

    worker = Worker(ctx.workspace)
    try:
        job = start_dry_run(worker, ctx)
    except DryRunRefused:
        return None
    progress.stage("Running Gate 4 (the dry run)")
    wait_for(worker, job.id or 0, progress)
    progress.finish()
    return None


def check_dataset(ctx: ProjectContext) -> GateResult | str:
    """Gate 1 again after a command changed the dataset; or, while the server runs a
    job for this project (which may be changing it), why it was not checked."""
    with foreground(ctx) as busy:
        return busy if busy is not None else check_gate(ctx, "dataset", StderrProgress())


def check_stale(ctx: ProjectContext, names: tuple[str, ...] = CHECKABLE) -> list[str]:
    """Check every gate of ``names`` that has not run or is out of date, in order (Gate 2
    judges Gate 1's dataset); returns the names checked."""
    checked = []
    progress = StderrProgress()
    for name in names:
        if gate_state(ctx, name).status in ("not_run", "stale"):
            check_gate(ctx, name, progress)
            checked.append(name)
    return checked


def outcome_json(outcome: GateResult | str | None) -> dict[str, Any] | None:
    """What ``check_dataset`` came to, for ``--json`` (None: it was not asked for)."""
    if outcome is None:
        return None
    if isinstance(outcome, str):
        return {"checked": False, "why": outcome}
    counts = Counter(finding.severity for finding in outcome.findings)
    return {
        "checked": True,
        "verdict": outcome.verdict,
        "block": counts["block"],
        "warn": counts["warn"],
    }


def outcome_line(outcome: GateResult | str, slug: str) -> str:
    """What ``check_dataset`` came to, in a sentence."""
    if isinstance(outcome, str):
        return f"Gate 1 was not checked: {outcome}"
    counts = Counter(finding.severity for finding in outcome.findings)
    line = (
        f"Gate 1 {GATE_WORDS[outcome.verdict]}: {counts['block']} blocking, "
        f"{plural(counts['warn'], 'warning')}."
    )
    if outcome.verdict == "block":
        line += f" `loragate gates {slug}` lists what blocks."
    return line
