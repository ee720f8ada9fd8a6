"""The Studio page: the GPU, its memory and its price per hour are set in the browser and
written into studio.md's gpu block, the rest of the file as it was; without a price no
cost reads "0.0 USD".

No HTMX: GET /studio → the form; POST /studio → 303 to /studio?saved=1, or 422 with the
form again and nothing written."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.grimoire import load_studio, studio_path
from app.models import Project
from app.settings import Settings

GPU_VALUES = ("  name:", "  vram_gb:", "  hourly_cost:", "  currency:")


def outside_gpu_values(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(GPU_VALUES)]


def test_the_gpu_and_its_price_are_set_on_a_page(client: TestClient, settings: Settings) -> None:
    path = studio_path(settings.grimoire_dir)
    before = path.read_text()
    assert client.get("/").text.count('href="http://127.0.0.1:8765/studio"') == 1
    page = client.get("/studio").text
    for field in ("gpu-name", "vram_gb", "hourly_cost", "currency"):
        assert f'<label for="{field}">' in page

    saved = client.post(
        "/studio",
        data={"name": "RTX 4090", "vram_gb": "24", "hourly_cost": "0,79", "currency": "eur"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "Saved to" in client.get(saved.headers["location"]).text
    gpu = load_studio(settings.grimoire_dir).gpu
    assert (gpu.name, gpu.vram_gb, gpu.hourly_cost, gpu.currency) == ("RTX 4090", 24, 0.79, "EUR")
    after = path.read_text()
    # Only the gpu block's values changed: every comment, other setting and the body stay.
    assert outside_gpu_values(after) == outside_gpu_values(before)
    assert "# The GPU you train on." in after and after.endswith(before.split("---\n")[-1])


def test_bad_values_are_named_and_nothing_is_written(
    client: TestClient, settings: Settings
) -> None:
    before = studio_path(settings.grimoire_dir).read_text()
    refused = client.post(
        "/studio", data={"vram_gb": "lots", "hourly_cost": "-1", "currency": "dollars"}
    )
    assert refused.status_code == 422 and "Nothing was saved" in refused.text
    for field in ("vram_gb", "hourly_cost", "currency"):
        assert f'id="error-{field}"' in refused.text
    assert 'value="lots"' in refused.text
    assert studio_path(settings.grimoire_dir).read_text() == before


def test_without_a_price_no_cost_is_shown(
    client: TestClient, project: Project, settings: Settings
) -> None:
    config = client.get(f"/projects/{project.slug}/config").text
    assert 'id="cost-unset"' in config and "set a price per hour" in config
    client.post(f"/projects/{project.slug}/gates/config")
    gate = client.get(f"/projects/{project.slug}/gates/config").text
    assert "0.0 USD" not in gate and "set a price per hour" in gate
    client.post("/studio", data={"vram_gb": "24", "hourly_cost": "2", "currency": "USD"})
    client.post(f"/projects/{project.slug}/gates/config")
    gate = client.get(f"/projects/{project.slug}/gates/config").text
    assert "set a price per hour" not in gate and " USD ·" in gate
    assert 'id="cost"' in client.get(f"/projects/{project.slug}/config").text
