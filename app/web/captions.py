"""The caption grid (phase 4): every image with its caption, approved by clicking its
picture, edited inline, filtered, changed in batches with one-step undo.

HTMX contract:
- GET /projects/{slug}/captions?filter=&tag=&concept=&page= → the page; with HTMX the
  ``captions/_grid.html`` partial for #grid (innerHTML). One page holds at most
  ``PER_PAGE`` cards.
- POST .../captions/{id}/approve (version) toggles approved ↔ draft;
  .../captions/{id}/reject (version) toggles rejected ↔ draft;
  .../captions/{id}/text (text, version) saves an edit;
  .../captions/{id}/included (included=0|1) includes or excludes the image;
  .../captions/{id}/outside (keep=file|loragate) resolves an edit made outside loragate
  → ``captions/_card.html`` for #card-{id} (outerHTML) with the progress out of band;
  a stale version → 409 with the card showing both texts; a refusal → 400 toast.
  GET .../captions/{id}/card → the card as it is now.
- POST .../captions/batch (operation, tag, new_tag, scope=selection|filter, ids...),
  .../captions/approve-shown (shown=ID:VERSION...), .../captions/undo
  → ``captions/_grid.html`` for #grid, the undo bar and progress out of band, a notice.
- POST .../trigger (trigger_word) → 303 to the grid; 422 (toast for HTMX) when refused.
Without HTMX every POST answers 303 back to the grid.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.dataset.caption_batch import (
    BatchResult,
    approve_shown,
    tag_batch,
    undo_last,
    undoable_batch,
)
from app.dataset.caption_grid import FILTERS, GridQuery, caption_grid, current_progress, single_card
from app.dataset.caption_store import (
    CaptionConflict,
    CaptionError,
    resolve_outside,
    save_text,
    set_status,
)
from app.dataset.caption_sync import take_in_for_page
from app.dataset.decisions import DecisionError, set_included
from app.dataset.trigger_change import change_trigger_word
from app.gates.state import gate_state
from app.web.deps import ProjectDep
from app.web.jobs import JobsDep
from app.web.templating import is_htmx, render, toast
from app.workspace import ProjectContext

router = APIRouter()

STATUS_WORDS = {
    "approved": "approved",
    "draft": "draft",
    "rejected": "rejected",
    "none": "no caption",
}


def _grid_url(request: Request, ctx: ProjectContext, query: GridQuery, **changes: object) -> str:
    base = str(request.url_for("phase_captions", slug=ctx.project.slug))
    params = query.params(**changes)
    return f"{base}?{urlencode(params)}" if params else base


def _grid_context(
    request: Request, ctx: ProjectContext, jobs: JobsDep, query: GridQuery
) -> dict[str, Any]:
    grid = caption_grid(ctx, query)
    return {
        "project": ctx.project,
        "grid": grid,
        "query": grid.query,
        "filters": FILTERS,
        "status_words": STATUS_WORDS,
        "grid_url": lambda **changes: _grid_url(request, ctx, grid.query, **changes),
        "undo": undoable_batch(ctx),
        "progress": grid.progress,
        "active_job": jobs.active(None, ctx.project.id),
    }


@router.get("/projects/{slug}/captions", response_class=HTMLResponse, name="phase_captions")
def captions_page(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    filter: Annotated[str, Query()] = "all",
    tag: Annotated[str, Query()] = "",
    concept: Annotated[str, Query()] = "",
    page: Annotated[int, Query()] = 1,
    trigger_changed: Annotated[int | None, Query()] = None,
) -> Response:
    """The grid: thumbnails, captions, filters, tag frequencies, batch operations."""
    if jobs.active(None, ctx.project.id) is None:
        # Caption files that appeared since (dropped in the folder) become drafts; while
        # an import or audit runs, it does this itself.
        take_in_for_page(ctx)
    context = _grid_context(request, ctx, jobs, GridQuery(filter, tag, concept, page))
    if is_htmx(request):
        return render(request, "captions/_grid.html", context)
    state = gate_state(ctx, "dataset")
    notice = None
    if trigger_changed is not None:
        notice = (
            f"The trigger word is now “{ctx.project.trigger_word}”; {trigger_changed} "
            f"caption{'s' if trigger_changed != 1 else ''} rewritten."
        )
    return render(
        request,
        "captions/page.html",
        context | {"gate": state, "error": None, "page_notice": notice},
    )


def _back(request: Request, ctx: ProjectContext, image_id: int | None = None) -> Response:
    url = str(request.url_for("phase_captions", slug=ctx.project.slug))
    referer = request.headers.get("referer", "")
    if referer.startswith(url):
        url = referer.split("#", 1)[0]
    return RedirectResponse(url + (f"#card-{image_id}" if image_id else ""), status_code=303)


def _card(
    request: Request,
    ctx: ProjectContext,
    image_id: int,
    *,
    status_code: int = 200,
    conflict: CaptionConflict | None = None,
    notice: str | None = None,
) -> Response:
    card = single_card(ctx, image_id)
    if card is None:
        raise HTTPException(status_code=404, detail="This image is no longer in the dataset.")
    return render(
        request,
        "captions/_card.html",
        {
            "project": ctx.project,
            "card": card,
            "conflict": conflict,
            "notice": notice,
            "status_words": STATUS_WORDS,
            "progress": current_progress(ctx),
            "oob_progress": True,
        },
        status_code=status_code,
    )


def _card_action(request: Request, ctx: ProjectContext, image_id: int, action: Any) -> Response:
    """Run ``action``; answer with the card (HTMX) or back to the grid."""
    try:
        action()
    except CaptionConflict as conflict:
        if not is_htmx(request):
            raise HTTPException(status_code=409, detail=conflict.explanation) from None
        notice = None if conflict.reason == "outside" else conflict.explanation
        return _card(request, ctx, image_id, status_code=409, conflict=conflict, notice=notice)
    except (CaptionError, DecisionError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if not is_htmx(request):
        return _back(request, ctx, image_id)
    return _card(request, ctx, image_id)


@router.get("/projects/{slug}/captions/{image_id}/card", response_class=HTMLResponse)
def caption_card(request: Request, ctx: ProjectDep, image_id: int) -> Response:
    """Partial: one card as it is now."""
    return _card(request, ctx, image_id)


def _toggle(
    request: Request, ctx: ProjectContext, image_id: int, version: int, status: str
) -> Response:
    """Set ``status``, or back to draft when the caption has it already. A stale version
    means the text on screen is not the text now: nothing is approved (or rejected)
    unseen; the card comes back with the current text."""
    card = single_card(ctx, image_id)
    target = "draft" if card is not None and card.status == status else status
    return _card_action(request, ctx, image_id, lambda: set_status(ctx, image_id, target, version))


@router.post(
    "/projects/{slug}/captions/{image_id}/approve",
    response_class=HTMLResponse,
    name="caption_approve",
)
def approve_caption(
    request: Request, ctx: ProjectDep, image_id: int, version: Annotated[int, Form()]
) -> Response:
    """Clicking the picture: approve the caption as shown, or take the approval back."""
    return _toggle(request, ctx, image_id, version, "approved")


@router.post(
    "/projects/{slug}/captions/{image_id}/reject",
    response_class=HTMLResponse,
    name="caption_reject",
)
def reject_caption(
    request: Request, ctx: ProjectDep, image_id: int, version: Annotated[int, Form()]
) -> Response:
    """Mark the caption as wrong (or take that back)."""
    return _toggle(request, ctx, image_id, version, "rejected")


@router.post(
    "/projects/{slug}/captions/{image_id}/text", response_class=HTMLResponse, name="caption_text"
)
def edit_caption(
    request: Request,
    ctx: ProjectDep,
    image_id: int,
    version: Annotated[int, Form()],
    text: Annotated[str, Form()] = "",
) -> Response:
    """Save an inline edit (the trigger word is put back first if it went missing)."""
    return _card_action(request, ctx, image_id, lambda: save_text(ctx, image_id, text, version))


@router.post(
    "/projects/{slug}/captions/{image_id}/included",
    response_class=HTMLResponse,
    name="caption_included",
)
def include_from_grid(
    request: Request, ctx: ProjectDep, image_id: int, included: Annotated[int, Form()]
) -> Response:
    """Exclude the image from training (or include it again); journaled."""
    return _card_action(request, ctx, image_id, lambda: set_included(ctx, image_id, bool(included)))


@router.post(
    "/projects/{slug}/captions/{image_id}/outside",
    response_class=HTMLResponse,
    name="caption_outside",
)
def resolve_outside_edit(
    request: Request, ctx: ProjectDep, image_id: int, keep: Annotated[str, Form()]
) -> Response:
    """After an edit outside loragate: keep the file's text or loragate's."""
    if keep not in ("file", "loragate"):
        raise HTTPException(status_code=400, detail="Choose the file's text or loragate's.")
    return _card_action(
        request,
        ctx,
        image_id,
        lambda: resolve_outside(ctx, image_id, "file" if keep == "file" else "loragate"),
    )


def _view(
    filter: Annotated[str, Form()] = "all",
    tag_filter: Annotated[str, Form()] = "",
    concept: Annotated[str, Form()] = "",
    page: Annotated[int, Form()] = 1,
) -> GridQuery:
    """The grid view a batch form was sent from (captions/_query_fields.html)."""
    return GridQuery(filter, tag_filter, concept, page)


ViewDep = Annotated[GridQuery, Depends(_view)]


def _batch_response(
    request: Request, ctx: ProjectContext, jobs: JobsDep, query: GridQuery, notice: str
) -> Response:
    if not is_htmx(request):
        return RedirectResponse(_grid_url(request, ctx, query), status_code=303)
    context = _grid_context(request, ctx, jobs, query) | {"oob": True, "notice": notice}
    return render(request, "captions/_grid.html", context)


def _summary(result: BatchResult, done: str = "") -> str:
    parts = [done + result.message if result.changed else "No caption needed changing."]
    if result.skipped:
        parts.append(
            f"{len(result.skipped)} left as they were ("
            + "; ".join(f"{path}: {why}" for path, why in result.skipped[:3])
            + ("…" if len(result.skipped) > 3 else "")
            + ")."
        )
    if result.notes:
        parts.append(f"{len(result.notes)} have a note on their card.")
    return " ".join(parts)


@router.post("/projects/{slug}/captions/batch", response_class=HTMLResponse, name="caption_batch")
def batch_operation(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    query: ViewDep,
    operation: Annotated[str, Form()],
    tag: Annotated[str, Form()] = "",
    new_tag: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "filter",
    ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Add, remove or replace a tag in the selected captions or in the whole view."""
    if scope == "selection":
        targets = list(ids or [])
        if not targets:
            raise HTTPException(
                status_code=400,
                detail="No image is selected: tick some (or press S on a card), or apply "
                "the operation to everything in this view.",
            )
    else:
        targets = caption_grid(ctx, GridQuery(query.filter, query.tag, query.concept)).matching_ids
    try:
        result = tag_batch(ctx, operation, targets, tag, new_tag)
    except CaptionError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return _batch_response(request, ctx, jobs, query, _summary(result))


