"""Starting, resuming, cancelling and answering a run: the one way in for the Start
button, the HTTP API and ``loragate train``.

``start_training`` refuses unless ``training_allowed`` (app/gates/state.py) says all
four gates pass on the inputs as they are now, and unless the artist has confirmed the
estimated time and cost as they are now (``cost``). There is no override: no argument,
form field, flag or environment variable skips either check, and the "training.run"
job checks both again in its own process before it launches a trainer, so a job
started by other means (a hand-written job file) refuses too.
"""

from __future__ import annotations

from sqlmodel import col, func, select

from app import journal
from app.gates import GATE_NAMES
from app.gates.state import current_parts, training_allowed
from app.models import Event, Run
from app.models.base import utcnow
from app.runs.cost import (
    CostEstimate,
    confirm_cost,
    current_estimate,
    is_confirmed,
    use_confirmation,
)
from app.runs.records import ACTIVE, run_dir, run_job, run_status, update_run
from app.training.project_config import current_config, read_confirmation
from app.worker import JobBusy, Worker
from app.workspace import ProjectContext

KIND = "training.run"


class TrainingRefused(RuntimeError):
    """Training may not start; ``reasons`` says why, in plain words."""

    def __init__(self, reasons: list[str], estimate: CostEstimate | None = None) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons
        self.estimate = estimate  # set when only the cost confirmation is missing


def check_may_train(ctx: ProjectContext) -> CostEstimate:
    """The gates, then the confirmed cost; raises TrainingRefused."""
    permission = training_allowed(ctx)
    if not permission.allowed:
        raise TrainingRefused(permission.reasons)
    estimate = current_estimate(ctx)
    if not is_confirmed(ctx, estimate):
        raise TrainingRefused(
            [f"Confirm the estimated time and cost first: {estimate.words()}."], estimate
        )
    return estimate


def check_run_may_start(ctx: ProjectContext, run: Run) -> None:
    """In the run's own job, before the first trainer launch: the gates pass now, and
    the estimate now is the one whose confirmation was spent on this very run."""
    permission = training_allowed(ctx)
    if not permission.allowed:
        raise TrainingRefused(permission.reasons)
    estimate = current_estimate(ctx)
    confirmation = read_confirmation(ctx)
    figures = confirmation.figures if confirmation is not None else {}
    if (
        figures.get("used_by_run") != run.number
        or figures.get("digest") != run.estimate.get("digest")
        or estimate.digest != run.estimate.get("digest")
    ):
        raise TrainingRefused(
            [f"Confirm the estimated time and cost of this run first: {estimate.words()}."],
            estimate,
        )


def start_training(
    ctx: ProjectContext, worker: Worker, *, confirm: str | None = None, how: str = ""
) -> Run:
    """Start a run. ``confirm``: the digest of the estimate the artist was shown and
    accepted (it counts only when it is the estimate now; ``how`` says where)."""
    permission = training_allowed(ctx)
    if not permission.allowed:
        raise TrainingRefused(permission.reasons)
    if confirm is not None:
        estimate = current_estimate(ctx)
        if confirm != estimate.digest:
            raise TrainingRefused(
                [
                    f"The estimate changed since it was shown; confirm the new one: {estimate.words()}."
                ],
                estimate,
            )
        confirm_cost(ctx, estimate, how or "when starting training")
    estimate = check_may_train(ctx)
    config = current_config(ctx)
    project_id = ctx.project.id or 0
    with ctx.workspace.db.writing() as session:
        number = (
            int(
                session.exec(select(func.max(Run.number)).where(Run.project_id == project_id)).one()
                or 0
            )
            + 1
        )
        versions = session.exec(
            select(func.count(col(Event.id))).where(
                Event.project_id == project_id,
                col(Event.kind).in_(("config.changed", "config.preset")),
            )
        ).one()
        run = Run(
            project_id=project_id,
            number=number,
            backend=ctx.project.backend,
            config=config.model_dump(mode="json"),
            config_digest=config.digest(),
            config_version=int(versions or 0),
            gate_fingerprints={name: _fingerprint(ctx, name) for name in GATE_NAMES},
            estimate=estimate.figures() | {"digest": estimate.digest},
            total_steps=estimate.steps,
            hourly_cost=estimate.hourly_cost,
            currency=estimate.currency,
        )
        session.add(run)
        session.flush()
        session.refresh(run)
        session.expunge(run)
    use_confirmation(ctx, number)
    try:
        job = worker.start(KIND, project_id, {"run_id": run.id}, title=f"Training run {run.number}")
    except JobBusy:
        with ctx.workspace.db.writing() as session:
            row = session.get(Run, run.id)
            if row is not None:
                session.delete(row)
        raise
    run = update_run(
        ctx,
        run.id or 0,
        job_id=job.id,
        job_ids=[job.id],
        state="queued" if job.state == "queued" else "running",
    )
    run_dir(ctx, number).mkdir(parents=True, exist_ok=True)
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "training.started",
            f"Training run {number} started ({run.backend}): {estimate.words()}.",
            {"run": number, "job": job.id, "estimate": run.estimate},
        )
    return run


