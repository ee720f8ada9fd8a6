"""The Studio page: the GPU loragate estimates for (its name and memory) and the price
of an hour of it, written to grimoire/studio.md without touching the rest of the file.

No HTMX: GET /studio → the form; POST /studio → 303 to /studio?saved=1 (which says what
changed), or the form again (422) with each problem named and the typed values kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.grimoire import GrimoireError, studio_path
from app.studio_gpu import GpuErrors, GpuForm, save_gpu
from app.web.answers import answers
from app.web.deps import WorkspaceDep
from app.web.templating import render

router = APIRouter()


def _form_of(workspace: WorkspaceDep) -> tuple[GpuForm, str | None]:
    try:
        gpu = workspace.studio().gpu
    except GrimoireError as exc:
        return GpuForm(), str(exc)
    return GpuForm(
        name=gpu.name or "",
        vram_gb=f"{gpu.vram_gb:g}" if gpu.vram_gb is not None else "",
        hourly_cost=f"{gpu.hourly_cost:g}",
        currency=gpu.currency,
    ), None


def _context(workspace: WorkspaceDep, form: GpuForm, **extra: Any) -> dict[str, Any]:
    try:
        base_models = workspace.studio().base_models
    except GrimoireError:
        base_models = []
    return {
        "base_models": base_models,
        "form": form,
        "errors": {},
        "studio_file": studio_path(workspace.grimoire_dir),
        "saved": False,
        "unreadable": None,
    } | extra


@router.get("/studio", response_class=HTMLResponse, name="studio_settings")
def studio_page(
    request: Request, workspace: WorkspaceDep, saved: Annotated[str, Query()] = ""
) -> Response:
    """The GPU and its price per hour, as studio.md holds them."""
    form, problem = _form_of(workspace)
    return render(
        request,
        "studio/page.html",
        _context(workspace, form, saved=bool(saved), unreadable=problem),
    )


@router.post("/studio", response_class=HTMLResponse, responses=answers(303, 409, 422))
def studio_submit(
    request: Request,
    workspace: WorkspaceDep,
    name: Annotated[str, Form(max_length=200)] = "",
    vram_gb: Annotated[str, Form(max_length=40)] = "",
    hourly_cost: Annotated[str, Form(max_length=40)] = "",
    currency: Annotated[str, Form(max_length=40)] = "USD",
) -> Response:
    """Write the GPU settings to studio.md (only its gpu block changes)."""
    form = GpuForm(name, vram_gb, hourly_cost, currency)
    try:
        save_gpu(workspace.grimoire_dir, form)
    except GpuErrors as exc:
        context = _context(workspace, form, errors=exc.errors)
        return render(request, "studio/page.html", context, status_code=422)
    except GrimoireError as exc:
        context = _context(workspace, form, unreadable=str(exc))
        return render(request, "studio/page.html", context, status_code=409)
    return RedirectResponse(f"{request.url_for('studio_settings')}?saved=1", status_code=303)
