"""The caption grid (phase 4): every image with its caption, approved by clicking its
picture, edited inline, filtered, changed in batches with one-step undo.

HTMX contract:
- GET /projects/{slug}/captions?filter=&tag=&concept=&page=&image= → the page; with HTMX the
  ``captions/_grid.html`` partial for #grid (innerHTML). One page holds at most
  ``PER_PAGE`` cards.
- POST .../captions/{id}/approve (version) toggles approved ↔ draft;
  .../captions/{id}/reject (version) toggles rejected ↔ draft;
  .../captions/{id}/text (text, version) saves an edit;
  .../captions/{id}/included (included=0|1) includes or excludes the image;
  .../captions/{id}/outside (keep=file|loragate|mine, text, version) resolves an edit
  made outside loragate
  → ``captions/_card.html`` for #card-{id} (outerHTML) with the progress and the Gate 1
  chip out of band; an edit on a stale version → 409 with the card showing both texts;
  an edit over an outside edit → 409 with the typed text kept beside the file's and
  loragate's; a stale approve/reject → 409 with the current text and a notice; a
  refusal (approving an image without a caption) → 400 with the card saying why (a
  toast in its place would remove the card).
  GET .../captions/{id}/card → the card as it is now.
- POST .../captions/batch (operation, tag, new_tag, scope=selection|filter, ids...),
  .../captions/approve-shown (shown=ID:VERSION...), .../captions/undo
  → ``captions/_grid.html`` for #grid, the undo bar, progress and Gate 1 chip out of
  band, a notice.
- POST .../trigger (trigger_word, confirm) → 303 to the grid (its notice and the word's
  warnings); 422 (toast for HTMX) when refused; a word captions already use → 422 with
  the captions named and a confirm button.
Without HTMX every POST answers 303 back to the grid.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.captions.batch import (
    BatchResult,
    approve_shown,
    tag_batch,
    undo_last,
    undoable_batch,
)
from app.captions.grid import FILTERS, GridQuery, caption_grid, current_progress, single_card
from app.captions.store import (
    CaptionConflict,
    CaptionError,
    captions_for_images,
    resolve_outside,
    save_text,
    set_status,
)
from app.captions.sync import take_in
from app.captions.trigger_change import TriggerInUse, change_trigger_word
from app.dataset.decisions import DecisionError, set_included
from app.gates.state import GateState, gate_state
from app.intent import check_trigger_word
from app.web.answers import answers
from app.web.deps import DbId, ProjectDep, id_pairs
from app.web.jobs import JobsDep
from app.web.outside import outside_for_page
from app.web.templating import is_htmx, render, toast
from app.words import plural
from app.workspace import ProjectContext

# Every route names a project: 404 when there is none.
router = APIRouter(responses=answers(404))

KEEP_CHOICES: dict[str, Literal["file", "loragate", "mine"]] = {
    "file": "file",
    "loragate": "loragate",
    "mine": "mine",
}
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


def _gate(ctx: ProjectContext) -> GateState:
    return gate_state(ctx, "dataset")


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
    drafted: Annotated[int, Query()] = 0,
    image: Annotated[str, Query()] = "",
) -> Response:
    """The grid: thumbnails, captions, filters, tag frequencies, batch operations."""
    context = _grid_context(request, ctx, jobs, GridQuery(filter, tag, concept, page, image))
    if is_htmx(request):
        return render(request, "captions/_grid.html", context)
    notice = None
    warnings: list[str] = []
    if trigger_changed is not None:
        notice = (
            f"The trigger word is now “{ctx.project.trigger_word}”; "
            f"{plural(trigger_changed, 'caption')} rewritten."
        )
        if drafted:
            notice += (
                f" {drafted} of them already used the word and went back to draft: read "
                "them again (filter “Not approved”)."
            )
        warnings = check_trigger_word(ctx.project.trigger_word).warnings
    return render(
        request,
        "captions/page.html",
        context
        | {
            "gate": _gate(ctx),
            "error": None,
            "page_notice": notice,
            "trigger_warnings": warnings,
            "outside": outside_for_page(ctx, jobs),
        },
    )


@router.post(
    "/projects/{slug}/captions/take-in",
    name="take_in_outside",
    responses=answers(303, 409),
)
def take_in_outside(request: Request, ctx: ProjectDep, jobs: JobsDep) -> Response:
    """Pick up what changed in the dataset folder outside loragate: new images get their
    records, new caption files become drafts (journaled). Back to the page it came from."""
    if jobs.active(None, ctx.project.id) is not None:
        message = "An import or audit is running; it picks these files up itself."
        if is_htmx(request):
            return toast(request, message, status_code=409)
        raise HTTPException(status_code=409, detail=message)
    take_in(ctx)
    project_url = str(request.url_for("project_overview", slug=ctx.project.slug))
    referer = request.headers.get("referer", "").split("#", 1)[0]
    back = referer if referer.startswith(project_url) else None
    return RedirectResponse(
        back or str(request.url_for("phase_captions", slug=ctx.project.slug)), status_code=303
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
    typed: str | None = None,
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
            "card_notice": notice,
            "typed_text": typed,
            "status_words": STATUS_WORDS,
            "progress": current_progress(ctx),
            "gate": _gate(ctx),
            "oob_progress": True,
        },
        status_code=status_code,
    )


def _card_action(
    request: Request, ctx: ProjectContext, image_id: int, action: Any, typed: str | None = None
) -> Response:
    """Run ``action``; answer with the card (HTMX) or back to the grid. A refused edit
    comes back with ``typed`` (what the artist typed) still in the field."""
    try:
        action()
    except CaptionConflict as conflict:
        if not is_htmx(request):
            raise HTTPException(status_code=409, detail=conflict.explanation) from None
        # An outside edit shows its own choices on the card (with the typed text).
        notice = None if conflict.reason == "outside" else conflict.explanation
        return _card(request, ctx, image_id, status_code=409, conflict=conflict, notice=notice)
    except (CaptionError, DecisionError) as exc:
        if not is_htmx(request):
            raise HTTPException(status_code=400, detail=str(exc)) from None
        # The card answers for itself: a toast in its place would take the card away.
        return _card(request, ctx, image_id, status_code=400, notice=str(exc), typed=typed)
    if not is_htmx(request):
        return _back(request, ctx, image_id)
    return _card(request, ctx, image_id)


@router.get("/projects/{slug}/captions/{image_id}/card", response_class=HTMLResponse)
def caption_card(request: Request, ctx: ProjectDep, image_id: DbId) -> Response:
    """Partial: one card as it is now."""
    return _card(request, ctx, image_id)


def _toggle(
    request: Request, ctx: ProjectContext, image_id: int, version: int, status: str
) -> Response:
    """Set ``status``, or back to draft when the caption has it already. A stale version
    means the text on screen is not the text now: nothing is approved (or rejected)
    unseen; the card comes back with the current text."""
    caption = captions_for_images(ctx, [image_id]).get(image_id)
    target = "draft" if caption is not None and caption.status == status else status
    return _card_action(request, ctx, image_id, lambda: set_status(ctx, image_id, target, version))


@router.post(
    "/projects/{slug}/captions/{image_id}/approve",
    response_class=HTMLResponse,
    name="caption_approve",
    responses=answers(303, 400, 409),
)
def approve_caption(
    request: Request, ctx: ProjectDep, image_id: DbId, version: Annotated[int, Form()]
) -> Response:
    """Clicking the picture: approve the caption as shown, or take the approval back."""
    return _toggle(request, ctx, image_id, version, "approved")


@router.post(
    "/projects/{slug}/captions/{image_id}/reject",
    response_class=HTMLResponse,
    name="caption_reject",
    responses=answers(303, 400, 409),
)
def reject_caption(
    request: Request, ctx: ProjectDep, image_id: DbId, version: Annotated[int, Form()]
) -> Response:
    """Mark the caption as wrong (or take that back)."""
    return _toggle(request, ctx, image_id, version, "rejected")


@router.post(
    "/projects/{slug}/captions/{image_id}/text",
    response_class=HTMLResponse,
    name="caption_text",
    responses=answers(303, 400, 409),
)
def edit_caption(
    request: Request,
    ctx: ProjectDep,
    image_id: DbId,
    version: Annotated[int, Form()],
    text: Annotated[str, Form()] = "",
) -> Response:
    """Save an inline edit (the trigger word is put back first if it went missing)."""
    return _card_action(
        request, ctx, image_id, lambda: save_text(ctx, image_id, text, version), typed=text
    )


@router.post(
    "/projects/{slug}/captions/{image_id}/included",
    response_class=HTMLResponse,
    name="caption_included",
    responses=answers(303, 400, 409),
)
def include_from_grid(
    request: Request, ctx: ProjectDep, image_id: DbId, included: Annotated[int, Form()]
) -> Response:
    """Exclude the image from training (or include it again); journaled."""
    return _card_action(request, ctx, image_id, lambda: set_included(ctx, image_id, bool(included)))


@router.post(
    "/projects/{slug}/captions/{image_id}/outside",
    response_class=HTMLResponse,
    name="caption_outside",
    responses=answers(303, 400, 409),
)
def resolve_outside_edit(
    request: Request,
    ctx: ProjectDep,
    image_id: DbId,
    keep: Annotated[str, Form()],
    text: Annotated[str, Form()] = "",
    version: Annotated[int | None, Form()] = None,
) -> Response:
    """After an edit outside loragate: keep the file's text, loragate's, or the text
    typed on the card when the edit was found (``text``, from ``version``)."""
    choice = KEEP_CHOICES.get(keep)
    if choice is None:
        raise HTTPException(
            status_code=400, detail="Choose your text, the file's text or loragate's."
        )
    return _card_action(
        request, ctx, image_id, lambda: resolve_outside(ctx, image_id, choice, text, version)
    )


def _view(
    filter: Annotated[str, Form()] = "all",
    tag_filter: Annotated[str, Form()] = "",
    concept: Annotated[str, Form()] = "",
    page: Annotated[int, Form()] = 1,
    image: Annotated[str, Form()] = "",
) -> GridQuery:
    """The grid view a batch form was sent from (captions/_query_fields.html)."""
    return GridQuery(filter, tag_filter, concept, page, image)


ViewDep = Annotated[GridQuery, Depends(_view)]


def _batch_response(
    request: Request, ctx: ProjectContext, jobs: JobsDep, query: GridQuery, notice: str
) -> Response:
    if not is_htmx(request):
        return RedirectResponse(_grid_url(request, ctx, query), status_code=303)
    context = _grid_context(request, ctx, jobs, query) | {
        "oob": True,
        "notice": notice,
        "gate": _gate(ctx),
    }
    return render(request, "captions/_grid.html", context)


# A batch's notice names at most this many different notes in full.
NOTES_IN_NOTICE = 2


def _first_names(paths: list[str]) -> str:
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _captions_named(paths: list[str]) -> str:
    if len(paths) == 1:
        return paths[0]
    return f"{len(paths)} captions ({_first_names(paths)})"


def _summary(result: BatchResult, done: str = "") -> str:
    """The batch's notice, said once above the grid: what changed, the approvals it took
    back, what was left as it was and why, and the notes themselves (a caption the batch
    did not change keeps no note of its own)."""
    parts = [done + result.message if result.changed else "No caption needed changing."]
    if result.unapproved:
        parts.append(
            f"{plural(len(result.unapproved), 'approval')} went back to draft "
            f"({_first_names(result.unapproved)}): read "
            f"{'it' if len(result.unapproved) == 1 else 'them'} again (filter “Not approved”)."
        )
    if result.excluded:
        parts.append(
            f"{plural(len(result.excluded), 'excluded image')} left alone: a batch never "
            "changes images excluded from training."
        )
    if result.skipped:
        parts.append(
            f"{len(result.skipped)} left as they were ("
            + "; ".join(f"{path}: {why}" for path, why in result.skipped[:3])
            + ("…" if len(result.skipped) > 3 else "")
            + ")."
        )
    by_note: dict[str, list[str]] = {}
    for path, note in result.notes:
        by_note.setdefault(note, []).append(path)
    for note, paths in list(by_note.items())[:NOTES_IN_NOTICE]:
        parts.append(f"{_captions_named(paths)}: {note}")
    hidden = len(by_note) - NOTES_IN_NOTICE
    if hidden > 0:
        parts.append(f"And {plural(hidden, 'other note')}.")
    return " ".join(parts)


@router.post(
    "/projects/{slug}/captions/batch",
    response_class=HTMLResponse,
    name="caption_batch",
    responses=answers(303, 400),
)
def batch_operation(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    query: ViewDep,
    operation: Annotated[str, Form()],
    tag: Annotated[str, Form()] = "",
    new_tag: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
    ids: Annotated[list[DbId] | None, Form()] = None,
) -> Response:
    """Add, remove or replace a tag in the selected captions or in the whole view. With
    no scope chosen (a page without script leaves it open), ticked images are the
    scope: a tick is never silently widened to the whole view."""
    if scope == "selection" or (scope != "filter" and ids):
        targets = list(ids or [])
        if not targets:
            raise HTTPException(
                status_code=400,
                detail="No image is selected: tick some (or press S on a card), or apply "
                "the operation to everything in this view.",
            )
    else:
        whole_view = GridQuery(query.filter, query.tag, query.concept, image=query.image)
        targets = caption_grid(ctx, whole_view).matching_ids
    try:
        result = tag_batch(ctx, operation, targets, tag, new_tag)
    except CaptionError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return _batch_response(request, ctx, jobs, query, _summary(result))


@router.post(
    "/projects/{slug}/captions/approve-shown",
    response_class=HTMLResponse,
    name="caption_approve_shown",
    responses=answers(303, 400),
)
def approve_all_shown(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    query: ViewDep,
    shown: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Approve every caption on the page, as it was shown."""
    seen = id_pairs(shown or [])
    return _batch_response(request, ctx, jobs, query, _summary(approve_shown(ctx, seen)))