def _fingerprint(ctx: ProjectContext, name: str) -> str:
    from app.findings import digest

    return digest(current_parts(ctx, name))


def resume_run(ctx: ProjectContext, worker: Worker, run: Run) -> Run:
    """Continue an interrupted, cancelled or failed run from its newest complete
    checkpoint: a new job of the same run. The gates must pass now too."""
    status = run_status(run, run_job(ctx, run))
    if status.state not in ("interrupted", "cancelled", "failed"):
        raise TrainingRefused([f"Run {run.number} is {status.words}: only a stopped run resumes."])
    permission = training_allowed(ctx)
    if not permission.allowed:
        raise TrainingRefused(permission.reasons)
    job = worker.start(
        KIND, ctx.project.id, {"run_id": run.id, "resume": True}, title=f"Training run {run.number}"
    )
    run = update_run(
        ctx,
        run.id or 0,
        job_id=job.id,
        job_ids=[*run.job_ids, job.id],
        state="queued" if job.state == "queued" else "running",
        message="Resuming from the newest complete checkpoint.",
        finished_at=None,
    )
    _journal(
        ctx, "training.resumed", f"Training run {run.number} resumed from step {run.step}.", run
    )
    return run


def cancel_run(ctx: ProjectContext, worker: Worker, run: Run) -> Run:
    """Stop the run's whole process group; checkpoints stay."""
    if run.state == "waiting":
        run = update_run(
            ctx,
            run.id or 0,
            state="cancelled",
            question={},
            message="Cancelled. Checkpoints are kept.",
            finished_at=utcnow(),
        )
    elif run.job_id is not None:
        worker.cancel(run.job_id)
    _journal(
        ctx,
        "training.cancelled",
        f"Training run {run.number} cancelled at step {run.step}; its checkpoints are kept.",
        run,
    )
    return run


def answer_question(ctx: ProjectContext, worker: Worker, run: Run, agree: bool) -> Run:
    """The artist's answer to the lower-resolution rung: agree → the run continues with
    it; no → it stops with the diagnosis."""
    from app.runs import ladder
    from app.training.config import TrainingConfig

    if run.state != "waiting" or not run.question:
        raise TrainingRefused([f"Run {run.number} is not waiting for an answer."])
    question = run.question
    if not agree:
        config = ladder.with_rungs(TrainingConfig.model_validate(run.config), run.rungs)
        run = update_run(
            ctx,
            run.id or 0,
            state="failed",
            question={},
            finished_at=utcnow(),
            message=ladder.diagnosis(config, run.rungs),
        )
        _journal(
            ctx,
            "training.oom_declined",
            f"Run {run.number}: you kept the resolution; the run stopped.",
            run,
        )
        return run
    rung = question["rung"] | {"agreed_at": utcnow().isoformat()}
    run = update_run(ctx, run.id or 0, rungs=[*run.rungs, rung], question={}, state="queued")
    _journal(
        ctx,
        "training.oom_rung",
        f"Run {run.number}: you agreed to train {rung['title']}; it continues from its newest checkpoint.",
        run,
    )
    job = worker.start(
        KIND, ctx.project.id, {"run_id": run.id, "resume": True}, title=f"Training run {run.number}"
    )
    return update_run(
        ctx,
        run.id or 0,
        job_id=job.id,
        job_ids=[*run.job_ids, job.id],
        state="queued" if job.state == "queued" else "running",
    )


def _journal(ctx: ProjectContext, kind: str, message: str, run: Run) -> None:
    with ctx.workspace.db.writing() as session:
        journal.record(session, ctx.project, ctx.dir, kind, message, {"run": run.number})


def active_run(ctx: ProjectContext) -> Run | None:
    with ctx.workspace.db.reading() as session:
        return session.exec(
            select(Run)
            .where(Run.project_id == ctx.project.id, col(Run.state).in_((*ACTIVE, "waiting")))
            .order_by(col(Run.number).desc())
        ).first()
