"""The Dry run page before Gates 1-3 pass: it says why it cannot start and offers no
Start button, and a POST to start (a stale tab, a script) is refused with the reasons,
starting no job. The page with a real dry run is in tests/training/dryrun/ and
tests/browser/test_dryrun.py.

HTMX contract: POST /projects/{slug}/dryrun/start answers 303 to the page once started,
409 with the reasons when refused (with HX-Request: the toast)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from app.models import Job, Project
from app.workspace import Workspace


def test_the_page_says_why_it_cannot_start_yet(client: TestClient, project: Project) -> None:
    page = client.get(f"/projects/{project.slug}/dryrun")
    assert page.status_code == 200
    assert 'id="dryrun-refused"' in page.text
    assert "Gate 2 · Config has not run yet." in page.text
    assert 'id="start-dryrun"' not in page.text
    overview = client.get(f"/projects/{project.slug}")
    assert f"/projects/{project.slug}/dryrun" in overview.text  # the pipeline links it


def test_starting_is_refused_with_the_reasons_and_starts_nothing(
    client: TestClient, project: Project, workspace: Workspace
) -> None:
    answer = client.post(f"/projects/{project.slug}/dryrun/start", data={"steps": "3"})
    assert answer.status_code == 409
    assert "Gate 1 · Dataset has not run yet." in answer.text
    htmx = client.post(
        f"/projects/{project.slug}/dryrun/start",
        data={"steps": "3"},
        headers={"HX-Request": "true"},
    )
    assert htmx.status_code == 409 and "did not start" in htmx.text
    with workspace.db.reading() as session:
        assert session.exec(select(Job)).all() == []


def test_gate_four_links_to_the_page(client: TestClient, project: Project) -> None:
    answer = client.get(f"/projects/{project.slug}/gates/dryrun", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(f"/projects/{project.slug}/dryrun")
