"""The Environment page (Gate 3) in a real browser against a real server: the checks
really run (NVML, PyTorch, the smoke test, the trainer's imports) on this machine, in
a background job whose progress the page follows until it reloads with the result."""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import Page, expect

from app.models import Project
from app.training.config import TrainingConfig, save_config
from tests.browser.conftest import LiveServer

CHECK_TIMEOUT = 120_000  # ms: the first check imports the whole training stack


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_environment_checklist_from_block_to_pass(
    page: Page, project: Project, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/projects/{project.slug}")
    expect(page.locator('#gates [data-gate="environment"]')).to_have_attribute(
        "data-status", "not_run"
    )
    page.get_by_role("link", name="Gate 3 · Environment").click()
    expect(page.get_by_role("heading", name="Environment", exact=True)).to_be_visible()

    # No config yet: the defaults ask for a GPU this machine does not have.
    page.get_by_role("button", name="Run the checks").click()
    # The check runs in the background; its progress shows until the page reloads.
    expect(page.locator("#environment-running")).to_be_visible()
    expect(page.locator("#environment-running progress")).to_be_visible()
    checklist = page.locator("#environment-checklist")
    expect(checklist).to_have_attribute("data-status", "block", timeout=CHECK_TIMEOUT)
    gpu = page.locator('[data-check="gpu"]')
    expect(gpu).to_have_attribute("data-status", "block")
    expect(gpu).to_contain_text("PyTorch sees no GPU either")
    expect(gpu.locator(".finding-fix")).to_contain_text("set the config's device to cpu")
    expect(page.locator('[data-check="smoke"]')).to_have_attribute("data-status", "skipped")
    expect(page.locator('[data-check="backend"]')).to_have_attribute("data-status", "pass")
    expect(page.locator('[data-check="config"]')).to_contain_text("No training config")

    # The artist follows the fix; the page says the old result no longer counts.
    save_config(
        live_server.settings.training_dir / project.slug,
        TrainingConfig(device="cpu", mixed_precision="bf16"),
    )
    page.reload()
    expect(page.locator("#environment-stale")).to_contain_text("the training config changed")
    page.get_by_role("button", name="Run the checks again").click()
    expect(checklist).not_to_have_attribute("data-status", "stale", timeout=CHECK_TIMEOUT)
    expect(checklist).not_to_have_attribute("data-status", "block")
    expect(page.locator('[data-check="gpu"]')).to_contain_text(
        "That is fine: the config trains on the CPU"
    )
    expect(page.locator('[data-check="smoke"]')).to_contain_text("cpu · float32")
    expect(page.locator('[data-check="smoke"]')).to_have_attribute("data-status", "pass")

    # The finding's source opens the checklist document at its section.
    page.locator('[data-code="device.cpu"]').get_by_role("link", name="Source").click()
    expect(page).to_have_url(f"{live_server.url}/docs/preflight-checklist#training-on-the-cpu")
    expect(page.get_by_role("heading", name="Training on the CPU")).to_be_visible()

    page.goto(f"{live_server.url}/projects/{project.slug}")
    light = page.locator('#gates [data-gate="environment"]')
    expect(light).not_to_have_attribute("data-status", "not_run")
    expect(light).not_to_have_attribute("data-status", "block")
    expect(light).not_to_have_attribute("data-status", "stale")
    expect(page.locator("#journal")).to_contain_text("Gate 3 · Environment blocks training")
