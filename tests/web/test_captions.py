"""The caption grid over HTTP.

HTMX contract checked here:
- GET /projects/{slug}/captions → the page; with HX-Request the #grid partial; at most
  PER_PAGE cards whatever the dataset's size; filters and the tag panel by query.
- POST .../captions/{id}/approve|reject|text|included|outside → the card partial
  (#card-{id}, outerHTML) with #caption-progress out of band; a stale version → 409 and
  the card with both texts; a refusal → 400 and the card saying why.
- POST .../captions/batch|approve-shown|undo → the #grid partial, the undo bar and the
  progress out of band, and a notice toast.
- POST .../trigger → 303 to the grid; 422 with the reason.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.captions.grid import PER_PAGE
from app.captions.store import load_captions
from app.clip_tokenizer import count_tokens
from app.dataset.inventory import dataset_dir
from app.journal import journal_path
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import (
    TRIGGER,
    caption_of,
    caption_project,
    image_id,
    mira_intent,
    sidecar,
    write_images,
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
            "cat, red scarf",
            None,
        ],
    )


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="caption-card[^"]*"\s+id="card-(\d+)"', html)


def card_status(html: str) -> str:
    return re.search(r'data-status="(\w+)"', html).group(1)  # type: ignore[union-attr]


def progress(html: str) -> tuple[int, int]:
    approved = re.search(r'id="approved-count">(\d+)<', html)
    included = re.search(r'id="included-count">(\d+)<', html)
    return int(approved.group(1)), int(included.group(1))  # type: ignore[union-attr]


def test_the_page_shows_every_card_with_its_caption_and_findings(
    client: TestClient, ctx: ProjectContext
) -> None:
    page = client.get("/projects/mira/captions").text
    assert len(cards(page)) == 4 and progress(page) == (0, 4)
    assert "lighthouse, red scarf" in page
    assert 'id="keyboard-help"' in page and "/static/captions.js" in page
    assert "<script>" not in page  # the CSP forbids inline script
    # The caption check on the card: a style word in a style LoRA.
    owl_id = image_id(ctx, "10_mira/001.png")
    owl = re.search(rf'id="card-{owl_id}".*?</li>', page, re.S)
    assert owl and 'data-code="caption.style_word"' in owl.group(0)
    # The note of a caption file taken in without its trigger.
    assert "The trigger word was missing; it was put back first" in page
    # The tag panel counts tags over included captions.
    assert re.search(r'data-tag="red scarf">red scarf</a> <span class="count">2<', page)
    tokens = count_tokens(f"{TRIGGER}, lighthouse, red scarf")
    assert f">{tokens} / 75 tokens<" in page  # the real CLIP count, against 75


def test_clicking_a_thumbnail_approves_and_clicking_again_takes_it_back(
    client: TestClient, ctx: ProjectContext
) -> None:
    image = image_id(ctx, "10_mira/000.png")
    url = f"/projects/mira/captions/{image}/approve"
    first = client.post(url, data={"version": 1}, headers=HX)
    assert first.status_code == 200 and card_status(first.text) == "approved"
    assert 'id="caption-progress"' in first.text and 'hx-swap-oob="true"' in first.text
    assert progress(first.text) == (1, 4)
    # The same click from a tab that still shows version 1: refused, the card refreshed.
    stale = client.post(url, data={"version": 1}, headers=HX)
    assert stale.status_code == 409 and "changed since it was shown" in stale.text
    again = client.post(url, data={"version": 2}, headers=HX)
    assert card_status(again.text) == "draft" and progress(again.text) == (0, 4)
    no_caption = image_id(ctx, "10_mira/003.png")
    refused = client.post(
        f"/projects/mira/captions/{no_caption}/approve", data={"version": 0}, headers=HX
    )
    # Issue 12.3: the answer is the card itself, saying why (a toast swapped in its
    # place took the card away).
    assert refused.status_code == 400 and cards(refused.text) == [str(no_caption)]
    assert re.search(r'class="card-notice[^"]*"[^>]*>[^<]*has no caption yet', refused.text)
    plain = client.post(url, data={"version": 3}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].endswith(f"#card-{image}")


def test_an_inline_edit_keeps_the_trigger_and_a_stale_one_shows_both_texts(
    client: TestClient, ctx: ProjectContext
) -> None:
    image = image_id(ctx, "10_mira/000.png")
    url = f"/projects/mira/captions/{image}/text"
    saved = client.post(url, data={"version": 1, "text": "lighthouse at night"}, headers=HX)
    assert saved.status_code == 200
    assert f"{TRIGGER}, lighthouse at night</textarea>" in saved.text
    assert "The trigger word was missing; it was put back first" in saved.text
    stale = client.post(url, data={"version": 1, "text": f"{TRIGGER}, from tab two"}, headers=HX)
    assert stale.status_code == 409
    assert "Keep mine" in stale.text and f"{TRIGGER}, from tab two" in stale.text
    assert f"{TRIGGER}, lighthouse at night</textarea>" in stale.text  # theirs, below
    kept = client.post(url, data={"version": 2, "text": f"{TRIGGER}, from tab two"}, headers=HX)
    assert kept.status_code == 200 and caption_of(ctx, "10_mira/000.png").version == 3


def test_an_outside_edit_is_shown_and_resolved_on_the_card(
    client: TestClient, ctx: ProjectContext
) -> None:
    sidecar(ctx, "10_mira/000.png").write_text("rewritten in another editor")
    image = image_id(ctx, "10_mira/000.png")
    page = client.get("/projects/mira/captions?filter=outside", headers=HX).text
    assert cards(page) == [str(image)]
    assert "rewritten in another editor" in page and "Keep the file&#39;s text" in page
    assert (
        client.get("/projects/mira/captions?filter=missing_trigger", headers=HX).text.count(
            "caption-card "
        )
        == 1
    )
    refused = client.post(
        f"/projects/mira/captions/{image}/text", data={"version": 1, "text": "x"}, headers=HX
    )
    assert refused.status_code == 409 and sidecar(ctx, "10_mira/000.png").read_text() == (
        "rewritten in another editor"
    )
    taken = client.post(
        f"/projects/mira/captions/{image}/outside", data={"keep": "file"}, headers=HX
    )
    assert f"{TRIGGER}, rewritten in another editor</textarea>" in taken.text
    assert "has-outside" not in taken.text


def test_batch_remove_on_the_filter_then_undo(client: TestClient, ctx: ProjectContext) -> None:
    tagged = client.get("/projects/mira/captions?tag=red+scarf", headers=HX).text
    assert len(cards(tagged)) == 2
    result = client.post(
        "/projects/mira/captions/batch",
        data={
            "operation": "remove",
            "tag": "red scarf",
            "scope": "filter",
            "tag_filter": "red scarf",
        },
        headers=HX,
    )
    assert result.status_code == 200
    assert "Removed “red scarf” from 2 captions." in result.text  # the notice
    assert 'id="undo-button"' in result.text and 'id="undo-bar" class="undo-bar" hx-swap-oob' in (
        result.text
    )
    assert "red scarf" not in sidecar(ctx, "10_mira/000.png").read_text()
    undone = client.post("/projects/mira/captions/undo", data={}, headers=HX)
    assert "Undone: Removed “red scarf” from 2 captions." in undone.text
    assert sidecar(ctx, "10_mira/000.png").read_text() == f"{TRIGGER}, lighthouse, red scarf"
    assert 'id="undo-button"' not in undone.text
    nothing = client.post("/projects/mira/captions/undo", data={}, headers=HX)
    assert nothing.status_code == 400 and "nothing to undo" in nothing.text
    selection = client.post(
        "/projects/mira/captions/batch",
        data={"operation": "add", "tag": "outdoors", "scope": "selection"},
        headers=HX,
    )
    assert selection.status_code == 400 and "No image is selected" in selection.text
    chosen = client.post(
        "/projects/mira/captions/batch",
        data={
            "operation": "add",
            "tag": "outdoors",
            "scope": "selection",
            "ids": [str(image_id(ctx, "10_mira/002.png"))],
        },
        headers=HX,
    )
    assert "Added “outdoors” to 1 caption." in chosen.text
    assert caption_of(ctx, "10_mira/002.png").text.endswith("outdoors")


def test_approve_the_shown_captions_and_exclude_one(
    client: TestClient, ctx: ProjectContext
) -> None:
    page = client.get("/projects/mira/captions?filter=unapproved", headers=HX).text
    shown = re.findall(r'name="shown" value="(\d+:\d+)"', page)
    assert len(shown) == 4
    approved = client.post(
        "/projects/mira/captions/approve-shown",
        data={"shown": shown, "filter": "unapproved"},
        headers=HX,
    )
    assert "Approved 3 captions shown in the grid at once." in approved.text
    assert progress(approved.text) == (3, 4)
    no_caption = image_id(ctx, "10_mira/003.png")
    excluded = client.post(
        f"/projects/mira/captions/{no_caption}/included", data={"included": 0}, headers=HX
    )
    assert 'data-included="0"' in excluded.text and progress(excluded.text) == (3, 3)
    assert "Excluded 10_mira/003.png." in journal_path(ctx.dir).read_text()


def test_changing_the_trigger_word_from_the_page(client: TestClient, ctx: ProjectContext) -> None:
    refused = client.post("/projects/mira/trigger", data={"trigger_word": "zk, no"})
    assert refused.status_code == 422 and "comma" in refused.text
    changed = client.post("/projects/mira/trigger", data={"trigger_word": "zknova"})
    assert changed.status_code == 200  # followed the 303 to the grid
    assert "The trigger word is now “zknova”; 3 captions rewritten." in changed.text
    assert sidecar(ctx, "10_mira/000.png").read_text() == "zknova, lighthouse, red scarf"


@pytest.mark.slow
def test_a_thousand_images_render_one_page_of_cards(
    client: TestClient, ctx: ProjectContext
) -> None:
    write_images(
        dataset_dir(ctx) / "1_many", [f"{TRIGGER}, item {n}, tag{n % 7}" for n in range(996)], 8
    )
    # Files dropped in the folder wait for the artist's "Pick up" (GET never writes).
    assert len(load_captions(ctx)) == 3
    assert client.post("/projects/mira/captions/take-in").status_code == 200  # redirected
    first = client.get("/projects/mira/captions")
    assert first.status_code == 200
    assert len(load_captions(ctx)) == 999
    assert len(cards(first.text)) == PER_PAGE and progress(first.text) == (0, 1000)
    assert "page 1 of 21" in first.text and 'id="next-page"' in first.text
    assert first.text.count('loading="lazy"') == PER_PAGE
    last = client.get("/projects/mira/captions?page=21", headers=HX)
    assert len(cards(last.text)) == 1000 - 20 * PER_PAGE
    one_tag = client.get("/projects/mira/captions?tag=tag3", headers=HX)
    assert "142 images in this view" in one_tag.text
