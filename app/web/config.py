"""Phase 7 · Config and Gate 2: the preset picker, every field with its explanation, a
live panel (steps, VRAM, time and cost, Gate 2 findings, backend files) that follows the
form as it changes, and the Gate 2 page.

HTMX contract:
- POST /projects/{slug}/config/preview (HX): the form's current values → the
  ``config/_live_panel.html`` partial swapped into #live-panel; nothing is saved.
- POST /projects/{slug}/config: save (journaled), 303 back to the page; invalid values
  → the page again (422) with a message at each field, nothing lost.
- POST …/config/preset, …/config/confirm, /projects/{slug}/gates/config: 303 redirects.

An unreadable training.json never ends in an error page without a way out: the page
(and a save or confirmation posted from an old tab) shows the problem with the presets
to start over from, and applying one sets the broken file aside.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.gate_records import findings_of, record_result
from app.gates import config as gate2
from app.gates.state import gate_state
from app.intent import MODEL_FAMILIES, TRAINING_TYPES
from app.runs.records import fitted_run
from app.training.assessment import Assessment, assess
from app.training.backends import BACKEND_TITLES, BACKENDS, BackendFiles, BackendUnsupported
from app.training.config import ConfigFileError, TrainingConfig, config_path
from app.training.config_files import default_files_dir, files_for, write_backend_files
from app.training.field_docs import FIELD_GROUPS, field_docs
from app.training.presets import PRESET_KEYS, PRESET_SUMMARIES, PRESET_TITLES
from app.training.project_config import (
    apply_preset,
    confirm_estimate,
    current_config,
    project_preset,
    read_confirmation,
    save_changes,
)
from app.web.answers import ONLY_REDIRECTS, answers, media
from app.web.bundle import bundle_view
from app.web.config_form import CHECKBOX_MARKER, config_from_form, field_choices, field_kind
from app.web.deps import ProjectDep
from app.web.templating import render
from app.workspace import ProjectContext

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))


def _config_or_409(ctx: ProjectContext) -> TrainingConfig:
    """For downloads: the config, or a 409 whose message says how to start over."""
    try:
        return current_config(ctx)
    except ConfigFileError as exc:
        raise HTTPException(
            status_code=409,
            detail=f"{exc} Open the Config page and start over from a preset.",
        ) from None


def _broken_page(
    request: Request, ctx: ProjectContext, problem: ConfigFileError, status_code: int = 200
) -> Response:
    """The Config page when training.json cannot be used: the problem and the presets
    that start over (config_preset sets the broken file aside)."""
    return render(
        request,
        "config/broken.html",
        {
            "project": ctx.project,
            "problem": str(problem),
            "config_file": config_path(ctx.dir),
            "presets": [project_preset(ctx, key) for key in PRESET_KEYS],
            "preset_summaries": PRESET_SUMMARIES,
        },
        status_code=status_code,
    )


def _backend(ctx: ProjectContext, requested: str | None) -> str:
    if requested in BACKENDS:
        return requested  # type: ignore[return-value]
    return ctx.project.backend if ctx.project.backend in BACKENDS else "native"


def _preview(ctx: ProjectContext, assessment: Assessment, backend: str) -> dict[str, Any]:
    try:
        bundle: BackendFiles | None = files_for(ctx, assessment, backend)
        problem = None
    except BackendUnsupported as exc:
        bundle, problem = None, str(exc)
    return {"bundle": bundle, "problem": problem, "files_dir": default_files_dir(ctx, backend)}


def _panel_context(ctx: ProjectContext, config: TrainingConfig, backend: str) -> dict[str, Any]:
    assessment = assess(ctx, config, backend)
    findings = gate2.findings_for(assessment)
    confirmation = read_confirmation(ctx)
    return {
        "project": ctx.project,
        "a": assessment,
        "findings": findings,
        "blocking": [f for f in findings if f.severity == "block"],
        "backend": backend,
        "backends": BACKENDS,
        "backend_titles": BACKEND_TITLES,
        "preview": _preview(ctx, assessment, backend),
        "confirmation": confirmation,
        "confirmed": confirmation is not None and confirmation.config_digest == config.digest(),
        "config_digest": config.digest(),
        "vram_parts": _vram_parts(assessment),
    }


def _vram_parts(assessment: Assessment) -> list[dict[str, Any]]:
    """Bar segments as shares of the larger of the estimate and the GPU's memory."""
    scale = max(assessment.vram.total_gb, assessment.gpu.vram_gb or 0.0) or 1.0
    return [
        {"name": name, "gb": gb, "percent": 100.0 * gb / scale, "index": index}
        for index, (name, gb) in enumerate(assessment.vram.breakdown.items())
        if gb > 0
    ]


