"""Models by name on the pages, without the network: the auto-caption page offers the
catalogue's captioners, and a name the catalogue lacks is refused plainly.

HTMX contract: POST /models/pull answers the download's box, or a toast (422) naming
the known models."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from huggingface_hub import constants

from app.models import Project

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty cache of the test's own: a model this machine happens to have cached
    would read "Use" instead of "Download"."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def test_the_autocaption_page_offers_the_catalogue_captioners(
    client: TestClient, project: Project
) -> None:
    page = client.get(f"/projects/{project.slug}/captions/auto")
    assert page.status_code == 200
    assert "Download wd-vit-tagger-v3" in page.text
    assert "Download blip-base" in page.text


def test_the_interview_offers_the_catalogue_base_models(client: TestClient) -> None:
    page = client.get("/projects/new")
    assert "Download sdxl-base-1.0" in page.text
    assert "accept its terms" in page.text  # FLUX.1 [dev] is gated


def test_an_unknown_model_name_is_refused_with_the_known_names(client: TestClient) -> None:
    answer = client.post("/models/pull", data={"model": "sd99"}, headers=HTMX)
    assert answer.status_code == 422
    assert "“sd99” is not a model loragate offers by name" in answer.text
    assert "sdxl-base-1.0" in answer.text
