"""The Config page's bundle section: export refused (409, in words) unless Gates 1 and 2
pass now; with them passing, the export job writes the zip the page then offers; an
uploaded results.zip comes home through the import job; a hostile one fails that job
with the refusal, and nothing is written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.bundle.tasks import export_path
from app.projects import get_project
from app.workspace import Workspace
from tests.bundle.test_import import GOOD, _zip
from tests.demo.ready import ready_demo
from tests.training.helpers import new_project
from tests.worker.conftest import wait_for


def _job_over(client: TestClient, kind: str, project_id: int) -> bool:
    job = client.app.state.jobs.latest(kind, project_id)  # type: ignore[attr-defined]
    return job is not None and job.state in ("done", "failed")


def test_export_is_refused_in_words_before_gate_1_has_run(
    client: TestClient, workspace: Workspace, tmp_path: Path
) -> None:
    project = new_project(workspace, tmp_path)
    answer = client.post(f"/projects/{project.slug}/bundle/export")
    assert answer.status_code == 409
    assert "Gate 1 · Dataset has not been run" in answer.text


@pytest.mark.slow
@pytest.mark.usefixtures("no_leftover_jobs")
def test_export_then_import_through_the_config_page(
    client: TestClient, workspace: Workspace, tmp_path: Path
) -> None:
    ctx = ready_demo(workspace)
    slug = ctx.project.slug
    page = client.get(f"/projects/{slug}/config")
    assert "Export for a rented GPU" in page.text and "Import results" in page.text

    answer = client.post(
        f"/projects/{slug}/bundle/export", data={"gpu": "RTX 4090 24 GB"}, follow_redirects=False
    )
    assert answer.status_code == 303
    wait_for(lambda: _job_over(client, "bundle.export", ctx.project.id), 120, "the export")
    assert zipfile.is_zipfile(export_path(ctx))
    download = client.get(f"/projects/{slug}/bundle/download")
    assert download.status_code == 200 and download.content[:2] == b"PK"

    results = _zip(tmp_path / "results.zip", GOOD)
    with results.open("rb") as handle:
        answer = client.post(
            f"/projects/{slug}/bundle/import",
            files={"archive": ("results.zip", handle, "application/zip")},
            follow_redirects=False,
        )
    assert answer.status_code == 303
    wait_for(lambda: _job_over(client, "bundle.import", ctx.project.id), 60, "the import")
    assert (ctx.dir / "runs" / "1" / "ink-wash.safetensors").is_file()

    hostile = _zip(tmp_path / "hostile.zip", GOOD | {"../escaped.txt": b"x"})
    with hostile.open("rb") as handle:
        client.post(
            f"/projects/{slug}/bundle/import",
            files={"archive": ("hostile.zip", handle, "application/zip")},
        )
    wait_for(lambda: _job_over(client, "bundle.import", ctx.project.id), 60, "the import")
    job = client.app.state.jobs.latest("bundle.import", ctx.project.id)  # type: ignore[attr-defined]
    assert job.state == "failed" and "zip slip" in (job.error or "")
    assert sorted(p.name for p in (ctx.dir / "runs").iterdir()) == ["1"]
    assert get_project(workspace, slug) is not None
