"""Phases 11–13 · Evaluate, Diagnose, Register: one page. Pick a LoRA (a run's final file
or checkpoint, an output folder's, or one imported into the project), make its grid in
the background, zoom into the sheet, compare two checkpoints side by side, read the
effect and leak curves, click the cell that looks right, tick the symptoms seen, apply a
fix, and register the recommended LoRA in the studio.

No HTMX swaps: every form POSTs and is answered with 303 to the page (GET never writes);
a running grid shows ``jobs/_progress.html``, which follows the job over SSE and reloads
the page when it ends.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.evaluation.curves import Curves
from app.evaluation.diagnosis import SYMPTOMS, diagnose, measured_symptoms
from app.evaluation.fixes import FixRefused, apply_fix
from app.evaluation.job import (
    GRID_JOB,
    GridRefused,
    grid_defaults,
    grid_request,
    parse_numbers,
)
from app.evaluation.loras import (
    LoraFile,
    LoraNotFound,
    default_lora,
    find_lora,
    list_loras,
)
from app.evaluation.recommendation import RecommendationRefused, read_recommendation, recommend
from app.evaluation.registration import RegistrationRefused, default_name, register
from app.evaluation.run_numbers import run_numbers
from app.evaluation.sheet import evaluation_dir, read_sheet, sheet_is_current, sheet_key
from app.grimoire import GrimoireError
from app.paths import UnsafePathError, safe_join
from app.web.answers import ONLY_REDIRECTS, answers, media
from app.web.deps import ProjectDep
from app.web.jobs import JobsDep
from app.web.templating import render
from app.worker import JobBusy
from app.workspace import ProjectContext

router = APIRouter(responses=answers(404))
CURVE_WIDTH, CURVE_HEIGHT, CURVE_PAD = 320, 160, 28


def _refuse(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def _lora_or_none(ctx: ProjectContext, lora_id: str) -> LoraFile | None:
    if not lora_id:
        return None
    try:
        return find_lora(ctx.dir, lora_id)
    except LoraNotFound:
        return None


def curve_points(curves: Curves, values: list[float], top: float) -> str:
    """SVG polyline points for one curve, x by weight, y by value (0 at the bottom)."""
    span = max(curves.weights) - min(curves.weights) or 1.0
    points = []
    for weight, value in zip(curves.weights, values, strict=True):
        x = CURVE_PAD + (weight - min(curves.weights)) / span * (CURVE_WIDTH - 2 * CURVE_PAD)
        y = CURVE_HEIGHT - CURVE_PAD - (value / top if top else 0) * (CURVE_HEIGHT - 2 * CURVE_PAD)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def _panel(ctx: ProjectContext, lora: LoraFile | None) -> dict[str, Any] | None:
    if lora is None:
        return None
    sheet = read_sheet(ctx.dir, lora.id)
    panel: dict[str, Any] = {"lora": lora, "sheet": sheet, "key": sheet_key(lora.id)}
    if sheet is not None:
        curves = Curves.from_json(sheet["curves"])
        top = max([*curves.effect, *curves.leak, 0.0]) * 1.1
        panel |= {
            "current": sheet_is_current(sheet, lora.path),
            "curves": curves,
            "top": top,
            "effect_points": curve_points(curves, curves.effect, top),
            "leak_points": curve_points(curves, curves.leak, top),
            "rows": [
                [cell for cell in sheet["cells"] if cell["row"] == row]
                for row in range(len(sheet["rows"]))
            ],
        }
    return panel


def _view(
    ctx: ProjectContext,
    jobs: JobsDep,
    lora_id: str,
    compare_id: str,
    symptoms: list[str],
    zoom: int,
) -> dict[str, Any]:
    loras = list_loras(ctx.dir)
    chosen = _lora_or_none(ctx, lora_id) or default_lora(loras)
    main = _panel(ctx, chosen)
    other = _panel(ctx, _lora_or_none(ctx, compare_id))
    curves = Curves.from_json(main["sheet"]["curves"]) if main and main["sheet"] else None
    numbers = run_numbers(ctx, chosen, curves)
    ticked = list(dict.fromkeys([*symptoms, *measured_symptoms(numbers)]))
    try:
        registered = [
            lora for lora in ctx.workspace.studio().loras if lora.project == ctx.project.slug
        ]
    except GrimoireError:
        registered = []
    return {
        "project": ctx.project,
        "loras": loras,
        "main": main,
        "other": other,
        "zoom": zoom,
        "job": jobs.active(GRID_JOB, ctx.project.id) or jobs.latest(GRID_JOB, ctx.project.id),
        "running": jobs.active(GRID_JOB, ctx.project.id) is not None,
        "recommendation": read_recommendation(ctx),
        "symptoms": SYMPTOMS,
        "ticked": ticked,
        "measured": measured_symptoms(numbers),
        "advice": diagnose(numbers, ticked),
        "numbers": numbers,
        "registered": registered,
        "default_name": default_name(ctx),
        "curve_size": (CURVE_WIDTH, CURVE_HEIGHT, CURVE_PAD),
        "grid_defaults": grid_defaults(ctx.project),
    }


def _back(request: Request, ctx: ProjectContext, anchor: str = "", **query: str) -> Response:
    url = str(request.url_for("phase_evaluate", slug=ctx.project.slug))
    query = {key: value for key, value in query.items() if value}
    if query:
        url += "?" + urlencode(query)
    return RedirectResponse(url + (f"#{anchor}" if anchor else ""), status_code=303)


@router.get("/projects/{slug}/evaluation", response_class=HTMLResponse, name="phase_evaluate")
def evaluation_page(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    lora: Annotated[str, Query(max_length=1000)] = "",
    compare: Annotated[str, Query(max_length=1000)] = "",
    symptom: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006 (FastAPI reads it)
    zoom: Annotated[int, Query(ge=1, le=4)] = 1,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The grid, the curves, the symptom checklist and registration."""
    context = _view(ctx, jobs, lora, compare, symptom, zoom) | {"done": done}
    return render(request, "evaluation/page.html", context)


