"""The Environment page (Gate 3) over HTTP.

HTMX contract checked here:
- GET  /projects/{slug}/environment → the page; with HX-Request the #environment-checklist
  partial alone
- GET  /projects/{slug}/gates/environment → 303 to the page (the overview's Gate 3 link)
- POST /projects/{slug}/environment/check → starts every check as a background job,
  which stores and journals the result; with HX-Request the #environment-checklist
  partial showing the job's progress (swapped via outerHTML; the progress partial
  polls and answers HX-Refresh once the check is done), without it 303 to the page,
  which shows the progress and refreshes itself without JavaScript
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.projects import Intent, create_project
from app.settings import Settings
from app.training.config import TrainingConfig, save_config
from app.workspace import Workspace

HTMX = {"hx-request": "true"}
GROUP_KEYS = ["config", "gpu", "torch", "smoke", "backend", "disk", "memory", "python"]


@pytest.fixture
def slug(settings: Settings, make_intent) -> str:  # type: ignore[no-untyped-def]
    workspace = Workspace(settings)
    try:
        project, _ = create_project(workspace, make_intent())
        save_config(workspace.project_dir(project.slug), TrainingConfig(device="cpu"))
        return project.slug
    finally:
        workspace.close()


def _statuses(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-check="(\w+)" data-status="(\w+)"', html))


def _running_check(client: TestClient, html: str) -> int:
    """The check job the page shows as running; waits for it to end."""
    assert 'id="environment-running"' in html and "Checking the environment" in html
    match = re.search(r'id="job-(\d+)"', html)
    assert match is not None
    job_id = int(match.group(1))
    finished = client.app.state.jobs.wait(job_id, 120)  # type: ignore[attr-defined]
    assert finished is not None and finished.state == "done", finished
    return job_id


def test_page_before_the_first_check_offers_to_run_it(client: TestClient, slug: str) -> None:
    page = client.get(f"/projects/{slug}/environment").text
    assert 'data-status="not_run"' in page
    assert "Gate 3 not run yet" in re.sub(r"<[^>]+>", "", page)
    assert ">Run the checks</button>" in page
    assert 'href="/docs/preflight-checklist"' in page
    assert "environment.css" in page


def test_gate_link_leads_to_the_page(client: TestClient, slug: str) -> None:
    response = client.get(f"/projects/{slug}/gates/environment", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/projects/{slug}/environment")


@pytest.mark.slow
def test_running_the_checks_shows_the_lights_and_updates_the_overview(
    client: TestClient, slug: str, settings: Settings
) -> None:
    partial = client.post(f"/projects/{slug}/environment/check", headers=HTMX)
    assert partial.status_code == 200
    started = partial.text
    assert "<html" not in started
    assert started.startswith("{#") is False and 'id="environment-checklist"' in started
    # The request only starts the check: the partial follows its events (SSE).
    assert 'id="run-environment-checks"' not in started
    assert "?watching=1" in started and 'hx-trigger="sse:progress' in started
    job_id = _running_check(client, started)
    done = client.get(f"/projects/{slug}/jobs/{job_id}", params={"watching": 1}, headers=HTMX)
    assert done.headers.get("hx-refresh") == "true"  # the page reloads with the result

    html = client.get(f"/projects/{slug}/environment", headers=HTMX).text
    statuses = _statuses(html)
    assert list(statuses) == GROUP_KEYS
    assert statuses["smoke"] == "pass" and statuses["backend"] == "pass"
    assert "cpu · float32" in html and "matched float32" in html
    # The CPU note: message, why, fix and a source link into the checklist document.
    assert 'data-code="device.cpu"' in html
    assert 'href="/docs/preflight-checklist#training-on-the-cpu"' in html
    assert ">Run the checks again</button>" in html

    overview = client.get(f"/projects/{slug}").text
    light = re.search(r'data-gate="environment" data-status="(\w+)"', overview)
    assert light is not None and light.group(1) in ("pass", "warn")
    assert f'href="http://127.0.0.1:8765/projects/{slug}/gates/environment"' in overview
    assert f'href="http://127.0.0.1:8765/projects/{slug}/environment"' in overview  # phase 8
    assert "Gate 3 · Environment passes" in overview  # the journal

    # Changing a setting the gate judged makes it stale, on the page and the overview.
    save_config(settings.training_dir / slug, TrainingConfig(device="cpu", num_gpus=2))
    page = client.get(f"/projects/{slug}/environment").text
    assert "Out of date: the training config changed" in page
    assert 'data-gate="environment" data-status="stale"' in client.get(f"/projects/{slug}").text


@pytest.mark.slow
def test_without_htmx_the_check_redirects_to_the_page(
    client: TestClient,
    settings: Settings,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    workspace = Workspace(settings)
    try:
        intent: Intent = make_intent(name="Kohya style", backend="kohya")
        project, _ = create_project(workspace, intent)
    finally:
        workspace.close()
    response = client.post(f"/projects/{project.slug}/environment/check", follow_redirects=False)
    assert response.status_code == 303
    running = client.get(response.headers["location"]).text
    # Without JavaScript the page refreshes itself while the check runs.
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in running
    _running_check(client, running)
    page = client.get(response.headers["location"]).text
    assert "http-equiv" not in page
    assert _statuses(page)["backend"] == "block"
    assert "grimoire/studio.md names no folder for it" in page
    assert "git clone https://github.com/kohya-ss/sd-scripts" in page
    assert "Gate 3 blocks training" in re.sub(r"<[^>]+>", "", page)


@pytest.mark.slow
def test_a_cancelled_check_stores_nothing_and_says_so(client: TestClient, slug: str) -> None:
    started = client.post(f"/projects/{slug}/environment/check", headers=HTMX).text
    match = re.search(r'id="job-(\d+)"', started)
    assert match is not None
    job_id = int(match.group(1))
    # A second press while it runs shows the same check instead of starting another.
    again = client.post(f"/projects/{slug}/environment/check", headers=HTMX).text
    assert f'id="job-{job_id}"' in again
    client.post(f"/projects/{slug}/jobs/{job_id}/cancel", headers=HTMX)
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    assert jobs.wait(job_id, 120).state == "cancelled"
    page = client.get(f"/projects/{slug}/environment").text
    assert 'data-status="not_run"' in page  # nothing was stored
    assert 'id="environment-last-check"' in page and "Cancelled. Nothing was lost." in page
    assert ">Run the checks</button>" in page


def test_partial_for_htmx_get(client: TestClient, slug: str) -> None:
    html = client.get(f"/projects/{slug}/environment", headers=HTMX).text
    assert "<html" not in html and 'id="environment-checklist"' in html


def test_unknown_project_and_foreign_origin(client: TestClient, slug: str) -> None:
    missing = client.get("/projects/nope/environment")
    assert missing.status_code == 404 and "There is no project “nope”" in missing.text
    foreign = client.post(
        f"/projects/{slug}/environment/check", headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
