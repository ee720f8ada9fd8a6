"""The caption grid in Chromium when things go wrong and at scale of use (issue 12): a
save that cannot reach the server says so on the card, keeps the typed text and goes
through once the server answers again; thumbnails that failed to load come back;
ticking images switches a batch to them and its button counts them; a card without a
caption stays when its picture is clicked; each card has two tab stops; at 390 px the
grid comes before the tags and the sticky bar stays small."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from app.captions.store import set_status
from app.dataset.decisions import set_included
from app.workspace import ProjectContext, Workspace
from tests.browser.conftest import LiveServer
from tests.captions.caption_projects import caption_of, caption_project, mira_intent

TRIGGER = "zkdune"


def card(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.caption-card[data-path="6_dune/{name}"]')


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    ctx = caption_project(
        workspace,
        mira_intent(make_intent, name="Dune", trigger_word=TRIGGER),
        [f"{TRIGGER}, dune {index}, sand" for index in range(4)] + [None],
        folder="6_dune",
    )
    first = caption_of(ctx, "6_dune/000.png")
    set_status(ctx, first.image_id, "approved", first.version)
    set_included(ctx, caption_of(ctx, "6_dune/003.png").image_id, False)
    return ctx


@pytest.fixture
def watched(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page whose script errors are collected. Failed requests are what these tests
    cause on purpose, so Chromium's and htmx's reports of them are let through."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    expected = ("Failed to load resource", "htmx:sendError", "htmx:afterRequest")
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith(expected)
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    yield page, problems
    context.close()
    assert problems == [], f"the page had problems: {problems}"


def test_a_failed_save_says_so_keeps_the_text_and_goes_through_later(
    watched: tuple[Page, list[str]], live_server: LiveServer, ctx: ProjectContext
) -> None:
    page, _ = watched
    # The first request for every thumbnail fails, as on a server that just restarted.
    failed_once: set[str] = set()

    def flaky_thumbs(route: Route) -> None:
        path = urlsplit(route.request.url).path
        if path in failed_once:
            route.continue_()
        else:
            failed_once.add(path)
            route.abort()

    page.route("**/images/*/thumb*", flaky_thumbs)
    page.goto(f"{live_server.url}/projects/dune/captions")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')].every("
        "(img) => img.complete && img.naturalWidth > 0)"
    )
    assert len(failed_once) == 5

    # The server cannot be reached: the save fails.
    page.route("**/captions/*/text", lambda route: route.abort())
    approved = card(page, "000.png")
    expect(approved).to_have_attribute("data-status", "approved")
    approved.locator("textarea").fill(f"{TRIGGER}, dune at dusk")
    approved.locator("textarea").press("Tab")
    problem = approved.locator(".save-problem")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("Not saved: the server did not answer.")
    expect(approved.locator("textarea")).to_have_value(f"{TRIGGER}, dune at dusk")
    # Never "approved" beside text that is not stored.
    expect(approved.locator(".status-badge")).to_have_text("edited, not saved")
    expect(approved).to_have_class(re.compile(r"\bunsaved\b"))

    # The server answers again: the retry saves it, and the card saves normally after.
    page.unroute("**/captions/*/text")
    expect(approved).to_have_attribute("data-status", "draft", timeout=20_000)
    expect(approved.locator(".save-problem")).to_be_hidden()
    expect(approved.locator("textarea")).to_have_value(f"{TRIGGER}, dune at dusk")
    approved.locator("textarea").fill(f"{TRIGGER}, dune at dawn")
    approved.locator("textarea").press("Tab")
    expect(approved.locator(".status-badge")).to_have_text("draft")
    page.reload()
    expect(card(page, "000.png").locator("textarea")).to_have_value(f"{TRIGGER}, dune at dawn")
    assert caption_of(ctx, "6_dune/000.png").text == f"{TRIGGER}, dune at dawn"


def test_ticking_scopes_the_batch_and_cards_stay_and_name_themselves(
    page: Page, live_server: LiveServer, ctx: ProjectContext
) -> None:
    page.goto(f"{live_server.url}/projects/dune/captions")
    apply = page.locator("#batch-apply")
    expect(apply).to_have_text("Apply to 4 captions")  # the excluded image is not counted
    card(page, "001.png").get_by_role("checkbox").check()
    expect(page.locator("#scope-selection")).to_be_checked()
    expect(apply).to_have_text("Apply to the 1 ticked caption")
    card(page, "003.png").get_by_role("checkbox").check()  # excluded: never changed
    expect(apply).to_have_text("Apply to the 1 ticked caption")
    page.select_option("#batch-operation", "add")
    page.fill("#batch-tag", "watercolor")
    apply.click()
    # The first write of a server loads the tokenizer that counts tokens: give it time.
    expect(page.locator("#toasts")).to_contain_text(
        "Added “watercolor” to 1 caption.", timeout=30_000
    )
    expect(page.locator("#toasts")).to_contain_text("1 excluded image left alone")
    assert "watercolor" in caption_of(ctx, "6_dune/001.png").text
    for other in ("000", "002", "003"):
        assert "watercolor" not in caption_of(ctx, f"6_dune/{other}.png").text
    assert caption_of(ctx, "6_dune/000.png").status == "approved"
    expect(apply).to_have_text("Apply to 4 captions")  # the new grid has nothing ticked

    # A picture without a caption: the card stays and says why.
    bare = card(page, "004.png")
    page.get_by_role("button", name="Approve 6_dune/004.png").click()
    expect(bare.locator(".card-notice")).to_contain_text("has no caption yet")
    expect(bare).to_have_attribute("data-status", "none")

    # Two tab stops per card: the picture, then the caption, then the next picture.
    page.get_by_role("button", name="Approve 6_dune/000.png").focus()
    page.keyboard.press("Tab")
    expect(card(page, "000.png").locator("textarea")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Approve 6_dune/001.png")).to_be_focused()
    # The skip link jumps past the tag list.
    page.locator("#skip-tags").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#grid-main")).to_be_focused()


def test_at_390_px_the_grid_comes_first_and_the_bar_stays_small(
    browser: Browser, live_server: LiveServer, ctx: ProjectContext
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/projects/dune/captions")
        grid = page.locator("#caption-grid").bounding_box()
        tags = page.locator("#tag-panel").bounding_box()
        assert grid and tags and grid["y"] < tags["y"]
        # An undo button with a long batch message is the widest thing the bar holds.
        page.fill("#batch-tag", "sand")
        page.click("#batch-apply")
        expect(page.locator("#undo-button")).to_be_visible()
        page.mouse.wheel(0, 1500)
        page.wait_for_function("() => window.scrollY > 300")
        bar = page.locator("#caption-bar").bounding_box()
        assert bar is not None
        assert abs(bar["y"]) < 2, "the bar sticks to the top"
        assert bar["height"] < 844 / 10, f"the bar is {bar['height']} px tall"
    finally:
        context.close()
