"""`loragate demo`: a real process makes the demo project; its audit finds the planted
duplicate and the far too small photo; asked again, it names the demo that exists."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from app.demo import DEMO_MODEL_NAME
from app.demo.samples import DUPLICATE, SAMPLES, TOO_SMALL
from app.gate_records import findings_of, latest
from app.models import Project
from app.settings import Settings
from app.workspace import Workspace
from tests.cli.conftest import CliRunner, json_of


def _projects(settings: Settings) -> list[Project]:
    workspace = Workspace(settings)
    try:
        with workspace.db.reading() as session:
            return list(session.exec(select(Project)))
    finally:
        workspace.close()


@pytest.mark.slow
def test_loragate_demo_makes_a_project_whose_audit_finds_the_planted_flaws(
    cli: CliRunner, settings: Settings
) -> None:
    made = cli("demo", "--json", timeout=300)
    assert made.returncode == 0, made.stderr
    report = json_of(made)
    assert isinstance(report, dict) and report["created"] is True
    assert len(report["import"]["images"]) == len(SAMPLES) + 2
    slug = report["project"]

    workspace = Workspace(settings)
    try:
        project = next(p for p in _projects(settings) if p.slug == slug)
        assert project.base_model == DEMO_MODEL_NAME
        with workspace.db.reading() as session:
            findings = findings_of(latest(session, project, "dataset"))
        config = json.loads((settings.training_dir / slug / "training.json").read_text())
    finally:
        workspace.close()
    by_code = {f.code: f for f in findings}
    assert set(by_code["duplicate.exact"].subjects) == {DUPLICATE[0], DUPLICATE[1]}
    assert by_code["image.too_small"].subjects == [TOO_SMALL[1]]
    # Nothing the newcomer did not cause: no warning about the demo's own answers.
    assert "caption.must_vary_undescribed" not in by_code
    assert config["device"] == "cpu" and config["resolution"] <= 128
    # The model was built in the job's child, where studio.md says it is.
    assert (settings.data_dir / "models" / "demo-noise" / "model_index.json").is_file()

    again = cli("demo")
    assert again.returncode == 0, again.stderr
    assert "exists already" in again.stdout and slug in again.stdout
    assert [p.slug for p in _projects(settings)] == [slug]
