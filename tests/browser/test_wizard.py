"""The intent interview in a real browser, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from app.projects import create_project
from app.workspace import Workspace
from tests.browser.conftest import LiveServer


def test_create_project_through_the_interview(
    page: Page, live_server: LiveServer, base_model_file: Path
) -> None:
    page.goto(live_server.url + "/")
    expect(page.get_by_text("loragate takes you from a folder of images")).to_be_visible()
    page.get_by_role("link", name="Create your first project").click()

    # Choosing a type explains its content-style problem before anything is created.
    page.get_by_text("Character", exact=True).click()
    expect(page.locator("#explain")).to_contain_text("leave the character's fixed traits unsaid")
    page.select_option("#model_family", "sd15")
    expect(page.locator("#explain")).to_contain_text("Caption format for Stable Diffusion 1.5")

    # The trigger word is checked as it is typed.
    page.fill("#trigger_word", "castle")
    expect(page.locator("#trigger-feedback")).to_contain_text("common English word")
    page.fill("#trigger_word", "mirakz")
    expect(page.locator("#trigger-feedback")).to_contain_text("Good")

    page.select_option("#base_model", "__path__")
    page.fill("#base_model_path", str(base_model_file))
    page.select_option("#caption_format", "booru")
    page.fill("#must_vary", "pose, background, outfit")
    page.fill("#must_stay", "red scarf, scar over left eye")
    page.fill("#name", "Mira")

    # Without acknowledging the caption advice, nothing is created and nothing typed is lost.
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#error-understood")).to_be_visible()
    expect(page.locator("#name")).to_have_value("Mira")
    expect(page.locator("#must_stay")).to_have_value("red scarf, scar over left eye")

    page.check("#understood")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Mira")).to_be_visible()
    expect(page.locator("#gates li")).to_have_count(4)
    expect(page.locator('#gates [data-status="not_run"]')).to_have_count(4)
    expect(page.locator("#journal")).to_contain_text("Project “Mira” created.")

    folder = live_server.settings.training_dir / "mira"
    record = json.loads((folder / "project.json").read_text())
    assert record["training_type"] == "character" and record["trigger_word"] == "mirakz"
    assert "Must stay fixed: red scarf" in (folder / "journal.md").read_text()

    page.get_by_role("link", name="Projects").first.click()
    expect(page.get_by_role("link", name="Mira")).to_be_visible()

    # A resource document opens from a link, at the right section.
    page.get_by_role("link", name="Mira").click()
    page.get_by_role("link", name="Read more").click()
    expect(page).to_have_url(
        live_server.url + "/docs/content-style#character-and-object-loras-caption-what-varies"
    )
    expect(page.locator("#character-and-object-loras-caption-what-varies")).to_be_visible()


def test_invalid_trigger_is_refused_in_the_browser(
    page: Page, live_server: LiveServer, base_model_file: Path
) -> None:
    page.goto(live_server.url + "/projects/new")
    page.fill("#trigger_word", "ink, wash")
    expect(page.locator("#trigger-feedback")).to_contain_text("comma")
    page.fill("#base_model_path", str(base_model_file))
    page.fill("#name", "Ink")
    page.check("#understood")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#error-trigger_word")).to_contain_text("comma")
    assert not (live_server.settings.training_dir / "ink").exists()


def test_change_an_answer_then_archive_and_delete_the_project(
    page: Page,
    live_server: LiveServer,
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    create_project(workspace, make_intent(name="Ink", trigger_word="zkink"))
    page.goto(live_server.url + "/projects/ink")
    page.get_by_role("link", name="Change answers").click()
    expect(page.locator("#model_family")).to_have_value("sdxl")
    page.select_option("#model_family", "sd15")
    expect(page.locator("#explain")).to_contain_text("Caption format for Stable Diffusion 1.5")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.locator("#done")).to_contain_text(
        "model family Stable Diffusion XL → Stable Diffusion 1.5"
    )
    expect(page.locator("#journal")).to_contain_text("Intent changed")

    page.get_by_role("button", name="Archive Ink").click()
    expect(page.locator("#done")).to_contain_text("Archived “Ink”")
    expect(page.locator(".project-link")).to_have_count(0)
    page.get_by_role("link", name="Archived projects (1)").click()
    page.get_by_role("button", name="Restore Ink").click()
    expect(page.locator("#archived-notice")).to_have_count(0)

    page.get_by_role("link", name="Delete Ink…").click()
    page.get_by_label("Type the project's name").fill("Ink")
    page.get_by_role("button", name="Delete Ink for good").click()
    expect(page.locator("#done")).to_contain_text("Deleted “Ink”")
    assert not (live_server.settings.training_dir / "ink").exists()
