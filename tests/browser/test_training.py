"""Training in Chromium on the tiny SD 1.5: the Runs page shows the estimate, one click
confirms it and starts the run, the run page's loss chart moves as steps arrive over
SSE, a sample image appears, and the run finishes; a reload replays the whole chart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.workspace import Workspace
from tests.browser.conftest import LiveServer
from tests.runs.conftest import tiny_sd15  # noqa: F401  (the fixture)
from tests.runs.project import training_project

TOTAL = 10


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Before the server starts: the trainer it launches inherits it."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield


@pytest.mark.usefixtures("no_leftover_jobs")
def test_start_watch_the_chart_move_and_see_it_finish(
    one_thread: None,
    workspace: Workspace,
    tiny_sd15: Path,  # noqa: F811
    live_server: LiveServer,
    page: Page,
) -> None:
    ctx = training_project(
        workspace,
        tiny_sd15,
        confirmed=False,
        epochs=TOTAL // 2,
        sample_prompts=["zktrig, a quiet harbour"],
        sample_every_n_steps=4,
    )
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/projects/{ctx.project.slug}")
    page.get_by_role("link", name="Train").first.click()
    start = page.locator("#start-training")
    expect(start).to_contain_text(f"Confirm {TOTAL} steps")
    start.click()
    expect(page.locator("h1")).to_have_text("Run 1")
    chart = page.locator("#chart-loss")
    # The chart moves: points arrive while the run is still training.
    page.wait_for_function(
        "() => { const n = +document.querySelector('#chart-loss').dataset.points;"
        " return n >= 2 && n < 10 }",
        timeout=120_000,
    )
    expect(page.locator("#run-samples img").first).to_be_visible(timeout=120_000)
    # The image itself loads (the route serves the path the sample event names).
    page.wait_for_function(
        "() => { const img = document.querySelector('#run-samples img');"
        " return img && img.complete && img.naturalWidth > 0 }",
        timeout=30_000,
    )
    expect(page.locator("#run-state-words")).to_have_text("Finished", timeout=180_000)
    expect(chart).to_have_attribute("data-points", str(TOTAL), timeout=10_000)
    expect(page.locator("#run-output")).to_contain_text(".safetensors")
    page.reload()
    expect(chart).to_have_attribute("data-points", str(TOTAL), timeout=30_000)
    expect(page.locator("#run-step")).to_have_text(f"{TOTAL} / {TOTAL}")
    assert not errors, errors
