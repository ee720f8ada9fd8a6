"""`loragate gates PROJECT` as a real subprocess: every gate as it stands now (Gate 4
shown as not available yet), what blocks, what went stale and why, and exit 1 until
Gates 1–3 have each run, pass and are current. (The way to exit 0 is the scripted walk
in test_walk.py.)"""

from __future__ import annotations

import pytest

from app.captions.store import save_text
from app.curation.project_audit import run_project_audit
from app.models import Job
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import TRIGGER, caption_project, image_id, mira_intent
from tests.cli.conftest import CliRunner, json_of


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    captions = [f"{TRIGGER}, pose {i}" for i in range(5)]
    return caption_project(workspace, mira_intent(make_intent), captions)


def gates(cli: CliRunner, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    result = cli("gates", "mira", *args, "--json")
    report = json_of(result)
    assert isinstance(report, dict), result.stderr
    assert report["passes"] is (result.returncode == 0)
    return result.returncode, {gate["gate"]: gate for gate in report["gates"]}


def test_a_new_project_has_no_gate_run(cli: CliRunner, ctx: ProjectContext) -> None:
    code, report = gates(cli)
    assert code == 1
    assert {name: gate["status"] for name, gate in report.items()} == {
        "dataset": "not_run",
        "config": "not_run",
        "environment": "not_run",
        "dryrun": "not_run",
    }
    plain = cli("gates", "mira")
    assert plain.returncode == 1
    assert "Gate 1 · Dataset not run yet." in plain.stdout
    assert "Gate 4 · Dry run not run yet." in plain.stdout
    assert "`loragate gates mira --check`" in plain.stdout


@pytest.mark.slow
def test_blocking_findings_are_listed_once_per_kind(cli: CliRunner, ctx: ProjectContext) -> None:
    run_project_audit(ctx)  # five drafts: Gate 1 blocks
    code, report = gates(cli)
    assert code == 1 and report["dataset"]["status"] == "block"
    codes = [finding["code"] for finding in report["dataset"]["findings"]]  # type: ignore[union-attr]
    assert codes.count("caption.not_approved") == 5
    plain = cli("gates", "mira").stdout
    assert "Gate 1 · Dataset blocks training" in plain
    assert plain.count("is a draft: nobody has approved it yet.") == 3
    assert "… and 2 more like it." in plain
    assert plain.count("fix: Read it in the caption grid") == 1


@pytest.mark.slow
def test_a_gate_whose_inputs_changed_is_stale_with_the_reason(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    verdict = run_project_audit(ctx).result.verdict
    code, report = gates(cli)
    assert report["dataset"]["status"] == verdict

    path = "10_mira/000.png"
    save_text(ctx, image_id(ctx, path), f"{TRIGGER}, another pose", 1)
    code, report = gates(cli)
    assert code == 1 and report["dataset"]["status"] == "stale"
    assert "captions changed" in report["dataset"]["stale_reasons"]  # type: ignore[operator]
    plain = cli("gates", "mira").stdout
    assert "Gate 1 · Dataset out of date (checked " in plain and "Since then: " in plain


def test_check_leaves_a_project_the_server_is_working_on_alone(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    with ctx.workspace.db.writing() as session:
        session.add(Job(project_id=ctx.project.id, kind="dataset.import", state="running"))
    result = cli("gates", "mira", "--check")
    assert result.returncode == 1
    assert "is running for this project in loragate serve" in result.stdout
    assert "Nothing was checked." in result.stdout
    assert "Checking Gate" not in result.stderr


def test_gate_four_counts_training_waits_for_the_dry_run(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    """Gates 1-3 recorded as passing on the inputs as they are now (their own
    fingerprints): exit 1 until the dry run has passed too, then 0."""
    from app.findings import make_result
    from app.gate_records import record_result
    from app.gates.state import current_parts

    for name in ("dataset", "config", "environment"):
        record_result(ctx, make_result(name, [], current_parts(ctx, name) or {}))
    code, report = gates(cli)
    assert code == 1 and report["dryrun"]["status"] == "not_run"
    assert "Gate 4 · Dry run not run yet." in cli("gates", "mira").stdout
    record_result(ctx, make_result("dryrun", [], current_parts(ctx, "dryrun") or {}))
    code, report = gates(cli)
    assert code == 0
    assert "All four gates pass and are current" in cli("gates", "mira").stdout