def _page_context(
    ctx: ProjectContext,
    config: TrainingConfig,
    backend: str,
    errors: dict[str, str] | None = None,
    form_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    context = _panel_context(ctx, config, backend)
    context.update(
        {
            "config": config,
            "values": form_values or config.model_dump(),
            "errors": errors or {},
            "groups": FIELD_GROUPS,
            "docs": field_docs(),
            "field_kind": field_kind,
            "field_choices": field_choices,
            "presets": [project_preset(ctx, key) for key in PRESET_KEYS],
            "preset_titles": PRESET_TITLES,
            "preset_summaries": PRESET_SUMMARIES,
            "training_type": TRAINING_TYPES.get(ctx.project.training_type),
            "family": MODEL_FAMILIES.get(ctx.project.model_family),
            "checkbox_marker": CHECKBOX_MARKER,
            "gate": gate_state(ctx, "config"),
            "fitted": fitted_run(ctx),
            "bundle": bundle_view(ctx),
        }
    )
    return context


@router.get("/projects/{slug}/config", response_class=HTMLResponse, name="phase_config")
def config_page(
    request: Request, ctx: ProjectDep, backend: Annotated[str | None, Query()] = None
) -> Response:
    """The config: presets, every field explained, the live panel."""
    try:
        config = current_config(ctx)
    except ConfigFileError as exc:
        return _broken_page(request, ctx, exc)
    return render(request, "config/page.html", _page_context(ctx, config, _backend(ctx, backend)))


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {key: form.get(key) for key in form}


@router.post("/projects/{slug}/config/preview", response_class=HTMLResponse, name="config_preview")
async def config_preview(request: Request, ctx: ProjectDep) -> Response:
    """Partial: the live panel for the form as it is now (nothing saved)."""
    form = await _form(request)
    try:
        saved = current_config(ctx)
    except ConfigFileError as exc:
        return render(request, "config/_form_errors.html", {"errors": {"training.json": str(exc)}})
    config, errors = config_from_form(form, saved)
    backend = _backend(ctx, form.get("preview_backend"))
    if config is None:
        return render(request, "config/_form_errors.html", {"errors": errors})
    return render(request, "config/_live_panel.html", _panel_context(ctx, config, backend))


@router.post(
    "/projects/{slug}/config",
    response_class=HTMLResponse,
    name="config_save",
    responses=answers(303, 409, 422),
)
async def config_save(request: Request, ctx: ProjectDep) -> Response:
    """Save the config (journaled, field by field) and rewrite the backend's files."""
    form = await _form(request)
    try:
        saved = current_config(ctx)
    except ConfigFileError as exc:
        return _broken_page(request, ctx, exc, status_code=409)
    backend = _backend(ctx, form.get("preview_backend"))
    config, errors = config_from_form(form, saved)
    if config is None:
        context = _page_context(ctx, saved, backend, errors, {**saved.model_dump(), **form})
        return render(request, "config/page.html", context, status_code=422)
    save_changes(ctx, config)
    assessment = assess(ctx, config, ctx.project.backend)
    with contextlib.suppress(BackendUnsupported):  # the page and Gate 2 explain it
        write_backend_files(ctx, assessment, ctx.project.backend)
    url = request.url_for("phase_config", slug=ctx.project.slug)
    return RedirectResponse(f"{url}?backend={backend}#live-panel", status_code=303)


@router.post(
    "/projects/{slug}/config/preset",
    name="config_preset",
    **ONLY_REDIRECTS,
    responses=answers(400),
)
def config_preset(
    request: Request, ctx: ProjectDep, preset: Annotated[str, Form()] = ""
) -> Response:
    """Start from a preset (journaled with the values it changed)."""
    if preset not in PRESET_KEYS:
        raise HTTPException(status_code=400, detail="Choose Quick, Standard or Thorough.")
    apply_preset(ctx, preset)
    return RedirectResponse(request.url_for("phase_config", slug=ctx.project.slug), status_code=303)


@router.post(
    "/projects/{slug}/config/confirm",
    name="config_confirm",
    **ONLY_REDIRECTS,
    responses=answers(409),
)
def config_confirm(
    request: Request, ctx: ProjectDep, config_digest: Annotated[str, Form()] = ""
) -> Response:
    """The artist accepts the time and cost shown for the saved config (journaled)."""
    try:
        config = current_config(ctx)
    except ConfigFileError as exc:
        return _broken_page(request, ctx, exc, status_code=409)
    if config_digest != config.digest():
        raise HTTPException(
            status_code=409,
            detail="The config changed since this estimate was shown: save it, then confirm "
            "the new estimate.",
        )
    assessment = assess(ctx, config)
    time = assessment.time
    summary = (
        f"{time.steps} steps, about {time.duration_words()} at {time.seconds_per_step:.2f} s "
        f"per step, {time.cost_words()}, about {assessment.vram.total_gb:.1f} GB "
        "of GPU memory"
    )
    confirm_estimate(ctx, config.digest(), time.steps, summary)
    return RedirectResponse(request.url_for("phase_config", slug=ctx.project.slug), status_code=303)


def _bundle(ctx: ProjectContext, backend: str) -> BackendFiles:
    if backend not in BACKENDS:
        raise HTTPException(status_code=404, detail=f"There is no trainer “{backend}”.")
    config = _config_or_409(ctx)
    try:
        return files_for(ctx, assess(ctx, config, backend), backend)
    except BackendUnsupported as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


@router.get(
    "/projects/{slug}/config/files/{backend}.zip",
    name="config_bundle",
    response_class=Response,
    responses=media(200, "application/zip") | answers(409),
)
def config_bundle(ctx: ProjectDep, backend: str) -> Response:
    """Every file of one backend, zipped."""
    bundle = _bundle(ctx, backend)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in bundle.files.items():
            archive.writestr(name, text)
    filename = f"{ctx.project.slug}-{backend}.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/projects/{slug}/config/files/{backend}/{name}",
    name="config_file",
    response_class=Response,
    responses=media(200, "text/plain") | answers(409),
)
def config_file(ctx: ProjectDep, backend: str, name: str) -> Response:
    """One generated file, as a download."""
    bundle = _bundle(ctx, backend)
    if name not in bundle.files:
        raise HTTPException(
            status_code=404, detail=f"{BACKEND_TITLES[backend]} has no file “{name}”."
        )
    return Response(
        bundle.files[name],
        media_type="text/plain; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/projects/{slug}/gates/config", response_class=HTMLResponse, name="gate_config")
def gate_page(request: Request, ctx: ProjectDep) -> Response:
    """Gate 2: its stored verdict, whether it is current, and every finding."""
    state = gate_state(ctx, "config")
    findings = findings_of(state.record) if state.record else []
    return render(
        request,
        "config/gate.html",
        {"project": ctx.project, "gate": state, "findings": findings},
    )


@router.post(
    "/projects/{slug}/gates/config",
    name="gate_config_run",
    **ONLY_REDIRECTS,
)
def gate_run(request: Request, ctx: ProjectDep) -> Response:
    """Check Gate 2 now and record the result (journaled)."""
    record_result(ctx, gate2.evaluate(ctx))
    return RedirectResponse(request.url_for("gate_config", slug=ctx.project.slug), status_code=303)
