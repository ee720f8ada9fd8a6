"""The demo: `loragate demo` and the projects page's button make a project from
scikit-image's sample photos whose audit finds the planted flaws; asked twice, nothing
is duplicated; Gate 3 tells the demo plainly why it runs on the CPU."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.demo import DEMO_MODEL_NAME, DEMO_MODEL_WORDS
from app.environment.device import RunSize, device_findings
from app.environment.torch_info import TorchProbe
from app.gpu_probe import GpuReport
from app.models import Project
from app.resources import check_source
from app.settings import Settings
from app.training.config import TrainingConfig
from app.workspace import Workspace


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
