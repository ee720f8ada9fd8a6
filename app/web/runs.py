"""Training runs over HTTP: the Runs page (history, and Start with the estimate to
confirm), a run's page (live loss and VRAM charts), its event stream, its history for
the charts, its sample images, and Cancel / Resume / the answer to a question.

Every start goes through ``app.runs.start``: no form field or header can skip
the gates or the cost confirmation.

HTMX contract:
- POST /projects/{slug}/runs (form: ``confirm`` = the digest of the estimate shown) →
  303 to the run's page; 409 with the reasons (a toast for HTMX) when refused.
- GET /projects/{slug}/runs/{n}/status → ``runs/_status.html`` for #run-status
  (innerHTML), fetched again by static/runs.js on run, checkpoint, sample, rung and
  end events.
- GET /projects/{slug}/runs/{n}/events → text/event-stream over all the run's jobs;
  ``Last-Event-ID`` or ``?after=`` resumes after an event id.
- GET /projects/{slug}/runs/{n}/history.json → the charts' points (downsampled), the
  newest samples and log lines, and ``last_event_id`` to stream on from.
- POST …/cancel, …/resume, …/answer (``agree`` = yes | no) → 303 back to the run page.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Form, Header, HTTPException, Query, Request
from sse_starlette import EventSourceResponse
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from app.evaluation.loras import LoraNotFound, final_of_run, find_lora, run_number
from app.evaluation.recommendation import Recommendation, read_recommendation
from app.gates.state import gate_states, training_allowed
from app.models import Run
from app.runs.cost import current_estimate, is_confirmed
from app.runs.records import get_run, list_runs, run_dir, run_job, run_status
from app.runs.samples import IMAGE_TYPES, sample_file
from app.runs.start import (
    TrainingRefused,
    active_run,
    answer_question,
    cancel_run,
    resume_run,
    start_training,
)
from app.runs.stream import history, run_stream
from app.training.config import ConfigFileError
from app.web.answers import answers, media
from app.web.deps import SQLITE_MAX_INT, DbId, ProjectDep
from app.web.jobs import PING_SECONDS, JobsDep
from app.web.templating import is_htmx, render, toast
from app.worker import JobBusy
from app.workspace import ProjectContext

router = APIRouter(responses=answers(404))
_IMAGE_CONTENT = {media_type: {} for media_type in sorted(set(IMAGE_TYPES.values()))}


def _run(ctx: ProjectContext, number: DbId) -> Run:
    run = get_run(ctx, number) if 0 < number <= SQLITE_MAX_INT else None
    if run is None:
        raise HTTPException(status_code=404, detail=f"There is no run {number} in this project.")
    return run


def _start_context(ctx: ProjectContext) -> dict[str, Any]:
    permission = training_allowed(ctx)
    estimate = None
    problem = None
    if permission.allowed:
        try:
            estimate = current_estimate(ctx)
        except ConfigFileError as exc:
            problem = str(exc)
    return {
        "permission": permission,
        "gates": gate_states(ctx),
        "estimate": estimate,
        "confirmed": estimate is not None and is_confirmed(ctx, estimate),
        "estimate_problem": problem,
    }


@router.get("/projects/{slug}/runs", response_class=HTMLResponse, name="phase_train")
def runs_page(request: Request, ctx: ProjectDep) -> Response:
    """The project's runs, newest first, and Start."""
    runs = [(run, run_status(run, run_job(ctx, run))) for run in list_runs(ctx)]
    recommendation, recommended_run = _recommended(ctx)
    return render(
        request,
        "runs/list.html",
        {
            "project": ctx.project,
            "runs": runs,
            "active": active_run(ctx),
            "recommendation": recommendation,
            "recommended_run": recommended_run,
        }
        | _start_context(ctx),
    )


def _recommended(ctx: ProjectContext) -> tuple[Recommendation | None, int | None]:
    """The project's recommended checkpoint and weight, and the run that holds it
    (None when the file is no longer there or comes from outside the runs)."""
    recommendation = read_recommendation(ctx)
    if recommendation is None:
        return None, None
    try:
        return recommendation, run_number(find_lora(ctx.dir, recommendation.lora))
    except LoraNotFound:
        return recommendation, None