@router.get("/projects/{slug}/diagnose", name="phase_diagnose", **ONLY_REDIRECTS)
def diagnose_page(request: Request, ctx: ProjectDep) -> Response:
    """Diagnosis lives on the Evaluation page."""
    return _back(request, ctx, "diagnosis")


@router.get("/projects/{slug}/register", name="phase_register", **ONLY_REDIRECTS)
def register_page(request: Request, ctx: ProjectDep) -> Response:
    """Registration lives on the Evaluation page."""
    return _back(request, ctx, "register")


@router.get(
    "/projects/{slug}/evaluation/files/{key}/{name:path}",
    name="evaluation_file",
    response_class=FileResponse,
    responses=media(200, "image/png"),
)
def evaluation_file(ctx: ProjectDep, key: str, name: str) -> Response:
    """A sheet or one of its cells."""
    try:
        path = safe_join(evaluation_dir(ctx.dir), f"{key}/{name}")
    except UnsafePathError:
        raise HTTPException(status_code=404, detail="There is no such picture.") from None
    if path.suffix != ".png" or not path.is_file():
        raise HTTPException(status_code=404, detail="There is no such picture.")
    return FileResponse(path, media_type="image/png")


@router.post(
    "/projects/{slug}/evaluation/grid",
    name="evaluation_grid",
    responses=answers(400),
    **ONLY_REDIRECTS,
)
def start_grid(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    lora: Annotated[list[str], Form(max_length=8)],
    weights: Annotated[str, Form(max_length=200)] = "",
    seeds: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Start the grid of one or two LoRA files in the background."""
    try:
        grid = grid_request(
            ctx,
            [item for item in lora if item],
            parse_numbers(weights, "weights") or None,
            parse_numbers(seeds, "seeds") or None,
        )
    except GridRefused as exc:
        raise _refuse(str(exc)) from None
    with contextlib.suppress(JobBusy):  # the running grid is what the page shows
        jobs.start(GRID_JOB, ctx.project.id, grid.params(), title=grid.title())
    ids = [item.id for item in grid.loras]
    return _back(request, ctx, "", lora=ids[0], compare=ids[1] if len(ids) > 1 else "")


@router.post(
    "/projects/{slug}/evaluation/recommend",
    name="evaluation_recommend",
    responses=answers(400),
    **ONLY_REDIRECTS,
)
def choose_cell(
    request: Request,
    ctx: ProjectDep,
    lora: Annotated[str, Form(max_length=1000)],
    weight: Annotated[float, Form(ge=0, le=10)],
) -> Response:
    """The clicked cell's LoRA and weight become the project's recommendation."""
    try:
        recommend(ctx, lora, weight)
    except (RecommendationRefused, LoraNotFound) as exc:
        raise _refuse(str(exc)) from None
    return _back(request, ctx, "register", lora=lora, done="recommended")


@router.post(
    "/projects/{slug}/evaluation/fix",
    name="evaluation_fix",
    responses=answers(400),
    **ONLY_REDIRECTS,
)
def fix(
    request: Request,
    ctx: ProjectDep,
    code: Annotated[str, Form(max_length=100)],
    lora: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Save a diagnosis's fix as a new config version (Gates 2 and 4 become stale)."""
    chosen = _lora_or_none(ctx, lora)
    sheet = read_sheet(ctx.dir, chosen.id) if chosen else None
    curves = Curves.from_json(sheet["curves"]) if sheet else None
    numbers = run_numbers(ctx, chosen, curves)
    try:
        apply_fix(ctx, numbers, code)
    except FixRefused as exc:
        raise _refuse(str(exc)) from None
    return _back(request, ctx, "diagnosis", lora=lora, done="fixed")


@router.post(
    "/projects/{slug}/evaluation/register",
    name="evaluation_register",
    responses=answers(400),
    **ONLY_REDIRECTS,
)
def register_lora(
    request: Request,
    ctx: ProjectDep,
    name: Annotated[str, Form(max_length=100)] = "",
    notes: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Copy the recommended LoRA into the studio and enter it in studio.md."""
    try:
        register(ctx, name, notes)
    except (RegistrationRefused, LoraNotFound) as exc:
        raise _refuse(str(exc)) from None
    return _back(request, ctx, "register", done="registered")
