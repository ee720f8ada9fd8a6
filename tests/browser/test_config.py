"""The Config page in a real browser: pick a preset, change fields, watch the live panel
follow, and see Gate 2 block a batch that does not fit the GPU."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from app.workspace import Workspace
from tests.browser.conftest import LiveServer
from tests.training.helpers import new_project, set_gpu


def test_preset_fields_and_live_panel(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    workspace = Workspace(live_server.settings)
    set_gpu(workspace, "NVIDIA GeForce RTX 4090", 24.0, 0.69)
    project = new_project(workspace, tmp_path)
    workspace.close()

    page.goto(f"{live_server.url}/projects/{project.slug}")
    page.get_by_role("link", name="Config", exact=True).click()
    expect(page.get_by_role("heading", name="Training config")).to_be_visible()

    page.get_by_role("button", name="Use Quick").click()
    expect(page.locator('[data-preset="quick"]')).to_contain_text("in use")
    expect(page.locator("#f-epochs")).to_have_value("2")  # a style, folders of 10 repeats: 20 views
    steps_before = page.locator("#total-steps").inner_text()

    # Typing a field updates the panel without saving: the step count follows the epochs.
    page.fill("#f-epochs", "4")
    expect(page.locator("#total-steps")).to_have_text(str(int(steps_before) * 2))
    expect(page.locator("#unsaved")).to_be_visible()

    # A batch the GPU cannot hold: the VRAM bar overflows and Gate 2 blocks, with its why.
    page.fill("#f-train_batch_size", "32")
    overflow = page.locator('#live-panel [data-code="config.vram_overflow"]')
    expect(overflow).to_be_visible()
    expect(overflow).to_contain_text("Blocks")
    expect(overflow).to_contain_text("out of memory")
    expect(page.locator("#live-panel .vram-bar")).to_have_class("vram-bar vram-over")

    # The help next to a field explains it in plain words.
    page.locator('[data-field="network_rank"] .field-help summary').click()
    expect(page.locator('[data-field="network_rank"] .field-help')).to_contain_text("Usual range")

    # Another trainer's files are one click away.
    page.select_option("#backend-picker", "kohya")
    expect(page.locator('#live-panel [data-file="dataset.toml"]')).to_be_attached()

    # Saving journals the change.
    page.fill("#f-train_batch_size", "1")
    page.get_by_role("button", name="Save config").click()
    expect(page.locator("#f-epochs")).to_have_value("4")
    page.goto(f"{live_server.url}/projects/{project.slug}")
    expect(page.locator("#journal")).to_contain_text("epochs 2 → 4")
