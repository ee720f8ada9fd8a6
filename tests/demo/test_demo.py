"""The demo: `loragate demo` and the projects page's button make a project from
scikit-image's sample photos whose audit finds the planted flaws; asked twice, nothing
is duplicated; Gate 3 tells the demo plainly why it runs on the CPU."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.demo import DEMO_MODEL_NAME, DEMO_MODEL_WORDS
from app.demo.model import register_demo_model
from app.environment.device import RunSize, device_findings
from app.environment.torch_info import TorchProbe
from app.evaluation.job import grid_request
from app.gpu_probe import GpuReport
from app.models import Project
from app.projects import Intent, create_project
from app.resources import check_source
from app.settings import Settings
from app.training.config import TrainingConfig
from app.workspace import ProjectContext, Workspace
from tests.demo.ready import demo_intent


def _projects(settings: Settings) -> list[Project]:
    workspace = Workspace(settings)
    try:
        with workspace.db.reading() as session:
            return list(session.exec(select(Project)))
    finally:
        workspace.close()


@pytest.mark.usefixtures("no_leftover_jobs")
def test_the_demo_button_makes_one_demo_and_opens_it(
    client: TestClient, settings: Settings
) -> None:
    listing = client.get("/")
    assert "Try the demo" in listing.text

    first = client.post("/demo", follow_redirects=False)
    assert first.status_code == 303
    slug = first.headers["location"].rstrip("/").rsplit("/", 1)[-1]
    overview = client.get(first.headers["location"])
    assert DEMO_MODEL_WORDS.split(":")[0] in overview.text  # labelled as the demo model
    for phase in ("audit", "captions", "config", "dryrun", "runs", "evaluation", "register"):
        page = client.get(f"{first.headers['location'].rstrip('/')}/{phase}")
        assert page.status_code == 200, phase
        assert page.text.count("data-demo-note") == 1, phase  # every page, once

    second = client.post("/demo", follow_redirects=False)
    assert second.headers["location"] == first.headers["location"]
    assert [p.slug for p in _projects(settings)] == [slug]
    studio = client.get("/studio")
    assert DEMO_MODEL_NAME in studio.text and "draws noise" in studio.text


def test_gate_3_tells_the_demo_why_it_runs_on_the_cpu() -> None:
    config = TrainingConfig(device="cpu", mixed_precision="no")
    no_gpu = GpuReport(status="library_missing")
    torch = TorchProbe(python=sys.executable)
    findings = device_findings(config, no_gpu, torch, RunSize("sd15", 28, 2), demo=True)
    demo = next(f for f in findings if f.code == "device.demo_cpu")
    assert demo.severity == "info" and "on purpose" in demo.message
    assert "22 s" in demo.message  # what a real SD 1.5 step costs on a CPU
    assert check_source(demo.source) is None
    assert all(f.severity != "block" for f in findings)
    plain = device_findings(config, no_gpu, torch, RunSize("sd15", 28, 2))
    assert "device.demo_cpu" not in {f.code for f in plain}


def _with_a_lora(workspace: Workspace, intent: Intent) -> tuple[ProjectContext, str]:
    project, _ = create_project(workspace, intent)
    ctx = workspace.context(project)
    (ctx.dir / "loras").mkdir()
    (ctx.dir / "loras" / "look.safetensors").write_bytes(b"only listed, never loaded here")
    return ctx, "loras/look.safetensors"


def test_the_demo_offers_a_grid_its_cpu_makes_in_about_a_minute(
    client: TestClient,
    settings: Settings,
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    register_demo_model(settings)
    ctx, lora = _with_a_lora(workspace, demo_intent("Demo grid"))
    page = client.get(f"/projects/{ctx.project.slug}/evaluation").text
    assert 'name="weights" value="0, 0.5, 1"' in page
    assert 'name="seeds" value="1"' in page
    small = grid_request(ctx, [lora])  # what the page starts with its fields left empty
    assert (small.weights, small.seeds, small.steps) == ([0.0, 0.5, 1.0], [1], 8)

    # A real project keeps the full grid.
    real, lora = _with_a_lora(workspace, make_intent(name="Real"))
    assert (
        'name="weights" value="0, 0.25, 0.5, 0.75, 1, 1.25"'
        in client.get(f"/projects/{real.project.slug}/evaluation").text
    )
    full = grid_request(real, [lora])
    assert (len(full.weights), full.seeds, full.steps) == (6, [1, 2], 20)
