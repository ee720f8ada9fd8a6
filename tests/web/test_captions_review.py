"""The caption grid's edges over HTTP: what the artist typed survives every conflict, a
stale click says so without a false choice, batch notices carry their notes, findings
say why and what to do, any tag can be filtered, the Gate 1 chip follows every change,
oversized and invisible text is refused or cleaned in words, and a trigger word the
captions already use needs a confirmation.

HTMX contract (see app/web/captions.py): card actions answer the card with
#caption-progress and #gate-chip out of band; batches the grid with the undo bar,
progress, #gate-chip and a notice toast.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.captions.store import MAX_CAPTION_CHARS, load_captions
from app.captions.text import NOTE_CONTROL, NOTE_KEEP_TRIGGER
from app.curation.project_audit import run_project_audit
from app.fsutil import new_file_mode
from app.grimoire import eye_path
from app.journal import journal_path
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import (
    TRIGGER,
    caption_of,
    caption_project,
    image_id,
    mira_intent,
    sidecar,
)

HX = {"hx-request": "true"}


@pytest.fixture
def ctx(client: TestClient, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    workspace: Workspace = client.app.state.workspace  # type: ignore[attr-defined]
    return caption_project(
        workspace,
        mira_intent(make_intent, training_type="style", must_vary=""),
        [
            f"{TRIGGER}, lighthouse, red scarf",
            f"{TRIGGER}, owl, watercolor",
            f"{TRIGGER}, 1girl, red shirt, smiling",
            None,
        ],
    )


def card_of(html: str, image: int) -> str:
    found = re.search(rf'<li class="caption-card[^"]*"\s+id="card-{image}".*?</li>', html, re.S)
    assert found, f"no card {image}"
    return found.group(0)


def toasts(html: str) -> str:
    return " ".join(re.findall(r'<div class="toast[^"]*"[^>]*>(.*?)</div>', html, re.S))


def test_typed_text_survives_an_outside_edit_and_can_be_kept(
    client: TestClient, ctx: ProjectContext
) -> None:
    path = "10_mira/000.png"
    image = image_id(ctx, path)
    sidecar(ctx, path).write_text("rewritten in another editor")
    # A click on the picture: nothing was typed, so only the file's and loragate's texts.
    clicked = client.post(
        f"/projects/mira/captions/{image}/approve", data={"version": 1}, headers=HX
    )
    assert clicked.status_code == 409 and "Keep the file&#39;s text" in clicked.text
    assert "Keep mine" not in clicked.text and "You typed" not in clicked.text
    typed = f"{TRIGGER}, lighthouse at dawn, gulls"
    refused = client.post(
        f"/projects/mira/captions/{image}/text", data={"version": 1, "text": typed}, headers=HX
    )
    assert refused.status_code == 409
    card = card_of(refused.text, image)
    assert f'<q class="mine">{typed}</q>' in card  # what was typed is on the card
    assert "rewritten in another editor" in card  # the file's text
    assert f"{TRIGGER}, lighthouse, red scarf</textarea>" in card  # loragate's
    for action, label in (
        ("keep-mine", "Keep mine"),
        ("keep-file", "Take the file&#39;s"),
        ("keep-loragate", "Take loragate&#39;s"),
    ):
        assert re.search(rf'data-action="{action}">{label}<', card), action
    assert 'data-conflict="outside"' in card  # the page does not approve it unseen
    assert sidecar(ctx, path).read_text() == "rewritten in another editor"

    version = re.search(r'name="version" value="(\d+)"', card).group(1)  # type: ignore[union-attr]
    kept = client.post(
        f"/projects/mira/captions/{image}/outside",
        data={"keep": "mine", "text": typed, "version": version},
        headers=HX,
    )
    assert kept.status_code == 200
    assert f"{typed}</textarea>" in kept.text and "has-outside" not in kept.text
    assert sidecar(ctx, path).read_text() == typed
    assert (caption_of(ctx, path).status, caption_of(ctx, path).source) == ("draft", "manual")
    assert "Wrote your new caption of 10_mira/000.png over an edit made outside" in (
        journal_path(ctx.dir).read_text()
    )


def test_a_stale_approval_shows_the_current_text_and_asks_for_another_click(
    client: TestClient, ctx: ProjectContext
) -> None:
    path = "10_mira/000.png"
    image = image_id(ctx, path)
    # Another tab edits the caption; this tab still shows version 1 and clicks the picture.
    client.post(
        f"/projects/mira/captions/{image}/text",
        data={"version": 1, "text": f"{TRIGGER}, from the other tab"},
        headers=HX,
    )
    stale = client.post(f"/projects/mira/captions/{image}/approve", data={"version": 1}, headers=HX)
    assert stale.status_code == 409
    card = card_of(stale.text, image)
    assert "changed since it was shown" in card and "click again" in card
    assert f"{TRIGGER}, from the other tab</textarea>" in card
    assert "Keep mine" not in card and "Yours" not in card and 'class="mine"' not in card
    assert caption_of(ctx, path).status == "draft"


def test_a_batch_notice_names_its_notes(client: TestClient, ctx: ProjectContext) -> None:
    """Removing the trigger word changes nothing; the notice says why, in full (those
    captions keep no note of their own to point to)."""
    result = client.post(
        "/projects/mira/captions/batch",
        data={"operation": "remove", "tag": TRIGGER, "scope": "filter"},
        headers=HX,
    )
    notice = toasts(result.text)
    assert "No caption needed changing." in notice
    assert NOTE_KEEP_TRIGGER in notice and "3 captions (10_mira/000.png" in notice
    assert "have a note on their card" not in notice


def test_adding_a_tag_starts_a_draft_for_an_image_without_a_caption(
    client: TestClient, ctx: ProjectContext
) -> None:
    bare = "10_mira/003.png"
    result = client.post(
        "/projects/mira/captions/batch",
        data={"operation": "add", "tag": "outdoors", "scope": "filter"},
        headers=HX,
    )
    notice = toasts(result.text)
    assert "Added “outdoors” to 4 captions (one of them a new draft for an image that had" in (
        notice
    )
    started = caption_of(ctx, bare)
    assert (started.text, started.status) == (f"{TRIGGER}, outdoors", "draft")
    assert sidecar(ctx, bare).read_text() == f"{TRIGGER}, outdoors"
    assert "This image had no caption" in card_of(result.text, image_id(ctx, bare))
    undone = client.post("/projects/mira/captions/undo", data={}, headers=HX)
    assert undone.status_code == 200
    assert image_id(ctx, bare) not in load_captions(ctx) and not sidecar(ctx, bare).exists()


def test_a_finding_on_the_card_says_why_and_what_to_do(
    client: TestClient, ctx: ProjectContext
) -> None:
    page = client.get("/projects/mira/captions").text
    card = card_of(page, image_id(ctx, "10_mira/001.png"))
    finding = re.search(
        r'<li class="finding-warn" data-code="caption.style_word">.*?</li>', card, re.S
    )
    assert finding, card
    assert "<strong>Fix:</strong> Remove “watercolor” from the caption" in finding.group(0)
    why = re.search(
        r'<details class="finding-why"><summary>Why</summary>(.*?)</details>',
        finding.group(0),
        re.S,
    )
    assert why and "In a style LoRA the trigger word must carry the look" in why.group(1)


def test_any_tag_can_be_filtered_not_only_the_panel_s(
    client: TestClient, ctx: ProjectContext
) -> None:
    many = ", ".join(f"common{n}" for n in range(45))
    for path in ("10_mira/000.png", "10_mira/001.png"):
        caption = caption_of(ctx, path)
        client.post(
            f"/projects/mira/captions/{caption.image_id}/text",
            data={"version": caption.version, "text": f"{TRIGGER}, {many}"},
            headers=HX,
        )
    page = client.get("/projects/mira/captions").text
    panel = re.findall(r'data-tag="([^"]+)"', page)
    assert len(panel) == 40 and "red shirt" not in panel  # beyond the panel's 40
    form = re.search(r'<form class="tag-filter".*?</form>', page, re.S)
    assert form and 'hx-get="http://127.0.0.1:8765/projects/mira/captions"' in form.group(0)
    assert 'name="tag"' in form.group(0) and 'list="known-tags"' in form.group(0)
    assert '<option value="red shirt">' in page  # suggested while typing
    shown = client.get("/projects/mira/captions", params={"tag": "red shirt"}, headers=HX).text
    assert re.findall(r'id="card-(\d+)"', shown) == [str(image_id(ctx, "10_mira/002.png"))]
    assert 'value="red shirt"' in shown  # the filter shows what it filters by


def test_the_gate_chip_follows_every_change(client: TestClient, ctx: ProjectContext) -> None:
    run_project_audit(ctx)
    page = client.get("/projects/mira/captions").text
    assert re.search(r'id="gate-chip" data-status="block"', page)
    image = image_id(ctx, "10_mira/000.png")
    approved = client.post(
        f"/projects/mira/captions/{image}/approve", data={"version": 1}, headers=HX
    )
    chip = re.search(
        r'<div class="gate-chip[^>]*id="gate-chip"[^>]*>.*?</div>', approved.text, re.S
    )
    assert chip and 'data-status="stale"' in chip.group(0)
    assert 'hx-swap-oob="true"' in chip.group(0)
    assert "Gate 1 out of date" in re.sub(r"<[^>]+>", "", chip.group(0))
    shown = re.findall(
        r'name="shown" value="(\d+:\d+)"', client.get("/projects/mira/captions").text
    )
    batch = client.post("/projects/mira/captions/approve-shown", data={"shown": shown}, headers=HX)
    assert re.search(r'id="gate-chip" data-status="stale" hx-swap-oob="true"', batch.text)


def test_an_oversized_caption_is_refused_in_words(client: TestClient, ctx: ProjectContext) -> None:
    path = "10_mira/000.png"
    image = image_id(ctx, path)
    url = f"/projects/mira/captions/{image}/text"
    typed = "x" * (MAX_CAPTION_CHARS + 1)
    long = client.post(url, data={"version": 1, "text": typed}, headers=HX)
    assert long.status_code == 400
    # The card says why, with the typed text still in its field (nothing is lost).
    card = card_of(long.text, image)
    assert f"{MAX_CAPTION_CHARS + 1:,} characters long; loragate keeps captions under 4,000" in (
        card
    )
    assert f">{typed}</textarea>" in card and "unsaved" in card
    # More than the form parser reads (1 MB): a toast, or a page, never JSON.
    huge = "y" * (1024 * 1024 + 10)
    too_big = client.post(url, data={"version": 1, "text": huge}, headers=HX)
    assert too_big.status_code == 400 and '{"detail"' not in too_big.text
    assert "too large for loragate to read" in toasts(too_big.text)
    plain = client.post(url, data={"version": 1, "text": huge})
    assert plain.status_code == 400 and "<h1>" in plain.text and "too large" in plain.text
    assert sidecar(ctx, path).read_text() == f"{TRIGGER}, lighthouse, red scarf"
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "There is nothing at this address" in missing.text


def test_control_characters_are_removed_with_a_note(
    client: TestClient, ctx: ProjectContext
) -> None:
    path = "10_mira/000.png"
    image = image_id(ctx, path)
    saved = client.post(
        f"/projects/mira/captions/{image}/text",
        data={"version": 1, "text": f"{TRIGGER}, light\x00house, \u202eelims, red\x1b scarf"},
        headers=HX,
    )
    assert saved.status_code == 200 and NOTE_CONTROL in saved.text
    clean = f"{TRIGGER}, lighthouse, elims, red scarf"
    assert caption_of(ctx, path).text == clean
    assert sidecar(ctx, path).read_text() == clean
    assert oct(Path(sidecar(ctx, path)).stat().st_mode & 0o777) == oct(new_file_mode())
    # The cleaned tag is a tag like any other: a click on it in the panel filters by it.
    panel = client.get("/projects/mira/captions").text
    assert 'data-tag="elims"' in panel


def test_a_broken_eye_md_is_said_on_the_grid(client: TestClient, ctx: ProjectContext) -> None:
    eye_path(ctx.workspace.grimoire_dir).write_text("---\nstyle_words: [unclosed\n---\n")
    page = client.get("/projects/mira/captions").text
    notice = re.search(r'id="eye-problem">(.*?)</p>', page, re.S)
    assert notice and "running without your own style words" in notice.group(1)
    assert "eye.md" in notice.group(1)


def test_a_trigger_word_the_captions_use_needs_a_confirmation(
    client: TestClient, ctx: ProjectContext
) -> None:
    smiling = "10_mira/002.png"
    approved = caption_of(ctx, smiling)
    client.post(
        f"/projects/mira/captions/{approved.image_id}/approve",
        data={"version": approved.version},
        headers=HX,
    )
    refused = client.post("/projects/mira/trigger", data={"trigger_word": "smiling"})
    assert refused.status_code == 422
    assert "“smiling” is already in 1 caption (10_mira/002.png)" in refused.text
    assert 'id="trigger-confirm-button"' in refused.text
    warnings = re.search(r'id="trigger-warnings">(.*?)</div>', refused.text, re.S)
    assert warnings and "common" in warnings.group(1)  # why a plain word is a poor trigger
    assert caption_of(ctx, smiling).text == f"{TRIGGER}, 1girl, red shirt, smiling"  # untouched

    confirmed = client.post(
        "/projects/mira/trigger", data={"trigger_word": "smiling", "confirm": "true"}
    )
    assert confirmed.status_code == 200
    assert "1 of them already used the word and went back to draft" in confirmed.text
    assert re.search(r'id="trigger-warnings">.*?common', confirmed.text, re.S)
    taken = caption_of(ctx, smiling)
    assert (taken.text, taken.status) == ("smiling, 1girl, red shirt", "draft")
    assert "already used to describe the image" in taken.note
    assert caption_of(ctx, "10_mira/000.png").text == "smiling, lighthouse, red scarf"


def test_the_gate_page_counts_in_words(client: TestClient, ctx: ProjectContext) -> None:
    run_project_audit(ctx)
    page = client.get("/projects/mira/gates/dataset").text
    assert re.search(r"on 4 images: \d+ blocking, \d+ warnings, 1 note\.", page)
    assert "1 draft ·" in page or "drafts ·" in page
    assert not re.search(r"\b1 (notes|warnings|images|drafts|repeats|samples|files)\b", page)
