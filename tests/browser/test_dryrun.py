"""The Dry run page in a real browser, on the tiny SD 1.5 with Gates 1-3 passing: start
it, watch the trainer's log stream in over the job's SSE stream, see Gate 4 pass and the
measured seconds per step replace the estimate on the Config page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.workspace import Workspace
from tests.browser.conftest import LiveServer
from tests.dryrun_project import GATE_PASSING, pass_gates, set_config, tiny_project
from tests.tiny_models import build_tiny_sd15

pytestmark = pytest.mark.slow

# Loading the tiny model, two steps, a save, its reload and a sample, on a loaded CPU.
DRY_RUN_MS = 300_000


@pytest.fixture(scope="module")
def tiny_sd15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd15(tmp_path_factory.mktemp("tiny") / "sd15")


def test_start_watch_the_log_and_see_the_measurement(
    page: Page, live_server: LiveServer, tiny_sd15: Path
) -> None:
    workspace = Workspace(live_server.settings)
    ctx = tiny_project(workspace, tiny_sd15)
    set_config(ctx, **GATE_PASSING)
    pass_gates(ctx)
    slug = ctx.project.slug
    workspace.close()

    page.goto(f"{live_server.url}/projects/{slug}/dryrun")
    expect(page.get_by_role("heading", name="Dry run", exact=True)).to_be_visible()
    expect(page.locator("#dryrun-status")).to_have_attribute("data-status", "not_run")
    expect(page.locator("#dryrun-refused")).to_have_count(0)  # Gates 1-3 pass

    page.locator('input[name="steps"]').fill("2")
    page.locator("#start-dryrun").click()
    # The trainer's own lines, in words, as they come.
    log = page.locator("#dryrun-log")
    expect(log).to_contain_text("Training 2 steps", timeout=DRY_RUN_MS)
    expect(log).to_contain_text("Step 2 of 2", timeout=DRY_RUN_MS)

    # At the end the page reloads with the verdict and what was measured.
    expect(page.locator("#dryrun-status")).to_have_attribute(
        "data-status", "pass", timeout=DRY_RUN_MS
    )
    seconds = page.locator("#measured-seconds").inner_text()
    assert re.fullmatch(r"\d+\.\d\d s", seconds), seconds

    page.get_by_role("link", name=f"← {ctx.project.name}").click()
    page.get_by_role("link", name="Config", exact=True).click()
    measured = page.locator("#measured-speed")
    expect(measured).to_contain_text(f"measured {seconds}")
    expect(measured).to_contain_text("estimated")
    expect(page.locator("#time-cost")).to_contain_text("measured by the dry run")
