"""The Evaluation page in Chromium on the tiny SD 1.5 model: a LoRA copied into the
project's loras/ folder gets its grid made by the worker (the progress box follows the
job, the end reloads the page), the sheet and both curves show, a clicked cell becomes
the recommendation, registering it enters it in the studio, and the projects list says
so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.training.project_config import current_config, save_changes
from app.workspace import ProjectContext, Workspace
from tests.browser.conftest import LiveServer
from tests.captions.caption_projects import caption_project, mira_intent
from tests.evaluation.conftest import CAPTIONS
from tests.evaluation.lora_files import write_kohya_lora
from tests.tiny_models import build_tiny_sd15

LORA = "loras/from-elsewhere.safetensors"
# 6 prompts × 1 seed: the weight-0 column (the base model), then the column at weight 1,
# each image at the page's 20 denoising steps.
IMAGES = 6 * 1 * 2


@pytest.fixture
def ctx(workspace: Workspace, make_intent, tmp_path: Path) -> ProjectContext:  # type: ignore[no-untyped-def]
    model = build_tiny_sd15(tmp_path / "tiny-sd15")
    ctx = caption_project(workspace, mira_intent(make_intent, base_model=str(model)), CAPTIONS)
    # The grid is made at the training resolution: the smallest keeps the test quick.
    save_changes(ctx, current_config(ctx).model_copy(update={"resolution": 64}))
    write_kohya_lora(model, ctx.dir / LORA)
    return ctx


@pytest.mark.slow
@pytest.mark.usefixtures("no_leftover_jobs")
def test_make_the_grid_pick_a_cell_register_and_see_it_listed(
    page: Page, live_server: LiveServer, ctx: ProjectContext
) -> None:
    slug = ctx.project.slug
    page.goto(f"{live_server.url}/projects/{slug}/evaluation")
    expect(page.locator("#lora-select")).to_have_value(LORA)
    expect(page.locator(".eval-panel")).to_contain_text("No grid yet for this file.")

    page.fill("#grid-form input[name=weights]", "0, 1")
    page.fill("#grid-form input[name=seeds]", "1")
    page.click("#run-grid")
    box = page.locator("[id^=job-][data-state]")
    expect(box).to_contain_text("Evaluation grid: loras from-elsewhere.safetensors")
    expect(box).to_have_attribute("data-state", "running", timeout=60_000)
    expect(page.locator("#run-grid")).to_be_disabled()
    # The bar moves with the child's events, then the end reloads the page.
    expect(box).to_contain_text(
        re.compile(rf"Generating {IMAGES} images · \d+ of {IMAGES}"), timeout=60_000
    )
    # Minutes on a busy shared CPU; seconds where the machine is free.
    expect(box).to_have_attribute("data-state", "done", timeout=300_000)

    panel = page.locator(".eval-panel")
    expect(panel.locator("button.cell")).to_have_count(IMAGES)
    for curve in ("curve-effect", "curve-leak"):
        points = panel.locator(f"polyline.{curve}").get_attribute("points") or ""
        assert len(points.split()) == 2, curve  # one point per weight
    expect(panel).to_contain_text("change with the trigger")
    sheet = page.request.get(panel.locator("a.sheet-link").get_attribute("href") or "")
    assert sheet.ok and sheet.headers["content-type"] == "image/png"
    expect(panel.locator("button.cell[data-weight='0.0']").first).to_be_disabled()

    panel.locator("button.cell[data-weight='1.0']").first.click()
    expect(page.locator("#done")).to_have_text("Recommendation saved.")
    expect(page.locator("#recommendation")).to_contain_text("at weight 1")

    page.fill("#register input[name=name]", "mira-v1")
    page.fill("#register input[name=notes]", "ink look")
    page.click("#register-button")
    expect(page.locator("#done")).to_have_text("Registered in the studio.")
    expect(page.locator("[data-registered='mira-v1']")).to_contain_text("at weight 1")
    assert (ctx.workspace.grimoire_dir / "loras" / "mira-v1.safetensors").is_file()

    page.goto(f"{live_server.url}/")
    expect(page.locator(".registered-lora")).to_contain_text("mira-v1")
