"""A base model picked by name in the interview, downloaded from a fake hub
(tests/hub_server.py, HF_ENDPOINT) with its progress, then used to create a project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.grimoire import load_studio
from app.settings import Settings
from tests.browser.conftest import LiveServer
from tests.hub.conftest import catalogue_entries, start_fake_hub
from tests.hub_server import FakeHub, write_catalogue


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = start_fake_hub()
    yield hub
    hub.stop()


@pytest.fixture
def hub_live_server(
    request: pytest.FixtureRequest,
    fake_hub: FakeHub,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_leftover_jobs: None,
) -> LiveServer:
    catalogue = write_catalogue(tmp_path / "catalogue.toml", catalogue_entries())
    for key, value in {
        "HF_ENDPOINT": fake_hub.url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "LORAGATE_MODELS_CATALOGUE": str(catalogue),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    server: LiveServer = request.getfixturevalue("live_server")
    return server


def test_a_base_model_downloaded_by_name_becomes_the_project_base_model(
    page: Page, hub_live_server: LiveServer, fake_hub: FakeHub
) -> None:
    fake_hub.slow_after, fake_hub.slow_delay = 0, 0.03
    page.goto(hub_live_server.url + "/projects/new")
    assert fake_hub.requests == []  # showing the page asks the hub nothing
    page.select_option("#model_family", "sd15")
    page.fill("#trigger_word", "mirakz")
    page.fill("#name", "Tiny")

    page.get_by_text("Download a model by name").click()
    expect(page.locator("#model-catalogue")).to_contain_text("gated")
    page.get_by_role("button", name="Download tiny-sd15").click()
    expect(page.locator("#model-pull progress")).to_be_visible()
    expect(page.locator("[data-pulled=tiny-sd15]")).to_contain_text("studio.md lists it")

    # The list now holds the model, chosen, and nothing typed was lost.
    expect(page.locator("#base_model")).to_have_value("tiny-sd15")
    expect(page.locator("#name")).to_have_value("Tiny")
    page.check("#understood")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Tiny")).to_be_visible()

    entry = load_studio(hub_live_server.settings.grimoire_dir).base_model("tiny-sd15")
    assert entry is not None and entry.source == "test/tiny-sd15" and entry.family == "sd15"
    assert Path(entry.path).is_file()
