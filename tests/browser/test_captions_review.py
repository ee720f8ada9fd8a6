"""The caption grid's edges in Chromium: the Gate 1 chip goes out of date as soon as a
caption is approved, text typed over an outside edit is kept on the card (and is not
approved unseen by the click that saved it), a tag outside the panel is found by typing
it, and a finding opens to say why."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.captions.store import save_text
from app.curation.project_audit import run_project_audit
from app.dataset.inventory import dataset_dir
from app.dataset.records import load_rows
from app.workspace import Workspace
from tests.browser.conftest import LiveServer
from tests.captions.caption_projects import caption_project, mira_intent

TRIGGER = "zkwash"


def card(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.caption-card[data-path="5_wash/{name}"]')


def test_chip_conflict_tag_filter_and_why(
    page: Page,
    live_server: LiveServer,
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    many = ", ".join(f"t{n:02}" for n in range(45))  # more tags than the panel shows
    ctx = caption_project(
        workspace,
        mira_intent(make_intent, name="Wash", training_type="style", trigger_word=TRIGGER),
        [
            f"{TRIGGER}, {many}",
            f"{TRIGGER}, lighthouse, zz rare",
            f"{TRIGGER}, owl, watercolor",
            f"{TRIGGER}, harbour",
            f"{TRIGGER}, boats",
        ],
        folder="5_wash",
    )
    run_project_audit(ctx)
    page.goto(f"{live_server.url}/projects/wash/captions")
    chip = page.locator("#gate-chip")
    expect(chip).to_have_attribute("data-status", "block")

    # One approval, and the chip says the gate result is out of date.
    card(page, "003.png").locator(".thumb-button").click()
    expect(card(page, "003.png")).to_have_attribute("data-status", "approved")
    expect(chip).to_have_attribute("data-status", "stale")
    expect(chip).to_contain_text("Gate 1 out of date")

    # The file is edited in another program; the artist types and clicks the picture.
    (dataset_dir(ctx) / "5_wash/001.txt").write_text("edited elsewhere")
    typed = card(page, "001.png")
    typed.locator("textarea").fill("a lighthouse at dawn")
    typed.locator(".thumb-button").click()
    expect(typed.locator(".outside .mine")).to_have_text("a lighthouse at dawn")
    expect(typed.locator(".outside-text")).to_have_text("edited elsewhere")
    expect(typed).to_have_attribute("data-status", "draft")  # nothing approved unseen
    typed.locator('[data-action="keep-mine"]').click()
    expect(typed.locator(".outside")).to_have_count(0)
    expect(typed.locator("textarea")).to_have_value(f"{TRIGGER}, a lighthouse at dawn")

    # Another tab saved this caption; this one types over the old version and clicks the
    # picture: the save is refused, and the click does not approve the other tab's text.
    other = load_rows(ctx)[4]
    save_text(ctx, other.id or 0, "boats at night", 1)
    stale = card(page, "004.png")
    stale.locator("textarea").fill("boats at noon")
    stale.locator(".thumb-button").click()
    expect(stale.locator(".conflict .mine")).to_have_text("boats at noon")
    expect(stale.locator("textarea")).to_have_value(f"{TRIGGER}, boats at night")
    expect(stale).to_have_attribute("data-status", "draft")

    # A tag the panel does not list, typed into the filter.
    expect(page.locator('.tag-link[data-tag="zz rare"]')).to_have_count(0)
    page.fill("#tag-filter", "t44")
    page.press("#tag-filter", "Enter")
    expect(page.locator(".caption-card")).to_have_count(1)
    expect(card(page, "000.png")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/projects/wash/captions?tag=t44")

    # A finding on the card: what to do, and why on request.
    page.goto(f"{live_server.url}/projects/wash/captions")
    finding = card(page, "002.png").locator('[data-code="caption.style_word"]')
    expect(finding).to_contain_text("Fix: Remove “watercolor” from the caption")
    why = finding.locator(".finding-why")
    expect(why).not_to_have_attribute("open", "")
    why.locator("summary").click()
    expect(why).to_contain_text("the trigger word must carry the look")
