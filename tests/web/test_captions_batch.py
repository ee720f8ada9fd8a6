"""Batch changes on the caption grid as the artist meets them (issue 12): they never
reach an excluded image, the button says how many captions it is for, the result is
said once (not on every card) and names the approvals it took back; shared notes are
said once above the grid; a finding's link opens the grid on one image; every card's
buttons name their image, and a skip link jumps past the tag list.

HTMX contract (see app/web/captions.py): a batch answers the #grid partial with the
notice as one toast, out of band; GET .../captions?image=PATH shows that image alone.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.captions.grid import COMMON_NOTE_MIN
from app.captions.store import set_status
from app.dataset.decisions import set_included
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
PATHS = [f"10_mira/{index:03d}.png" for index in range(5)]


@pytest.fixture
def ctx(client: TestClient, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    workspace: Workspace = client.app.state.workspace  # type: ignore[attr-defined]
    ctx = caption_project(
        workspace,
        mira_intent(make_intent),
        [
            f"{TRIGGER}, lighthouse, red scarf",
            f"{TRIGGER}, owl, night",
            f"{TRIGGER}, harbour, boats",
            f"{TRIGGER}, cat, window",
            f"{TRIGGER}, street, rain",
        ],
    )
    for path in PATHS:
        caption = caption_of(ctx, path)
        set_status(ctx, caption.image_id, "approved", caption.version)
    set_included(ctx, image_id(ctx, PATHS[4]), False)
    return ctx


def card_of(html: str, image: int) -> str:
    found = re.search(rf'<li class="caption-card[^"]*"\s+id="card-{image}".*?</li>', html, re.S)
    assert found, f"no card {image}"
    return found.group(0)


def toasts(html: str) -> list[str]:
    return re.findall(r'<div class="toast[^"]*"[^>]*>(.*?)</div>', html, re.S)


def test_a_batch_over_the_view_leaves_excluded_images_alone_and_says_so_once(
    client: TestClient, ctx: ProjectContext
) -> None:
    page = client.get("/projects/mira/captions").text
    # The button says how many captions the batch is for: the four included ones.
    assert re.search(r'id="batch-apply" data-view-count="4">Apply to 4 captions<', page)
    done = client.post(
        "/projects/mira/captions/batch",
        data={"operation": "add", "tag": "watercolor", "scope": "filter"},
        headers=HX,
    )
    assert done.status_code == 200
    assert sidecar(ctx, PATHS[4]).read_text() == f"{TRIGGER}, street, rain"
    assert caption_of(ctx, PATHS[4]).status == "approved"
    (notice,) = toasts(done.text)  # said once, as the toast
    assert "Added “watercolor” to 4 captions." in notice
    assert "4 approvals went back to draft (10_mira/000.png, 10_mira/001.png, 10_mira/002.png" in (
        notice
    )
    assert "1 excluded image left alone" in notice
    # Not on the cards: the old grid repeated the batch's notice on every one of them.
    for path in PATHS:
        assert "Added “watercolor”" not in card_of(done.text, image_id(ctx, path))
    assert "card-notice" not in done.text


def test_a_selection_batch_changes_only_the_ticked_captions(
    client: TestClient, ctx: ProjectContext
) -> None:
    ticked = [image_id(ctx, PATHS[0]), image_id(ctx, PATHS[4])]  # one of them excluded
    done = client.post(
        "/projects/mira/captions/batch",
        data={"operation": "add", "tag": "watercolor", "scope": "selection", "ids": ticked},
        headers=HX,
    )
    (notice,) = toasts(done.text)
    assert "Added “watercolor” to 1 caption." in notice
    assert "1 approval went back to draft (10_mira/000.png): read it again" in notice
    assert "watercolor" in sidecar(ctx, PATHS[0]).read_text()
    for untouched in PATHS[1:]:
        assert "watercolor" not in sidecar(ctx, untouched).read_text()
        assert caption_of(ctx, untouched).status == "approved"


def test_a_note_many_captions_share_is_said_once_above_the_grid(
    client: TestClient, ctx: ProjectContext
) -> None:
    # Caption files that all lacked the trigger word: every one gets the same note.
    for index in range(COMMON_NOTE_MIN + 1):
        client.post(
            f"/projects/mira/captions/{image_id(ctx, PATHS[index])}/text",
            data={"version": caption_of(ctx, PATHS[index]).version, "text": f"tag {index}"},
            headers=HX,
        )
    page = client.get("/projects/mira/captions").text
    shared = re.findall(r"data-common-note><strong>On (\d+) captions:</strong> ([^<]*)<", page)
    assert len(shared) == 1 and shared[0][0] == str(COMMON_NOTE_MIN + 1)
    assert "The trigger word was missing" in shared[0][1]
    assert "data-note>" not in page  # no card repeats it
    # A card answered alone (after a click) agrees with the grid.
    clicked = client.post(
        f"/projects/mira/captions/{image_id(ctx, PATHS[0])}/approve",
        data={"version": caption_of(ctx, PATHS[0]).version},
        headers=HX,
    )
    assert "data-note>" not in clicked.text
    # A note of its own stays on its card.
    client.post(
        f"/projects/mira/captions/{image_id(ctx, PATHS[4])}/included",
        data={"included": 1},
        headers=HX,
    )
    own = client.post(
        f"/projects/mira/captions/{image_id(ctx, PATHS[4])}/text",
        data={"version": caption_of(ctx, PATHS[4]).version, "text": f"{TRIGGER}, rain, rain"},
        headers=HX,
    )
    assert "data-note>Written more than once, so kept only once: “rain”.<" in own.text


def test_the_grid_opens_on_one_image(client: TestClient, ctx: ProjectContext) -> None:
    page = client.get("/projects/mira/captions", params={"image": PATHS[2]}).text
    assert re.findall(r'id="card-(\d+)"', page) == [str(image_id(ctx, PATHS[2]))]
    assert "Showing only <strong>10_mira/002.png</strong>" in page
    # A batch sent from that view stays in it.
    assert '<input type="hidden" name="image" value="10_mira/002.png">' in page


def test_buttons_name_their_image_and_a_skip_link_passes_the_tags(
    client: TestClient, ctx: ProjectContext
) -> None:
    page = client.get("/projects/mira/captions").text
    card = card_of(page, image_id(ctx, PATHS[0]))
    for name in (
        "Approve 10_mira/000.png",
        "Reject 10_mira/000.png",
        "Exclude 10_mira/000.png",
        "Select 10_mira/000.png for a batch change",
    ):
        assert f'aria-label="{name}"' in card, name
    assert 'aria-label="Include 10_mira/004.png"' in card_of(page, image_id(ctx, PATHS[4]))
    skip = page.index('id="skip-tags"')
    assert page.index('id="tag-panel"') > skip and 'href="#grid-main"' in page
    assert 'id="grid-main" tabindex="-1"' in page


def test_ticked_images_are_the_scope_when_none_is_chosen(
    client: TestClient, ctx: ProjectContext
) -> None:
    """A page without script cannot switch the scope when an image is ticked: the
    server takes the ticks as the scope unless "all in this view" was chosen."""
    page = client.get("/projects/mira/captions").text
    assert re.search(r'name="scope" value="filter" id="scope-view">', page)  # not pre-chosen
    ticked = [image_id(ctx, PATHS[1])]
    client.post(
        "/projects/mira/captions/batch",
        data={"operation": "add", "tag": "watercolor", "ids": ticked},
        headers=HX,
    )
    assert [p for p in PATHS if "watercolor" in sidecar(ctx, p).read_text()] == [PATHS[1]]
    everything = client.post(
        "/projects/mira/captions/batch",
        data={"operation": "add", "tag": "ink", "ids": ticked, "scope": "filter"},
        headers=HX,
    )
    assert "Added “ink” to 4 captions." in toasts(everything.text)[0]
