"""The demo button in a real browser: on an empty projects page, “Try the demo” lands
on the demo project's overview, labelled as a demo whose model draws noise, and Gate 1
then blocks on the flaws planted for the audit."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer


@pytest.mark.usefixtures("no_leftover_jobs")
def test_the_demo_button_opens_the_demo_project(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Try the demo").click()
    expect(page).to_have_url(live_server.url + "/projects/demo-sample-photos")
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo · sample photos")
    expect(page.locator("[data-demo-note]")).to_contain_text("draws noise")
    # The demo's job (model, import, audit) shows its progress here; when it ends the page
    # reloads and Gate 1 has found the planted flaws.
    expect(page.locator(".job[data-state]")).to_have_count(0, timeout=240_000)
    expect(page.locator('[data-gate="dataset"]')).to_have_attribute("data-status", "block")
