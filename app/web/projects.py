"""Projects: the list, the intent interview (new project) and the overview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app import journal
from app.gates.state import gate_states, training_allowed
from app.grimoire import GrimoireError
from app.intent import (
    CAPTION_FORMATS,
    MODEL_FAMILIES,
    TRAINING_TYPES,
    check_trigger_word,
)
from app.pipeline import PHASES
from app.projects import Intent, IntentErrors, create_project, list_projects, validate_intent
from app.web.answers import answers
from app.web.deps import ProjectDep, WorkspaceDep
from app.web.templating import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse, name="projects")
def projects_page(request: Request, workspace: WorkspaceDep) -> Response:
    """Every project, newest first; an explanation and a start button when there are none."""
    return render(request, "projects/list.html", {"projects": list_projects(workspace)})


def _wizard_context(
    workspace: WorkspaceDep, intent: Intent, errors: dict[str, str] | None = None
) -> dict[str, object]:
    studio_error = None
    try:
        studio_models = workspace.studio().base_models
    except GrimoireError as exc:
        studio_models, studio_error = [], str(exc)
    return {
        "intent": intent,
        "errors": errors or {},
        "training_types": TRAINING_TYPES,
        "families": MODEL_FAMILIES,
        "caption_formats": CAPTION_FORMATS,
        "studio_models": studio_models,
        "studio_error": studio_error,
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


@router.post("/projects", response_class=HTMLResponse, responses=answers(303, 422))
def create_project_submit(
    request: Request,
    workspace: WorkspaceDep,
    name: Annotated[str, Form()] = "",
    training_type: Annotated[str, Form()] = "",
    trigger_word: Annotated[str, Form()] = "",
    base_model: Annotated[str, Form()] = "",
    base_model_path: Annotated[str, Form()] = "",
    model_family: Annotated[str, Form()] = "",
    caption_format: Annotated[str, Form()] = "",
    must_vary: Annotated[str, Form()] = "",
    must_stay: Annotated[str, Form()] = "",
    understood: Annotated[str, Form()] = "",
) -> Response:
    """Create the project, or show the interview again with every problem named."""
    intent = Intent(
        name=name,
        training_type=training_type,
        trigger_word=trigger_word,
        base_model=base_model_path.strip() if base_model == "__path__" else base_model,
        model_family=model_family,
        caption_format=caption_format,
        must_vary=must_vary,
        must_stay=must_stay,
    )
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
        context["base_model_choice"] = base_model
        context["base_model_path"] = base_model_path
        return render(request, "projects/new.html", context, status_code=422)
    return RedirectResponse(request.url_for("project_overview", slug=project.slug), status_code=303)


@router.get(
    "/projects/{slug}",
    response_class=HTMLResponse,
    name="project_overview",
    responses=answers(404),
)
def project_overview(request: Request, ctx: ProjectDep) -> Response:
    """The pipeline, the four gate lights and the journal."""
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
        },
    )
