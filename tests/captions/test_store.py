"""Captions as data: caption files taken in as drafts, the trigger word first on every
write, versions that turn a second tab's stale edit into a conflict, edits made outside
loragate detected and never overwritten silently, approvals journaled in groups."""

from __future__ import annotations

import os
import threading

import pytest

from app.captions.store import (
    CaptionConflict,
    CaptionError,
    load_captions,
    outside_of,
    resolve_outside,
    save_text,
    set_status,
)
from app.captions.sync import sync_captions
from app.captions.text import NOTE_MISSING
from app.clip_tokenizer import count_tokens
from app.dataset.records import rows_by_id
from app.journal import journal_path
from app.workspace import Workspace
from tests.captions.caption_projects import (
    TRIGGER,
    caption_of,
    caption_project,
    image_id,
    mira_intent,
    sidecar,
    write_images,
)


@pytest.fixture
def ctx(workspace: Workspace, make_intent):  # type: ignore[no-untyped-def]
    return caption_project(
        workspace,
        mira_intent(make_intent),
        [f"{TRIGGER}, red scarf", "smiling, red scarf\n", None, "Zkmira, city street"],
    )


def test_caption_files_become_drafts_with_the_trigger_first(ctx) -> None:  # type: ignore[no-untyped-def]
    first = caption_of(ctx, "10_mira/000.png")
    assert (first.text, first.status, first.source, first.version) == (
        f"{TRIGGER}, red scarf",
        "draft",
        "file",
        1,
    )
    assert first.tokens == count_tokens(first.text) == 6  # z·k·mira·,·red·scarf
    fixed = caption_of(ctx, "10_mira/001.png")
    assert fixed.text == f"{TRIGGER}, smiling, red scarf" and fixed.note == NOTE_MISSING
    assert sidecar(ctx, "10_mira/001.png").read_text() == fixed.text  # the file follows
    assert caption_of(ctx, "10_mira/003.png").text == f"{TRIGGER}, city street"  # spelling
    assert len(load_captions(ctx)) == 3  # 002.png has no caption file: no caption
    journal = journal_path(ctx.dir).read_text()
    assert "Took in 3 caption files as drafts (the trigger word put first in 2)." in journal
    assert sync_captions(ctx).imported == []  # nothing new: nothing taken in twice


def test_a_caption_file_that_is_not_utf8_is_converted(workspace: Workspace, make_intent) -> None:  # type: ignore[no-untyped-def]
    ctx = caption_project(workspace, mira_intent(make_intent), [None, None])
    sidecar(ctx, "10_mira/000.png").write_bytes(f"{TRIGGER}, café au lait".encode("cp1252"))
    sidecar(ctx, "10_mira/001.png").write_text(f"{TRIGGER}, a portrait\nsmiling\n")
    assert sync_captions(ctx).converted == 1
    caption = caption_of(ctx, "10_mira/000.png")
    assert caption.text == f"{TRIGGER}, café au lait" and "Windows-1252" in caption.note
    assert sidecar(ctx, "10_mira/000.png").read_bytes().decode("utf-8") == caption.text
    joined = caption_of(ctx, "10_mira/001.png")
    assert joined.text == f"{TRIGGER}, a portrait, smiling"  # trainers read one line
    assert "had 2 lines" in joined.note


