"""Curate and the Gate 1 report over HTTP.

HTMX contract checked here:
- GET /projects/{slug}/curate → repeats with the step count, balance, images, layout.
- POST .../curate/repeats → 303 back; 422 with the reason.
- POST .../curate/images/{id}/included → #curate-image-{id} partial (HTMX).
- POST .../curate/layout → 303; the job writes the folder or records why not.
- GET .../gates/dataset → the gate report; POST .../gates/dataset/run → 303 to it.
- GET .../report → 303 to the Gate 1 report (phase 6).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.curation.project_audit import run_project_audit
from app.curation.tasks import AUDIT_JOB, LAYOUT_JOB
from app.dataset.inventory import dataset_dir, layout_dir
from app.worker import Worker
from app.workspace import ProjectContext, Workspace
from tests.captions.approve import approve_all
from tests.captions.caption_projects import TRIGGER, caption_project, image_id, mira_intent
from tests.dataset import builders as b

HX = {"hx-request": "true"}


@pytest.fixture
def ctx(client: TestClient, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    workspace: Workspace = client.app.state.workspace  # type: ignore[attr-defined]
    ctx = caption_project(
        workspace, mira_intent(make_intent, name="Teapot", training_type="object"), []
    )
    for seed in range(10):
        root = dataset_dir(ctx) / "4_teapot"
        b.save(b.photo(800 + seed, (576, 512)), root / f"{seed:02}.png")
        (root / f"{seed:02}.txt").write_text(f"{TRIGGER}, on a table {seed}")
    return ctx


def wait(client: TestClient, ctx: ProjectContext, kind: str) -> dict[str, object]:
    jobs: Worker = client.app.state.jobs  # type: ignore[attr-defined]
    job = jobs.latest(kind, ctx.project.id)
    assert job is not None
    done = jobs.wait(job.id or 0, 60)
    assert done is not None and done.state == "done", done and done.error
    return done.result


def test_repeats_explained_with_the_step_count(client: TestClient, ctx: ProjectContext) -> None:
    waiting = client.get("/projects/teapot/curate").text  # the files were put in the folder
    assert 'id="outside-files"' in waiting and "10 new images" in " ".join(waiting.split())
    client.post("/projects/teapot/captions/take-in")
    page = client.get("/projects/teapot/curate").text
    assert 'id="outside-files"' not in page
    assert "40 samples per epoch" in page and "How steps are counted" in page
    assert re.search(r"<code>4_teapot</code>", page)
    changed = client.post(
        "/projects/teapot/curate/repeats", data={"concept": "teapot", "repeats": 8}
    )
    assert changed.status_code == 200 and "80 samples per epoch" in changed.text
    assert "<code>8_teapot</code>" in changed.text
    refused = client.post(
        "/projects/teapot/curate/repeats", data={"concept": "teapot", "repeats": 0}
    )
    assert refused.status_code == 422 and "from 1 to 100" in refused.text
    image = image_id(ctx, "4_teapot/02.png")
    toggled = client.post(
        f"/projects/teapot/curate/images/{image}/included", data={"included": 0}, headers=HX
    )
    assert f'id="curate-image-{image}"' in toggled.text and 'data-included="0"' in toggled.text


def test_the_gate_report_and_the_training_folder(client: TestClient, ctx: ProjectContext) -> None:
    assert (
        client.post("/projects/teapot/gates/dataset/run", follow_redirects=False).status_code == 303
    )
    wait(client, ctx, AUDIT_JOB)
    report = client.get("/projects/teapot/gates/dataset").text
    assert re.search(r'id="gate-verdict" data-status="block">blocks training<', report)
    assert "Captions not approved" in report and "Why this matters" in report
    assert "dataset-report.md" in report and 'id="decided-repeats"' in report
    assert (
        client.get("/projects/teapot/report", follow_redirects=False)
        .headers["location"]
        .endswith("/projects/teapot/gates/dataset")
    )

    client.post("/projects/teapot/curate/layout")
    assert wait(client, ctx, LAYOUT_JOB)["refused"][0].startswith("Gate 1 blocks")  # type: ignore[index]
    assert 'id="layout-refused"' in client.get("/projects/teapot/curate").text
    assert not layout_dir(ctx).exists()

    approve_all(ctx)
    overview = client.get("/projects/teapot").text
    assert "caption approvals, exclusions or repeats changed" in overview
    client.post("/projects/teapot/curate/layout")
    written = wait(client, ctx, LAYOUT_JOB)
    assert written["folders"] == {"4_teapot": 10}
    assert (layout_dir(ctx) / "4_teapot" / "09.txt").read_text() == f"{TRIGGER}, on a table 9"
    page = client.get("/projects/teapot/curate").text
    assert 'id="layout-written"' in page and 'id="layout-marker"' in page
    report = client.get("/projects/teapot/gates/dataset").text
    assert re.search(r'id="gate-verdict" data-status="pass">passes<', report)


def test_buttons_name_their_image_and_decisions_say_what_they_did(
    client: TestClient, ctx: ProjectContext
) -> None:
    run_project_audit(ctx)
    image = image_id(ctx, "4_teapot/02.png")
    curate = client.get("/projects/teapot/curate").text
    assert re.search(r'Exclude <span class="visually-hidden">02\.png</span></button>', curate)
    audit = client.get("/projects/teapot/audit").text
    assert 'aria-label="Exclude 4_teapot/02.png"' in audit

    body = client.post(
        f"/projects/teapot/images/{image}/included", data={"included": 0}, headers=HX
    ).text
    done = re.search(r'id="audit-done">(.*?)</p>', body)
    assert done and done.group(1) == (
        "Excluded 4_teapot/02.png. Gate 1 was judged again: the findings below are up to date."
    )
    plain = client.post(
        f"/projects/teapot/images/{image}/included", data={"included": 1}, follow_redirects=False
    )
    assert plain.status_code == 303 and "/projects/teapot/audit?done=" in plain.headers["location"]
    page = client.get(plain.headers["location"]).text
    assert re.search(r'id="audit-done">Included 4_teapot/02\.png\.</p>', page)


def test_a_broken_file_is_never_a_bucket(client: TestClient, ctx: ProjectContext) -> None:
    root = dataset_dir(ctx) / "4_teapot"
    b.truncated_jpeg(root / "broken.jpg")
    (root / "notes.png").write_text("not a picture")
    (root / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    client.post("/projects/teapot/captions/take-in")  # the files put in the folder
    before = client.get("/projects/teapot/curate").text  # before any audit: headers only
    assert "13 files have not been checked yet" in before  # the truncated JPEG counts, so far
    run_project_audit(ctx)
    after = client.get("/projects/teapot/curate").text
    assert 'id="unchecked"' not in after
    labels = re.findall(r'<span class="bar-label">(\d+×\d+)</span>', after)
    assert labels == ["512×448"]
    audit = client.get("/projects/teapot/audit").text
    buckets = audit.split('id="aspect-buckets"')[1].split("</ul>")[0]
    assert re.findall(r'bar-label">([^<]+)<', buckets) == ["512×448"]
