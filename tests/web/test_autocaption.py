"""Auto-captioning over HTTP, sample first, on the tiny ONNX tagger.

HTMX contract checked here:
- GET /projects/{slug}/captions/auto → the page; a captioner whose folder is missing
  shows what to put where.
- POST .../captions/auto/sample → 303 to the page (the job runs); 422 with the reason.
- POST .../captions/auto/redraft → #sample partial, no model run; 422 for a bad recipe.
- POST .../captions/auto/run → 303 to the page; the run's drafts land in the grid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.captions.autocaption import RUN_JOB, SAMPLE_JOB
from app.captions.store import load_captions
from app.dataset.inventory import dataset_dir
from app.models import Project
from app.projects import create_project
from app.worker import Worker
from app.workspace import ProjectContext, Workspace
from tests.captions.autocaption_setup import build_tagger, coloured_images, use_tagger
from tests.captions.caption_projects import TRIGGER, mira_intent

HX = {"hx-request": "true"}


@pytest.fixture(scope="session")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tagger(tmp_path_factory.mktemp("web-autocaption") / "wd-tiny")


@pytest.fixture
def ctx(client: TestClient, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    workspace: Workspace = client.app.state.workspace  # type: ignore[attr-defined]
    project, _ = create_project(workspace, mira_intent(make_intent))
    ctx = workspace.context(project)
    coloured_images(dataset_dir(ctx) / "10_mira", 8)
    return ctx


def finish(client: TestClient, project: Project, kind: str) -> dict[str, object]:
    jobs: Worker = client.app.state.jobs  # type: ignore[attr-defined]
    job = jobs.latest(kind, project.id)
    assert job is not None
    done = jobs.wait(job.id or 0, 60)
    assert done is not None and done.state == "done", done and done.error
    return done.result


def test_a_missing_captioner_folder_says_what_to_put_where(
    client: TestClient, ctx: ProjectContext, tmp_path: Path
) -> None:
    page = client.get("/projects/mira/captions/auto").text
    assert "No WD14 tagger is set up." in page and "captioners: wd14:" in page
    use_tagger(ctx.workspace, tmp_path / "nowhere")
    refused = client.post("/projects/mira/captions/auto/sample", data={"kind": "wd14"})
    assert refused.status_code == 422
    assert "does not exist. Create it and put these files in it: model.onnx" in refused.text


def test_the_page_names_the_models_where_they_go_and_waits_for_one(
    client: TestClient, ctx: ProjectContext, tagger: Path
) -> None:
    """Issue 12.19: the page names the models each captioner runs, the files its folder
    needs, the studio.md line and file, and links the guide; "Caption the sample" is
    disabled until a captioner is set up."""
    page = client.get("/projects/mira/captions/auto").text
    studio = ctx.workspace.grimoire_dir / "studio.md"
    for kind, model, anchor in (
        ("wd14", "SmilingWolf/wd-vit-tagger-v3", "the-wd14-tagger"),
        ("natural", "Salesforce/blip-image-captioning-base", "the-natural-language-captioner"),
    ):
        block = re.search(rf'data-kind="{kind}" data-ready="0">.*?</details>', page, re.S)
        assert block, kind
        assert f"<code>{model}</code>" in block.group(0)
        assert f"<code>captioners: {kind}:</code> in <code>{studio}</code>" in block.group(0)
        assert f"captioning-guide#{anchor}" in block.group(0)
    assert "model.onnx (the tagger network)" in page
    assert re.search(r'id="caption-sample" disabled aria-describedby="no-captioner"', page)
    assert re.search(r'<input type="radio" name="kind" value="wd14" disabled>', page)
    # The WD14 thresholds are labelled for what they are.
    assert '<label for="general_threshold">WD14 threshold for general tags</label>' in page
    assert '<label for="character_threshold">WD14 threshold for character names</label>' in page

    use_tagger(ctx.workspace, tagger)
    ready = client.get("/projects/mira/captions/auto").text
    assert re.search(r'data-kind="wd14" data-ready="1"', ready)
    assert re.search(r'<input type="radio" name="kind" value="wd14" checked>', ready)
    assert re.search(r'id="caption-sample">Caption the sample<', ready)


def test_sample_redraft_then_the_rest(
    client: TestClient, ctx: ProjectContext, tagger: Path
) -> None:
    use_tagger(ctx.workspace, tagger)
    started = client.post(
        "/projects/mira/captions/auto/sample",
        data={"kind": "wd14", "scope": "missing", "sample_size": 3},
        follow_redirects=False,
    )
    assert started.status_code == 303, re.findall(r"notice-error[^>]*>([^<]*)", started.text)
    sample = finish(client, ctx.project, SAMPLE_JOB)
    assert len(sample["raw"]) == 3  # type: ignore[arg-type]
    page = client.get("/projects/mira/captions/auto").text
    drafts = re.findall(r'<p class="draft-text">([^<]*)</p>', page)
    assert len(drafts) == 3 and all(d.startswith(f"{TRIGGER}, ") for d in drafts)
    assert any("traditional media" in d for d in drafts)
    assert load_captions(ctx) == {}  # nothing is written before the recipe is approved
    # Where the sample came from, in words: the captioner's name and the scope's meaning.
    origin = re.search(r'id="sample-origin">([^<]*)<', page).group(1)  # type: ignore[union-attr]
    assert "Drafted by the WD14 tagger (wd-tiny) from 3 images without a caption." in origin
    assert "wd14:" not in origin and "scope" not in origin

    job_id = re.search(r'name="sample_job" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    recipe = {"sample_job": job_id, "blacklist": "traditional media", "prefix": "", "template": ""}
    redrafted = client.post("/projects/mira/captions/auto/redraft", data=recipe, headers=HX)
    assert redrafted.status_code == 200
    assert "traditional media" not in "".join(
        re.findall(r'<p class="draft-text">([^<]*)</p>', redrafted.text)
    )
    jobs: Worker = client.app.state.jobs  # type: ignore[attr-defined]
    assert jobs.latest(SAMPLE_JOB, ctx.project.id).id == int(job_id)  # type: ignore[union-attr]
    bad = client.post(
        "/projects/mira/captions/auto/redraft", data=recipe | {"template": "no place"}, headers=HX
    )
    assert bad.status_code == 422 and "{caption}" in bad.text

    ran = client.post("/projects/mira/captions/auto/run", data=recipe, follow_redirects=False)
    assert ran.status_code == 303
    result = finish(client, ctx.project, RUN_JOB)
    assert result["written"] == 8
    captions = load_captions(ctx)
    assert len(captions) == 8
    assert {c.status for c in captions.values()} == {"draft"}
    assert not any("traditional media" in c.text for c in captions.values())
    page = client.get("/projects/mira/captions/auto").text
    assert "Auto-captioned 8 images with the WD14 tagger (wd-tiny) as drafts" in page
    grid = client.get("/projects/mira/captions?filter=unapproved").text
    assert grid.count("drafted by the WD14 tagger (wd-tiny)") == 8
    assert 'id="approved-count">0<' in grid  # nothing was approved for the artist