@router.post(
    "/projects/{slug}/captions/approve-shown",
    response_class=HTMLResponse,
    name="caption_approve_shown",
)
def approve_all_shown(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    query: ViewDep,
    shown: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Approve every caption on the page, as it was shown."""
    seen = []
    for item in shown or []:
        image_id, _, version = item.partition(":")
        if image_id.isdigit() and version.isdigit():
            seen.append((int(image_id), int(version)))
    return _batch_response(request, ctx, jobs, query, _summary(approve_shown(ctx, seen)))


@router.post("/projects/{slug}/captions/undo", response_class=HTMLResponse, name="caption_undo")
def undo(request: Request, ctx: ProjectDep, jobs: JobsDep, query: ViewDep) -> Response:
    """Undo the newest batch operation (captions changed since are left as they are)."""
    try:
        result = undo_last(ctx)
    except CaptionError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return _batch_response(request, ctx, jobs, query, _summary(result, "Undone: "))


@router.post("/projects/{slug}/trigger", response_class=HTMLResponse, name="change_trigger")
def change_trigger(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    trigger_word: Annotated[str, Form()] = "",
) -> Response:
    """Change the project's trigger word: every caption is rewritten, one journal entry."""
    try:
        change = change_trigger_word(ctx, trigger_word)
    except CaptionError as exc:
        if is_htmx(request):
            return toast(request, str(exc), status_code=422)
        context = _grid_context(request, ctx, jobs, GridQuery()) | {
            "gate": gate_state(ctx, "dataset"),
            "page_notice": None,
            "error": str(exc),
            "typed_trigger": trigger_word,
        }
        return render(request, "captions/page.html", context, status_code=422)
    url = str(request.url_for("phase_captions", slug=ctx.project.slug))
    url += "?" + urlencode({"trigger_changed": change.rewritten})
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
