"""Auto-captioning, sample first: choose a captioner, caption a sample in the
background, read and adjust the drafts (redrafting without the model), approve the
recipe, then caption the rest in the background with a progress bar and Cancel.

HTMX contract:
- GET /projects/{slug}/captions/auto → the page (choices, the running job, the sample).
- POST .../captions/auto/sample (kind, scope, sample_size, general_threshold,
  character_threshold) → 303 back to the page, which shows the job; 422 with the reason
  when it cannot start (a captioner folder that is missing names what to put where).
- POST .../captions/auto/redraft (sample_job, blacklist, prefix, template)
  → ``autocaption/_sample.html`` for #sample (innerHTML); 422 inside it for a bad recipe.
- POST .../captions/auto/run (sample_job, blacklist, prefix, template) → 303 back to the
  page showing the run's progress and Cancel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.captions.autocaption import (
    CAPTIONERS,
    MAX_SAMPLE,
    RUN_JOB,
    SAMPLE_JOB,
    SCOPE_WORDS,
    SCOPES,
    AutoCaptionError,
    AutoCaptionSettings,
    captioner_problem,
    captioner_setups,
    run_params,
    sample_drafts,
    sample_params,
    scope_images,
)
from app.captions.captioners import CaptionRecipe, format_advice
from app.captions.captioners.base import source_words
from app.captions.content_lint import lint_caption
from app.captions.grid import caption_intent
from app.dataset.inventory import dataset_dir
from app.dataset.records import load_rows
from app.hub.offers import hub_captioners
from app.models import Job
from app.web.answers import answers
from app.web.deps import FormDbId, ProjectDep
from app.web.jobs import JobsDep
from app.web.outside import outside_for_page
from app.web.templating import is_htmx, render
from app.worker import JobBusy
from app.workspace import ProjectContext

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))


def _sample_job(jobs: JobsDep, ctx: ProjectContext, job_id: int | None = None) -> Job | None:
    job = jobs.get(job_id) if job_id else jobs.latest(SAMPLE_JOB, ctx.project.id)
    if job is None or job.project_id != ctx.project.id or job.kind != SAMPLE_JOB:
        return None
    return job if job.state == "done" else None


def _sample_context(
    ctx: ProjectContext, job: Job | None, recipe: CaptionRecipe, form: dict[str, str]
) -> dict[str, Any]:
    if job is None:
        return {"sample_job": None, "drafts": [], "recipe_form": form}
    rows = {row.path: row for row in load_rows(ctx)}
    root = dataset_dir(ctx)
    intent = caption_intent(ctx)
    drafts = []
    for draft in sample_drafts(ctx, job.result, recipe):
        path = draft.path.relative_to(root).as_posix()
        drafts.append(
            {
                "draft": draft,
                "image": rows.get(path),
                "path": path,
                "findings": lint_caption(path, draft.text, intent),
            }
        )
    return {
        "sample_job": job,
        "sample_settings": AutoCaptionSettings.from_json(job.result.get("settings", {})),
        "scope_words": SCOPE_WORDS,
        "drafts": drafts,
        "failures": job.result.get("failures", []),
        "recipe_form": form,
    }


def _page_context(ctx: ProjectContext, jobs: JobsDep, **extra: Any) -> dict[str, Any]:
    setups = captioner_setups(ctx)
    ready = [setup.kind for setup in setups if setup.ready]
    # The first captioner that is set up is the one offered.
    settings = extra.pop("settings", None) or AutoCaptionSettings(
        kind=ready[0] if ready else "wd14"
    )
    last_run = jobs.latest(RUN_JOB, ctx.project.id)
    last_sample = jobs.latest(SAMPLE_JOB, ctx.project.id)
    recipe_form = extra.pop("recipe_form", {"blacklist": "", "prefix": "", "template": ""})
    context = {
        "project": ctx.project,
        "captioners": CAPTIONERS,
        "setups": setups,
        "hub_captioners": hub_captioners(ctx.settings),
        "any_ready": bool(ready),
        "advice": {kind: format_advice(kind, ctx.project.caption_format) for kind in CAPTIONERS},  # type: ignore[arg-type]
        "scopes": SCOPES,
        "scope_counts": {scope: len(scope_images(ctx, scope, save=False)) for scope in SCOPES},
        "settings": settings,
        "max_sample": MAX_SAMPLE,
        "active_job": jobs.active(None, ctx.project.id),
        "last_run": last_run if last_run and last_run.state != "queued" else None,
        "last_sample_problem": last_sample
        if last_sample and last_sample.state == "failed"
        else None,
        "error": None,
        "recipe_error": None,
    }
    context |= _sample_context(ctx, _sample_job(jobs, ctx), CaptionRecipe(), recipe_form)
    return context | extra


@router.get("/projects/{slug}/captions/auto", response_class=HTMLResponse, name="autocaption_page")
def autocaption_page(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Choose a captioner and caption a sample; read it; then caption the rest."""
    return render(
        request,
        "autocaption/page.html",
        _page_context(ctx, jobs) | {"outside": outside_for_page(ctx, jobs)},
    )


