"""Projects: the list, the intent interview (new project), the overview, changing the
answers, and archiving or deleting a project.

HTMX contract: none; every form posts and answers with a 303 (or the form again, 422,
with every problem named).
- GET  /projects → 303 to the list (what a reload shows after a failed create).
- GET  /projects/{slug}/intent → the answers that can be changed; POST → 303 to the
  overview, which names the gates the change put out of date.
- POST /projects/{slug}/archive | restore → 303 to the list or the overview.
- GET  /projects/{slug}/delete → what deleting removes and a form asking for the name;
  POST (confirm_name) → 303 to the list, or the page again (422) when not confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app import journal
from app.gates.state import gate_states, training_allowed
from app.grimoire import GrimoireError, Studio
from app.hub.catalogue import CatalogueError, load_catalogue
from app.hub.found import found_models
from app.intent import (
    CAPTION_FORMATS,
    MODEL_FAMILIES,
    TRAINING_TYPES,
    check_trigger_word,
)
from app.intent_change import FIELDS, change_intent
from app.pipeline import PHASES
from app.project_archive import (
    ProjectActionError,
    archive_project,
    delete_project,
    deletion_plan,
    restore_project,
)
from app.projects import (
    Intent,
    IntentErrors,
    count_archived,
    create_project,
    list_projects,
    validate_intent,
)
from app.web.answers import answers
from app.web.deps import ProjectDep, WorkspaceDep
from app.web.templating import render, route_exists
from app.workspace import Workspace

router = APIRouter()


@router.get("/", response_class=HTMLResponse, name="projects")
def projects_page(
    request: Request,
    workspace: WorkspaceDep,
    show: Annotated[str, Query()] = "",
    done: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Every project, newest first (``show=archived``: the archived ones); an
    explanation of what works today and a start button when there are none."""
    archived = show == "archived"
    ready = [p.key for p in PHASES if p.key == "intent" or route_exists(request, f"phase_{p.key}")]
    return render(
        request,
        "projects/list.html",
        {
            "projects": list_projects(workspace, archived=archived),
            "registered": _registered_loras(workspace),
            "showing_archived": archived,
            "archived_count": 0 if archived else count_archived(workspace),
            "phases": PHASES,
            "ready_keys": ready,
            "done": done,
        },
    )


def _registered_loras(workspace: WorkspaceDep) -> dict[str, list[str]]:
    """The studio's LoRAs by the project that registered them."""
    try:
        loras = workspace.studio().loras
    except GrimoireError:
        return {}
    found: dict[str, list[str]] = {}
    for lora in loras:
        if lora.project:
            found.setdefault(lora.project, []).append(f"{lora.name} (weight {lora.weight:g})")
    return found


@router.get("/projects", include_in_schema=False)
def projects_address(request: Request) -> Response:
    """A reload after a failed create lands here: the list, not 405."""
    return RedirectResponse(request.url_for("projects"), status_code=303)


def base_model_choices(workspace: Workspace) -> dict[str, Any]:
    """The base-model step's choices, read from this computer only: studio.md's models
    by name, then checkpoints found in the Hugging Face cache and the folders studio.md
    names (chosen by path), then the catalogue's models not here yet (to download)."""
    studio_error = None
    try:
        studio = workspace.studio()
    except GrimoireError as exc:
        studio, studio_error = Studio(), str(exc)
    try:
        catalogue = load_catalogue(workspace.settings)
    except CatalogueError as exc:
        catalogue, studio_error = {}, str(exc)
    found = [m for m in found_models(studio, catalogue) if m.kind == "base"]
    here = {m.name for m in found if m.source != "local"} | {m.name for m in studio.base_models}
    return {
        "studio_models": studio.base_models,
        "local_models": [m for m in found if not m.in_studio],
        "offered": [e for e in catalogue.values() if e.kind == "base" and e.name not in here],
        "families": MODEL_FAMILIES,
        "studio_error": studio_error,
    }


def _wizard_context(
    workspace: WorkspaceDep, intent: Intent, errors: dict[str, str] | None = None
) -> dict[str, object]:
    return base_model_choices(workspace) | {
        "intent": intent,
        "errors": errors or {},
        "training_types": TRAINING_TYPES,
        "caption_formats": CAPTION_FORMATS,
        "trigger_check": check_trigger_word(intent.trigger_word) if intent.trigger_word else None,
    }