def test_caption_files_with_a_byte_order_mark_are_rewritten_as_plain_utf8(
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    """Notepad's "Unicode" (UTF-16) and "UTF-8 with BOM" are read for what they are, and
    rewritten as plain UTF-8 (what sd-scripts reads) with a note saying so."""
    ctx = caption_project(workspace, mira_intent(make_intent), [None, None, None])
    sidecar(ctx, "10_mira/000.png").write_bytes(f"{TRIGGER}, café au lait".encode("utf-16"))
    sidecar(ctx, "10_mira/001.png").write_bytes(b"\xef\xbb\xbf" + f"{TRIGGER}, tea".encode())
    sidecar(ctx, "10_mira/002.png").write_bytes(f"{TRIGGER}, cocoa".encode("utf-32"))
    report = sync_captions(ctx)
    assert report.converted == 3 and report.trigger_fixed == 0
    notepad = caption_of(ctx, "10_mira/000.png")
    assert notepad.text == f"{TRIGGER}, café au lait" and notepad.note.startswith(
        "The caption file was UTF-16 (little-endian"
    )
    assert "saved it as plain UTF-8" in notepad.note
    marked = caption_of(ctx, "10_mira/001.png")
    assert marked.text == f"{TRIGGER}, tea" and "byte-order mark" in marked.note
    assert "UTF-32" in caption_of(ctx, "10_mira/002.png").note
    for path, caption in (("000", notepad), ("001", marked)):
        assert sidecar(ctx, f"10_mira/{path}.png").read_bytes() == caption.text.encode("utf-8")
    assert "3 rewritten as plain UTF-8" in journal_path(ctx.dir).read_text()


def test_an_outside_edit_that_only_changes_the_encoding_resolves(ctx) -> None:  # type: ignore[no-untyped-def]
    """Re-saved as UTF-16 outside loragate, same words: keeping the file's version
    rewrites it as plain UTF-8, so the conflict is gone rather than stuck."""
    path = "10_mira/000.png"
    image = image_id(ctx, path)
    (row,) = rows_by_id(ctx, [image])
    file = sidecar(ctx, path)
    file.write_bytes(caption_of(ctx, path).text.encode("utf-16"))
    assert outside_of(ctx, row, caption_of(ctx, path)) is not None
    kept = resolve_outside(ctx, image, "file")
    assert kept is not None and "UTF-16" in kept.note
    assert file.read_bytes() == kept.text.encode("utf-8")
    assert outside_of(ctx, row, caption_of(ctx, path)) is None


def test_an_edit_that_drops_the_trigger_gets_it_back_with_a_note(ctx) -> None:  # type: ignore[no-untyped-def]
    image = image_id(ctx, "10_mira/000.png")
    set_status(ctx, image, "approved", 1)
    saved = save_text(ctx, image, "blue scarf,  looking at viewer,", 2)
    assert saved.changed and saved.note == NOTE_MISSING
    caption = saved.caption
    assert caption.text == f"{TRIGGER}, blue scarf, looking at viewer"
    assert (caption.status, caption.source, caption.version) == ("draft", "manual", 3)
    assert sidecar(ctx, "10_mira/000.png").read_text() == caption.text
    # Writing a caption for an image that had none is a write path too.
    none = image_id(ctx, "10_mira/002.png")
    created = save_text(ctx, none, "", 0).caption
    assert created.text == TRIGGER and sidecar(ctx, "10_mira/002.png").read_text() == TRIGGER


def test_a_stale_edit_is_a_conflict_with_both_texts(ctx) -> None:  # type: ignore[no-untyped-def]
    image = image_id(ctx, "10_mira/000.png")
    save_text(ctx, image, f"{TRIGGER}, written in tab one", 1)
    with pytest.raises(CaptionConflict) as raised:
        save_text(ctx, image, f"{TRIGGER}, written in tab two", 1)
    conflict = raised.value
    assert conflict.reason == "changed" and conflict.version == 2
    assert conflict.mine == f"{TRIGGER}, written in tab two"
    assert conflict.theirs == f"{TRIGGER}, written in tab one"
    assert sidecar(ctx, "10_mira/000.png").read_text() == f"{TRIGGER}, written in tab one"
    # Keeping mine is an edit on the current version.
    assert save_text(ctx, image, conflict.mine, conflict.version).caption.version == 3


def test_two_edits_at_the_same_moment_never_lose_one_silently(ctx) -> None:  # type: ignore[no-untyped-def]
    image = image_id(ctx, "10_mira/000.png")
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def edit(name: str) -> None:
        start.wait()
        try:
            save_text(ctx, image, f"{TRIGGER}, from {name}", 1)
            outcomes[name] = "saved"
        except CaptionConflict as conflict:
            outcomes[name] = f"conflict with: {conflict.theirs}"

    threads = [threading.Thread(target=edit, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winner = next(name for name, outcome in outcomes.items() if outcome == "saved")
    loser = next(name for name in outcomes if name != winner)
    assert outcomes[loser] == f"conflict with: {TRIGGER}, from {winner}"
    assert caption_of(ctx, "10_mira/000.png").text == f"{TRIGGER}, from {winner}"
    assert sidecar(ctx, "10_mira/000.png").read_text() == f"{TRIGGER}, from {winner}"


def test_an_edit_made_outside_loragate_is_detected_and_never_overwritten(ctx) -> None:  # type: ignore[no-untyped-def]
    path = "10_mira/000.png"
    image = image_id(ctx, path)
    (row,) = rows_by_id(ctx, [image])
    file = sidecar(ctx, path)
    stat = file.stat()
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # touched only
    assert outside_of(ctx, row, caption_of(ctx, path)) is None
    file.write_text("edited in another tool, no trigger")
    change = outside_of(ctx, row, caption_of(ctx, path))
    assert change is not None and change.text == "edited in another tool, no trigger"
    for write in (
        lambda: save_text(ctx, image, f"{TRIGGER}, mine", 1),
        lambda: set_status(ctx, image, "approved", 1),
    ):
        with pytest.raises(CaptionConflict) as raised:
            write()
        assert raised.value.reason == "outside"
    assert file.read_text() == "edited in another tool, no trigger"  # untouched
    kept = resolve_outside(ctx, image, "file")
    assert kept is not None and kept.text == f"{TRIGGER}, edited in another tool, no trigger"
    assert (kept.status, kept.source) == ("draft", "file") and file.read_text() == kept.text
    # The other choice writes loragate's text back.
    file.write_text("scribbled over")
    restored = resolve_outside(ctx, image, "loragate")
    assert restored is not None and file.read_text() == restored.text == kept.text
    file.unlink()
    assert outside_of(ctx, row, caption_of(ctx, path)).deleted  # type: ignore[union-attr]
    assert resolve_outside(ctx, image, "file") is None and image not in load_captions(ctx)
    assert "was deleted outside loragate" in journal_path(ctx.dir).read_text()


def test_approvals_need_a_caption_and_are_journaled_together(ctx) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CaptionError, match="has no caption yet"):
        set_status(ctx, image_id(ctx, "10_mira/002.png"), "approved", 0)
    for path in ("10_mira/000.png", "10_mira/001.png", "10_mira/003.png"):
        caption = caption_of(ctx, path)
        set_status(ctx, caption.image_id, "approved", caption.version)
    caption = caption_of(ctx, "10_mira/003.png")
    with pytest.raises(CaptionConflict):  # the version seen is not the version now
        set_status(ctx, caption.image_id, "draft", caption.version - 1)
    set_status(ctx, caption.image_id, "draft", caption.version)
    journal = journal_path(ctx.dir).read_text()
    assert "Approved 3 captions: 10_mira/000.png, 10_mira/001.png, 10_mira/003.png." in journal
    assert journal.count("Approved") == 1  # one line, rewritten as the count grew
    assert "Un-approved 1 caption: 10_mira/003.png." in journal


def test_captions_of_new_images_dropped_in_the_folder_are_taken_in(ctx) -> None:  # type: ignore[no-untyped-def]
    folder = sidecar(ctx, "10_mira/000.png").parent
    write_images(folder.parent / "5_extra", ["night, rain"])
    assert sync_captions(ctx).imported == ["5_extra/000.png"]
    assert caption_of(ctx, "5_extra/000.png").text == f"{TRIGGER}, night, rain"


def test_taking_a_file_that_only_changed_its_spacing_resolves_the_edit(ctx) -> None:  # type: ignore[no-untyped-def]
    """The file's text tidies into loragate's own: taking it still rewrites the file, or
    the edit would be shown as unresolved forever."""
    path = "10_mira/000.png"
    sidecar(ctx, path).write_text(f"{TRIGGER},   red scarf  \n")
    image = caption_of(ctx, path).image_id
    (row,) = rows_by_id(ctx, [image])
    assert outside_of(ctx, row, caption_of(ctx, path)) is not None
    kept = resolve_outside(ctx, image, "file")
    assert kept is not None and kept.text == f"{TRIGGER}, red scarf"
    assert sidecar(ctx, path).read_text() == f"{TRIGGER}, red scarf"
    assert outside_of(ctx, row, caption_of(ctx, path)) is None
