"""The caption grid in Chromium: approve by clicking thumbnails (and with the keyboard),
edit one caption inline, remove a tag from every caption and undo it, and watch Gate 1
turn from “blocks training” to “passes”."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.curation.project_audit import run_project_audit
from app.dataset.inventory import dataset_dir
from app.projects import create_project
from app.workspace import Workspace
from tests.browser.conftest import LiveServer
from tests.dataset import builders as b

TRIGGER = "zkteapot"


def card(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.caption-card[data-path="4_teapot/{name}"]')


def test_approve_edit_batch_undo_and_gate_one_passes(
    page: Page,
    live_server: LiveServer,
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    project, _ = create_project(
        workspace,
        make_intent(
            name="Teapot",
            training_type="object",
            trigger_word=TRIGGER,
            model_family="sd15",
            caption_format="booru",
            must_vary="",
        ),
    )
    ctx = workspace.context(project)
    root = dataset_dir(ctx) / "4_teapot"
    for seed in range(10):
        b.save(b.photo(400 + seed, (576, 512)), root / f"{seed:02}.png")
        scarf = ", red scarf" if seed % 3 == 0 else ""
        (root / f"{seed:02}.txt").write_text(f"{TRIGGER}, on a table {seed}{scarf}")
    assert run_project_audit(ctx).result.verdict == "block"  # nothing approved yet

    page.goto(f"{live_server.url}/projects/teapot")
    page.get_by_role("link", name="Captions").first.click()
    expect(page.locator("#gate-chip")).to_have_attribute("data-status", "block")
    expect(page.locator("#caption-progress")).to_contain_text("0 of 10 approved")

    # Click eight thumbnails.
    for seed in range(8):
        card(page, f"{seed:02}.png").locator(".thumb-button").click()
        expect(card(page, f"{seed:02}.png")).to_have_attribute("data-status", "approved")
    expect(page.locator("#caption-progress")).to_contain_text("8 of 10 approved")
    # Click again: the approval is taken back; once more: approved again.
    card(page, "07.png").locator(".thumb-button").click()
    expect(card(page, "07.png")).to_have_attribute("data-status", "draft")
    card(page, "07.png").locator(".thumb-button").click()
    expect(card(page, "07.png")).to_have_attribute("data-status", "approved")

    # The keyboard: the help, then from the last card clicked to the next, and approve it.
    page.keyboard.press("?")
    expect(page.locator("#keyboard-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#keyboard-help")).to_be_hidden()
    page.keyboard.press("ArrowRight")
    expect(card(page, "08.png")).to_have_class(r"caption-card status-draft current")
    page.keyboard.press("a")
    expect(card(page, "08.png")).to_have_attribute("data-status", "approved")

    # Edit the last caption inline, dropping the trigger word, then click its picture:
    # the edit is saved first (trigger back, with a note), then approved.
    last = card(page, "09.png")
    last.locator("textarea").fill("on a chair")
    last.locator(".thumb-button").click()
    expect(last).to_have_attribute("data-status", "approved")
    expect(last.locator("textarea")).to_have_value(f"{TRIGGER}, on a chair")
    expect(last.locator(".caption-note")).to_contain_text("The trigger word was missing")
    expect(page.locator("#caption-progress")).to_contain_text("10 of 10 approved")

    # Remove a tag from every caption in the view, then undo it.
    page.fill("#batch-tag", "red scarf")
    page.click("#batch-apply")
    expect(page.locator("#toasts")).to_contain_text("Removed “red scarf” from 3 captions.")
    expect(card(page, "00.png").locator("textarea")).to_have_value(f"{TRIGGER}, on a table 0")
    expect(card(page, "00.png")).to_have_attribute("data-status", "draft")
    expect(page.locator("#caption-progress")).to_contain_text("7 of 10 approved")
    page.click("#undo-button")
    expect(page.locator("#toasts")).to_contain_text("Undone: Removed “red scarf”")
    expect(card(page, "00.png").locator("textarea")).to_have_value(
        f"{TRIGGER}, on a table 0, red scarf"
    )
    expect(page.locator("#caption-progress")).to_contain_text("10 of 10 approved")
    expect(page.locator("#undo-button")).to_have_count(0)

    # Gate 1 runs again and passes.
    page.click("#check-gate")
    expect(page.locator("#gate-verdict")).to_have_attribute("data-status", "pass", timeout=60_000)
    expect(page.locator("#gate-verdict")).to_have_text("passes")
    page.get_by_role("link", name="Teapot").first.click()
    expect(page.locator('#gates [data-gate="dataset"]')).to_have_attribute("data-status", "pass")
    expect(page.locator("#journal")).to_contain_text("Undid: Removed “red scarf” from 3 captions.")
    expect(page.locator("#journal")).to_contain_text("Approved")