@router.get("/projects/new", response_class=HTMLResponse, name="phase_intent")
def new_project_page(request: Request, workspace: WorkspaceDep) -> Response:
    """The intent interview."""
    intent = Intent(training_type="style", model_family="sdxl", caption_format="mixed")
    return render(request, "projects/new.html", _wizard_context(workspace, intent))


@router.get("/projects/new/explain", response_class=HTMLResponse)
def explain_choice(
    request: Request,
    training_type: Annotated[str, Query()] = "style",
    model_family: Annotated[str, Query()] = "sdxl",
) -> Response:
    """Partial: the content-style problem for the chosen type, and the caption format
    advice for the chosen family."""
    return render(
        request,
        "projects/_explain.html",
        {
            "training_type": TRAINING_TYPES.get(training_type),
            "family": MODEL_FAMILIES.get(model_family),
            "caption_formats": CAPTION_FORMATS,
        },
    )


@router.post("/projects/new/check-trigger", response_class=HTMLResponse)
def check_trigger(request: Request, trigger_word: Annotated[str, Form()] = "") -> Response:
    """Partial: errors and warnings for the trigger word as typed."""
    return render(
        request,
        "projects/_trigger_feedback.html",
        {"trigger_check": check_trigger_word(trigger_word) if trigger_word.strip() else None},
    )


@dataclass(frozen=True)
class AnswerForm:
    """The answers asked at creation and changeable later, as the form sends them: the
    base model is a studio.md name, or "__path__" with the path in ``base_model_path``."""

    answers: dict[str, str]
    base_model_choice: str
    base_model_path: str


def answer_form(
    training_type: Annotated[str, Form()] = "",
    base_model: Annotated[str, Form()] = "",
    base_model_path: Annotated[str, Form()] = "",
    model_family: Annotated[str, Form()] = "",
    caption_format: Annotated[str, Form()] = "",
    must_vary: Annotated[str, Form()] = "",
    must_stay: Annotated[str, Form()] = "",
) -> AnswerForm:
    answers = {
        "training_type": training_type,
        "model_family": model_family,
        "base_model": base_model_path.strip() if base_model == "__path__" else base_model,
        "caption_format": caption_format,
        "must_vary": must_vary,
        "must_stay": must_stay,
    }
    return AnswerForm(answers, base_model, base_model_path)


AnswerFormDep = Annotated[AnswerForm, Depends(answer_form)]


@router.post("/projects", response_class=HTMLResponse, responses=answers(303, 422))
def create_project_submit(
    request: Request,
    workspace: WorkspaceDep,
    form: AnswerFormDep,
    name: Annotated[str, Form()] = "",
    trigger_word: Annotated[str, Form()] = "",
    understood: Annotated[str, Form()] = "",
) -> Response:
    """Create the project, or show the interview again with every problem named."""
    intent = Intent(name=name, trigger_word=trigger_word, **form.answers)
    errors: dict[str, str] = {}
    project = None
    try:
        if understood:
            project, _ = create_project(workspace, intent)
        else:
            validate_intent(workspace, intent)
    except IntentErrors as exc:
        errors = dict(exc.errors)
    if not understood:
        errors["understood"] = (
            "Read how captions must be written for this kind of LoRA, then tick the box."
        )
    if project is None:
        context = _wizard_context(workspace, intent, errors)
        context["base_model_choice"] = form.base_model_choice
        context["base_model_path"] = form.base_model_path
        return render(request, "projects/new.html", context, status_code=422)
    return RedirectResponse(request.url_for("project_overview", slug=project.slug), status_code=303)


@router.get(
    "/projects/{slug}",
    response_class=HTMLResponse,
    name="project_overview",
    responses=answers(404),
)
def project_overview(
    request: Request, ctx: ProjectDep, done: Annotated[str, Query(max_length=40)] = ""
) -> Response:
    """The pipeline, the four gate lights and the journal."""
    return _overview(request, ctx, done=done)