@router.post("/projects/{slug}/runs", response_class=HTMLResponse, responses=answers(303, 409))
def start_run(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    confirm: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Start training: the gates must pass now and the estimate shown must be confirmed."""
    try:
        run = start_training(ctx, jobs, confirm=confirm or None, how="on the Runs page")
    except (TrainingRefused, JobBusy) as exc:
        message = (
            " ".join(exc.reasons)
            if isinstance(exc, TrainingRefused)
            else f"{exc} Wait for it to finish, or cancel it."
        )
        return _refused(request, message)
    url = request.url_for("run_page", slug=ctx.project.slug, number=run.number)
    return RedirectResponse(url, status_code=303)


def _refused(request: Request, message: str) -> Response:
    if is_htmx(request):
        return toast(request, message, status_code=409)
    raise HTTPException(status_code=409, detail=message)


@router.get("/projects/{slug}/runs/{number}", response_class=HTMLResponse, name="run_page")
def run_page(request: Request, ctx: ProjectDep, number: DbId) -> Response:
    """One run: live charts, where it stands, samples, rungs, log."""
    run = _run(ctx, number)
    return render(request, "runs/page.html", _status_context(ctx, run))


def _status_context(ctx: ProjectContext, run: Run) -> dict[str, Any]:
    job = run_job(ctx, run)
    status = run_status(run, job)
    return {
        "project": ctx.project,
        "run": run,
        "status": status,
        "job": job,
        "evaluate_query": _evaluate_query(ctx, run) if status.state == "finished" else "",
    }


def _evaluate_query(ctx: ProjectContext, run: Run) -> str:
    """The Evaluation page's query with this run's final LoRA chosen ("" without one)."""
    try:
        return urlencode({"lora": final_of_run(ctx.dir, run.number, run.output_files).id})
    except LoraNotFound:
        return ""


@router.get("/projects/{slug}/runs/{number}/status", response_class=HTMLResponse, name="run_status")
def run_status_part(request: Request, ctx: ProjectDep, number: DbId) -> Response:
    """Partial: the run's state, figures, rungs, question and actions."""
    return render(request, "runs/_status.html", _status_context(ctx, _run(ctx, number)))


@router.get(
    "/projects/{slug}/runs/{number}/history.json",
    name="run_history",
    response_class=JSONResponse,
    responses=media(200, "application/json"),
)
def run_history(ctx: ProjectDep, jobs: JobsDep, number: DbId) -> JSONResponse:
    """The charts' points so far (downsampled), newest samples and log lines."""
    run = _run(ctx, number)
    return JSONResponse(history(jobs, run))


@router.get(
    "/projects/{slug}/runs/{number}/events",
    name="run_events",
    response_class=EventSourceResponse,
    responses=media(200, "text/event-stream"),
)
async def run_events(
    ctx: ProjectDep,
    jobs: JobsDep,
    number: DbId,
    after: Annotated[int, Query(ge=0, le=SQLITE_MAX_INT)] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """The run's events as SSE, from after ``Last-Event-ID`` or ``after``."""
    run = await anyio.to_thread.run_sync(_run, ctx, number)
    if last_event_id is not None and last_event_id.strip().isdigit():
        after = max(after, int(last_event_id.strip()))
    run_id = run.id

    def read() -> Run | None:
        with ctx.workspace.db.reading() as session:
            return session.get(Run, run_id)

    return EventSourceResponse(run_stream(jobs, read, after), ping=PING_SECONDS)


@router.get(
    "/projects/{slug}/runs/{number}/samples/{path:path}",
    name="run_sample",
    response_class=Response,
    responses={200: {"description": "The image.", "content": _IMAGE_CONTENT}},
)
def run_sample(ctx: ProjectDep, number: DbId, path: str) -> Response:
    """A sample image the run wrote, by its path in the run's folder (the native
    trainer's samples/, sd-scripts' sample/, SimpleTuner's validation_images/,
    ai-toolkit's NAME/samples/)."""
    run = _run(ctx, number)
    found = sample_file(run_dir(ctx, run.number), path)
    if found is None:
        raise HTTPException(status_code=404, detail="There is no such sample.")
    media_type = IMAGE_TYPES[found.suffix.lower()]
    return FileResponse(found, media_type=media_type, headers={"Cache-Control": "no-cache"})


def _back(request: Request, ctx: ProjectContext, run: Run) -> Response:
    url = str(request.url_for("run_page", slug=ctx.project.slug, number=run.number))
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.post(
    "/projects/{slug}/runs/{number}/cancel",
    response_class=HTMLResponse,
    responses=answers(204, 303),
)
def cancel(request: Request, ctx: ProjectDep, jobs: JobsDep, number: DbId) -> Response:
    """Stop the run's trainer (its whole process group); checkpoints stay."""
    run = cancel_run(ctx, jobs, _run(ctx, number))
    return _back(request, ctx, run)


@router.post(
    "/projects/{slug}/runs/{number}/resume",
    response_class=HTMLResponse,
    responses=answers(204, 303, 409),
)
def resume(request: Request, ctx: ProjectDep, jobs: JobsDep, number: DbId) -> Response:
    """Continue a stopped run from its newest complete checkpoint."""
    run = _run(ctx, number)
    try:
        run = resume_run(ctx, jobs, run)
    except TrainingRefused as exc:
        return _refused(request, " ".join(exc.reasons))
    except JobBusy as exc:
        return _refused(request, f"{exc} Wait for it to finish, then resume.")
    return _back(request, ctx, run)


@router.post(
    "/projects/{slug}/runs/{number}/answer",
    response_class=HTMLResponse,
    responses=answers(204, 303, 409),
)
def answer(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    number: DbId,
    agree: Annotated[str, Form(pattern="^(yes|no)$")],
) -> Response:
    """The artist's answer to the run's question (train one resolution step lower?)."""
    run = _run(ctx, number)
    try:
        run = answer_question(ctx, jobs, run, agree == "yes")
    except TrainingRefused as exc:
        return _refused(request, " ".join(exc.reasons))
    except JobBusy as exc:
        return _refused(request, f"{exc} Wait for it to finish.")
    return _back(request, ctx, run)
