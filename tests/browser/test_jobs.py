"""A running job's box follows the job's event stream in Chromium: the bar moves with
the child's progress events (nothing polls), and the end event reloads the page, with
no console error when the stream closes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.worker import Worker
from app.workspace import Workspace
from tests.browser.conftest import LiveServer
from tests.worker.kinds import COUNT, PAUSE_THEN_BURST


@pytest.mark.usefixtures("no_leftover_jobs")
def test_the_bar_follows_the_events_and_the_end_reloads_the_page(
    page: Page,
    live_server: LiveServer,
    workspace: Workspace,
    project,  # type: ignore[no-untyped-def]
) -> None:
    job = Worker(workspace).start(COUNT, project.id, {"n": 40, "delay": 0.15}, title="Counting")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server.url}/projects/{project.slug}/dataset")
    box = page.locator(f"#job-{job.id}")
    expect(box).to_contain_text(re.compile(r"Counting · [1-3]\d of 40"), timeout=60_000)
    expect(box).to_have_count(0, timeout=60_000)  # the end reloaded the page
    streams = [url for url in requests if f"/jobs/{job.id}/events" in url]
    assert streams and all("after=" in url for url in streams)


@pytest.mark.usefixtures("no_leftover_jobs")
def test_an_end_that_arrives_with_other_events_still_reloads(
    page: Page,
    live_server: LiveServer,
    workspace: Workspace,
    project,  # type: ignore[no-untyped-def]
) -> None:
    """htmx's throttle would drop an end arriving within 300 ms of a progress event on
    the same element; the end has an element of its own."""
    job = Worker(workspace).start(PAUSE_THEN_BURST, project.id, {"n": 6, "pause": 5})
    page.goto(f"{live_server.url}/projects/{project.slug}/dataset")
    box = page.locator(f"#job-{job.id}")
    expect(box).to_have_attribute("data-state", "running", timeout=30_000)
    expect(box).to_have_count(0, timeout=60_000)