def _overview(
    request: Request, ctx: ProjectDep, *, done: str = "", error: str = "", status_code: int = 200
) -> Response:
    with ctx.workspace.db.reading() as session:
        events = journal.recent(session, ctx.project)
    return render(
        request,
        "projects/overview.html",
        {
            "project": ctx.project,
            "phases": PHASES,
            "gates": gate_states(ctx),
            "permission": training_allowed(ctx),
            "events": events,
            "training_type": TRAINING_TYPES.get(ctx.project.training_type),
            "family": MODEL_FAMILIES.get(ctx.project.model_family),
            "caption_formats": CAPTION_FORMATS,
            "done": done,
            "error": error,
            # A job started with the project (the demo's) shows its progress here.
            "active_job": request.app.state.jobs.active(None, ctx.project.id),
        },
        status_code=status_code,
    )


def _answers_context(
    ctx: ProjectDep, intent: Intent, errors: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    return _wizard_context(ctx.workspace, intent, errors) | {"project": ctx.project} | extra


def _current_answers(ctx: ProjectDep) -> Intent:
    project = ctx.project
    return Intent(
        name=project.name,
        trigger_word=project.trigger_word,
        **{key: getattr(project, key) for key in FIELDS},
    )


@router.get("/projects/{slug}/intent", response_class=HTMLResponse, name="project_intent")
def intent_page(request: Request, ctx: ProjectDep) -> Response:
    """The answers that can be changed, as they are now."""
    return render(request, "projects/intent.html", _answers_context(ctx, _current_answers(ctx)))


@router.post("/projects/{slug}/intent", response_class=HTMLResponse, responses=answers(303, 422))
def intent_submit(request: Request, ctx: ProjectDep, form: AnswerFormDep) -> Response:
    """Save the changed answers (journaled); the overview then shows the stale gates."""
    try:
        change = change_intent(ctx, form.answers)
    except IntentErrors as exc:
        intent = _current_answers(ctx).model_copy(update=form.answers)
        context = _answers_context(
            ctx,
            intent,
            exc.errors,
            base_model_choice=form.base_model_choice,
            base_model_path=form.base_model_path,
        )
        return render(request, "projects/intent.html", context, status_code=422)
    url = request.url_for("project_overview", slug=ctx.project.slug)
    done = "intent" if change.changes else "intent-unchanged"
    return RedirectResponse(f"{url}?done={done}#gates", status_code=303)


@router.post("/projects/{slug}/archive", name="project_archive", responses=answers(303, 409))
def archive_submit(request: Request, ctx: ProjectDep) -> Response:
    """Hide the project from the list; every row and file is kept (journaled)."""
    try:
        archive_project(ctx.workspace, ctx.project)
    except ProjectActionError as exc:
        return _overview(request, ctx, error=str(exc), status_code=409)
    url = request.url_for("projects")
    query = urlencode({"done": f"archived:{ctx.project.name}"})
    return RedirectResponse(f"{url}?{query}", status_code=303)


@router.post("/projects/{slug}/restore", name="project_restore", responses=answers(303, 409))
def restore_submit(request: Request, ctx: ProjectDep) -> Response:
    """Put an archived project back in the list (journaled)."""
    try:
        restore_project(ctx.workspace, ctx.project)
    except ProjectActionError as exc:
        return _overview(request, ctx, error=str(exc), status_code=409)
    url = request.url_for("project_overview", slug=ctx.project.slug)
    return RedirectResponse(f"{url}?done=restored", status_code=303)


@router.get("/projects/{slug}/delete", response_class=HTMLResponse, name="project_delete")
def delete_page(request: Request, ctx: ProjectDep) -> Response:
    """What deleting removes, and the confirmation form."""
    plan = deletion_plan(ctx.workspace, ctx.project)
    return render(request, "projects/delete.html", {"project": ctx.project, "plan": plan})


@router.post("/projects/{slug}/delete", response_class=HTMLResponse, responses=answers(303, 422))
def delete_submit(
    request: Request,
    ctx: ProjectDep,
    confirm_name: Annotated[str, Form()] = "",
) -> Response:
    """Delete the project's rows and folder once its name is typed (logged)."""
    try:
        delete_project(ctx.workspace, ctx.project, confirm_name)
    except ProjectActionError as exc:
        plan = deletion_plan(ctx.workspace, ctx.project)
        context = {"project": ctx.project, "plan": plan, "error": str(exc)}
        return render(request, "projects/delete.html", context, status_code=422)
    url = request.url_for("projects")
    query = urlencode({"done": f"deleted:{ctx.project.name}"})
    return RedirectResponse(f"{url}?{query}", status_code=303)