def _back(request: Request, ctx: ProjectContext) -> Response:
    url = str(request.url_for("autocaption_page", slug=ctx.project.slug))
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.post(
    "/projects/{slug}/captions/auto/sample",
    response_class=HTMLResponse,
    responses=answers(204, 303, 422),
)
def caption_a_sample(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    kind: Annotated[str, Form()] = "wd14",
    scope: Annotated[str, Form()] = "missing",
    sample_size: Annotated[int, Form()] = 5,
    general_threshold: Annotated[float, Form()] = 0.35,
    character_threshold: Annotated[float, Form()] = 0.85,
) -> Response:
    """Start captioning the sample in the background."""
    try:
        settings = AutoCaptionSettings(
            kind, scope, sample_size, general_threshold, character_threshold
        )
        problem = captioner_problem(ctx, kind)
        if problem:
            raise AutoCaptionError(problem)
        jobs.start(
            SAMPLE_JOB,
            ctx.project.id,
            sample_params(ctx, settings),
            title=f"Captioning a sample of {sample_size} with the {source_words(kind)}",
        )
    except (AutoCaptionError, JobBusy) as exc:
        message = (
            f"{exc} Wait for it to finish, or cancel it." if isinstance(exc, JobBusy) else str(exc)
        )
        context = _page_context(ctx, jobs, error=message)
        return render(request, "autocaption/page.html", context, status_code=422)
    return _back(request, ctx)


@dataclass(frozen=True)
class RecipeForm:
    """The recipe fields as typed (shown again as they were), and the sample they
    belong to."""

    sample_job: int
    blacklist: str
    prefix: str
    template: str

    def typed(self) -> dict[str, str]:
        return {"blacklist": self.blacklist, "prefix": self.prefix, "template": self.template}

    def recipe(self) -> CaptionRecipe:
        try:
            return CaptionRecipe.build(
                blacklist=self.blacklist, prefix=self.prefix, template=self.template
            )
        except ValueError as exc:
            raise AutoCaptionError(str(exc)) from None


def _recipe_form(
    sample_job: FormDbId,
    blacklist: Annotated[str, Form()] = "",
    prefix: Annotated[str, Form()] = "",
    template: Annotated[str, Form()] = "",
) -> RecipeForm:
    return RecipeForm(sample_job, blacklist, prefix, template)


RecipeDep = Annotated[RecipeForm, Depends(_recipe_form)]


@router.post(
    "/projects/{slug}/captions/auto/redraft", response_class=HTMLResponse, responses=answers(422)
)
def redraft_sample(request: Request, ctx: ProjectDep, jobs: JobsDep, form: RecipeDep) -> Response:
    """Partial: the sample's drafts with this recipe (the model does not run again)."""
    job = _sample_job(jobs, ctx, form.sample_job)
    status, error = 200, None
    try:
        recipe = form.recipe()
    except AutoCaptionError as exc:
        recipe, error, status = CaptionRecipe(), str(exc), 422
    context = {"project": ctx.project, "recipe_error": error} | _sample_context(
        ctx, job, recipe, form.typed()
    )
    return render(request, "autocaption/_sample.html", context, status_code=status)


@router.post(
    "/projects/{slug}/captions/auto/run",
    response_class=HTMLResponse,
    responses=answers(204, 303, 422),
)
def caption_the_rest(request: Request, ctx: ProjectDep, jobs: JobsDep, form: RecipeDep) -> Response:
    """The artist approved the recipe: write the sample's drafts and caption the rest."""
    job = _sample_job(jobs, ctx, form.sample_job)
    try:
        if job is None:
            raise AutoCaptionError("Caption a sample first, and read it.")
        recipe = form.recipe()
        settings = AutoCaptionSettings.from_json(job.result.get("settings", {}))
        jobs.start(
            RUN_JOB,
            ctx.project.id,
            run_params(settings, recipe, job.id or 0),
            title=f"Auto-captioning with the {source_words(settings.kind)}",
        )
    except (AutoCaptionError, JobBusy) as exc:
        context = _page_context(ctx, jobs, recipe_form=form.typed(), recipe_error=str(exc))
        return render(request, "autocaption/page.html", context, status_code=422)
    return _back(request, ctx)


@router.get("/projects/{slug}/captions/auto/sample", include_in_schema=False)
def sample_address(request: Request, ctx: ProjectDep) -> Response:
    """A reload after a refused sample lands here: the auto-caption page, not 405."""
    url = request.url_for("autocaption_page", slug=ctx.project.slug)
    return RedirectResponse(url, status_code=303)
