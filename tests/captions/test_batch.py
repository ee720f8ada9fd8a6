"""Batch operations over captions and their one-step undo; changing the trigger word."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event

from app.captions.batch import approve_shown, tag_batch, undo_last, undoable_batch
from app.captions.store import CaptionError, load_captions, save_text, set_status
from app.captions.text import NOTE_KEEP_TRIGGER
from app.captions.trigger_change import TriggerInUse, change_trigger_word
from app.journal import journal_path
from app.projects import get_project
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import (
    TRIGGER,
    caption_of,
    caption_project,
    mira_intent,
    sidecar,
)

PATHS = [f"10_mira/{index:03d}.png" for index in range(4)]


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    ctx = caption_project(
        workspace,
        mira_intent(make_intent),
        [
            f"{TRIGGER}, red scarf, smiling",
            f"{TRIGGER}, red scarf, city street",
            f"{TRIGGER}, blue coat",
            f"{TRIGGER}, red scarf, night",
        ],
    )
    for caption in load_captions(ctx).values():
        set_status(ctx, caption.image_id, "approved", caption.version)
    return ctx


def ids(ctx: ProjectContext) -> list[int]:
    return [caption_of(ctx, path).image_id for path in PATHS]


def test_remove_a_tag_then_undo_it(ctx: ProjectContext) -> None:
    result = tag_batch(ctx, "remove", ids(ctx), "Red_Scarf")  # any spelling of the tag
    assert result.changed == [PATHS[0], PATHS[1], PATHS[3]]
    assert result.message == "Removed “Red_Scarf” from 3 captions."
    first = caption_of(ctx, PATHS[0])
    assert (first.text, first.status, first.source) == (f"{TRIGGER}, smiling", "draft", "manual")
    assert sidecar(ctx, PATHS[0]).read_text() == f"{TRIGGER}, smiling"
    assert caption_of(ctx, PATHS[2]).status == "approved"  # untouched: still approved

    # An edit after the batch survives the undo.
    save_text(ctx, ids(ctx)[3], f"{TRIGGER}, night, rain", caption_of(ctx, PATHS[3]).version)
    undone = undo_last(ctx)
    assert undone.changed == [PATHS[0], PATHS[1]]
    assert undone.skipped == [(PATHS[3], "it changed after the batch")]
    restored = caption_of(ctx, PATHS[0])
    assert (restored.text, restored.status) == (f"{TRIGGER}, red scarf, smiling", "approved")
    assert sidecar(ctx, PATHS[0]).read_text() == restored.text
    assert caption_of(ctx, PATHS[3]).text == f"{TRIGGER}, night, rain"
    assert undoable_batch(ctx) is None  # one step only
    with pytest.raises(CaptionError, match="nothing to undo"):
        undo_last(ctx)
    journal = journal_path(ctx.dir).read_text()
    assert "Removed “Red_Scarf” from 3 captions." in journal
    assert "Undid: Removed “Red_Scarf” from 3 captions. 1 caption changed since" in journal


def test_every_batch_keeps_the_trigger_first(ctx: ProjectContext) -> None:
    added = tag_batch(ctx, "add", ids(ctx), "outdoors")
    assert len(added.changed) == 4
    assert caption_of(ctx, PATHS[2]).text == f"{TRIGGER}, blue coat, outdoors"
    replaced = tag_batch(ctx, "replace", ids(ctx), "blue coat", "green coat")
    assert caption_of(ctx, PATHS[2]).text == f"{TRIGGER}, green coat, outdoors"
    assert replaced.changed == [PATHS[2]]
    refused = tag_batch(ctx, "remove", ids(ctx), TRIGGER)
    assert refused.changed == [] and {note for _, note in refused.notes} == {NOTE_KEEP_TRIGGER}
    assert all(c.text.startswith(f"{TRIGGER}, ") for c in load_captions(ctx).values())
    with pytest.raises(CaptionError, match="two tags"):
        tag_batch(ctx, "add", ids(ctx), "a, b")


def test_approve_the_shown_captions_as_they_were_shown(ctx: ProjectContext) -> None:
    tag_batch(ctx, "add", ids(ctx), "outdoors")  # all four are drafts again
    seen = [(caption_of(ctx, path).image_id, caption_of(ctx, path).version) for path in PATHS]
    stale = seen[1]
    save_text(ctx, stale[0], f"{TRIGGER}, changed in another tab", stale[1])
    result = approve_shown(ctx, seen)
    assert result.changed == [PATHS[0], PATHS[2], PATHS[3]]
    assert result.skipped == [(PATHS[1], "it changed meanwhile")]
    assert caption_of(ctx, PATHS[1]).status == "draft"
    assert result.message == "Approved 3 captions shown in the grid at once."


def test_changing_the_trigger_rewrites_every_caption(ctx: ProjectContext) -> None:
    save_text(ctx, ids(ctx)[2], f"{TRIGGER}, blue coat, {TRIGGER} smiles", 2)
    with pytest.raises(CaptionError, match="already the trigger word"):
        change_trigger_word(ctx, TRIGGER)
    with pytest.raises(CaptionError, match="comma"):
        change_trigger_word(ctx, "zk, nova")
    sidecar(ctx, PATHS[0]).write_text("edited outside")
    with pytest.raises(CaptionError, match="changed outside loragate"):
        change_trigger_word(ctx, "zknova")
    sidecar(ctx, PATHS[0]).write_text(caption_of(ctx, PATHS[0]).text)
    change = change_trigger_word(ctx, "zknova")
    assert (change.old, change.new, change.rewritten) == (TRIGGER, "zknova", 4)
    texts = {path: caption_of(ctx, path).text for path in PATHS}
    assert texts[PATHS[0]] == "zknova, red scarf, smiling"
    assert texts[PATHS[2]] == "zknova, blue coat, zknova smiles"
    assert all(sidecar(ctx, path).read_text() == texts[path] for path in PATHS)
    assert caption_of(ctx, PATHS[0]).status == "approved"  # approvals kept
    assert get_project(ctx.workspace, ctx.project.slug).trigger_word == "zknova"  # type: ignore[union-attr]
    assert json.loads((ctx.dir / "project.json").read_text())["trigger_word"] == "zknova"
    journal = journal_path(ctx.dir).read_text()
    assert journal.count("Trigger word changed") == 1
    assert "Trigger word changed from “zkmira” to “zknova”; 4 captions rewritten" in journal


def test_a_trigger_word_already_in_captions_needs_confirming(ctx: ProjectContext) -> None:
    """ "smiling" is a tag of the first caption: as the trigger it would swallow it. Refused
    without a word changed; once confirmed, that caption goes back to draft with a note
    and the others keep their approval."""
    before = {path: sidecar(ctx, path).read_text() for path in PATHS}
    with pytest.raises(TriggerInUse) as refused:
        change_trigger_word(ctx, "smiling")
    assert refused.value.paths == [PATHS[0]]
    assert "“smiling” is already in 1 caption (10_mira/000.png)" in str(refused.value)
    assert {path: sidecar(ctx, path).read_text() for path in PATHS} == before
    assert get_project(ctx.workspace, ctx.project.slug).trigger_word == TRIGGER  # type: ignore[union-attr]

    change = change_trigger_word(ctx, "smiling", confirm_in_captions=True)
    assert (change.rewritten, change.drafted) == (4, 1)
    assert change.warnings  # a common word: the page shows why that is a poor trigger
    taken = caption_of(ctx, PATHS[0])
    assert (taken.text, taken.status) == ("smiling, red scarf", "draft")
    assert "which this caption already used to describe the image" in taken.note
    assert caption_of(ctx, PATHS[1]).status == "approved"
    assert "1 of them already used “smiling” and went back to draft (10_mira/000.png)" in (
        journal_path(ctx.dir).read_text()
    )


def test_an_outside_edit_made_while_the_trigger_change_waits_is_not_overwritten(
    ctx: ProjectContext,
) -> None:
    """The file is edited at the moment the change takes the write lock (after anything
    it could have read before): the change is refused and the edit stays on disk."""
    edited = sidecar(ctx, PATHS[1])

    def edit_outside(*_args: object) -> None:
        if not edited.read_text().startswith("edited"):
            edited.write_text("edited in another program meanwhile")

    event.listen(ctx.workspace.db.write_engine, "begin", edit_outside)
    try:
        with pytest.raises(CaptionError, match="changed outside loragate"):
            change_trigger_word(ctx, "zknova")
    finally:
        event.remove(ctx.workspace.db.write_engine, "begin", edit_outside)
    assert edited.read_text() == "edited in another program meanwhile"
    assert sidecar(ctx, PATHS[0]).read_text() == f"{TRIGGER}, red scarf, smiling"
    assert get_project(ctx.workspace, ctx.project.slug).trigger_word == TRIGGER  # type: ignore[union-attr]


def test_a_batch_never_edits_an_excluded_image_and_names_approvals_it_took_back(
    ctx: ProjectContext,
) -> None:
    """Issue 12.1 and 12.4: a batch over the whole view left excluded images alone only
    if the page did; the domain function now refuses them, and names every approval the
    batch took back."""
    from app.dataset.decisions import set_included

    excluded = caption_of(ctx, PATHS[1])
    set_included(ctx, excluded.image_id, False)
    result = tag_batch(ctx, "add", ids(ctx), "watercolor")
    assert result.excluded == [PATHS[1]]
    assert caption_of(ctx, PATHS[1]).text == f"{TRIGGER}, red scarf, city street"
    assert caption_of(ctx, PATHS[1]).status == "approved"
    assert sorted(result.changed) == sorted([PATHS[0], PATHS[2], PATHS[3]])
    assert sorted(result.unapproved) == sorted([PATHS[0], PATHS[2], PATHS[3]])
    # Approving "everything shown" does not reach the excluded image either.
    set_status(ctx, excluded.image_id, "draft", caption_of(ctx, PATHS[1]).version)
    shown = [(caption_of(ctx, p).image_id, caption_of(ctx, p).version) for p in PATHS]
    assert approve_shown(ctx, shown).excluded == [PATHS[1]]
    assert caption_of(ctx, PATHS[1]).status == "draft"