@router.post(
    "/projects/{slug}/captions/undo",
    response_class=HTMLResponse,
    name="caption_undo",
    responses=answers(303, 400),
)
def undo(request: Request, ctx: ProjectDep, jobs: JobsDep, query: ViewDep) -> Response:
    """Undo the newest batch operation (captions changed since are left as they are)."""
    try:
        result = undo_last(ctx)
    except CaptionError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return _batch_response(request, ctx, jobs, query, _summary(result, "Undone: "))


@router.post(
    "/projects/{slug}/trigger",
    response_class=HTMLResponse,
    name="change_trigger",
    responses=answers(204, 303, 422),
)
def change_trigger(
    request: Request,
    ctx: ProjectDep,
    jobs: JobsDep,
    trigger_word: Annotated[str, Form()] = "",
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Change the project's trigger word: every caption is rewritten, one journal entry.
    A word the captions already use needs ``confirm``."""
    try:
        change = change_trigger_word(ctx, trigger_word, confirm_in_captions=confirm)
    except CaptionError as exc:
        if is_htmx(request):
            return toast(request, str(exc), status_code=422)
        in_use = exc if isinstance(exc, TriggerInUse) else None
        context = _grid_context(request, ctx, jobs, GridQuery()) | {
            "gate": _gate(ctx),
            "page_notice": None,
            "error": str(exc),
            "typed_trigger": trigger_word,
            "trigger_in_use": in_use,
            "trigger_warnings": in_use.warnings if in_use else [],
        }
        return render(request, "captions/page.html", context, status_code=422)
    url = str(request.url_for("phase_captions", slug=ctx.project.slug))
    params = {"trigger_changed": change.rewritten} | (
        {"drafted": change.drafted} if change.drafted else {}
    )
    url += "?" + urlencode(params)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
