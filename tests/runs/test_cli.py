"""`loragate train` shows the gates' verdict and the estimate and asks; without a
terminal it starts nothing until --yes-cost confirms the figures it prints (journaled
with them); then it follows the run to its end. `loragate monitor PROJECT/N --json`
prints the run's events."""

from __future__ import annotations

import json
from pathlib import Path

from app.runs.records import list_runs
from app.workspace import Workspace
from tests.cli.conftest import CliRunner
from tests.runs.project import training_project


def test_train_asks_then_confirms_with_its_figures_and_monitor_prints_events(
    workspace: Workspace, tiny_sd15: Path, cli: CliRunner
) -> None:
    ctx = training_project(workspace, tiny_sd15, confirmed=False)
    asked = cli("train", ctx.project.slug)
    assert asked.returncode == 1
    assert "6 steps at" in asked.stdout and "0.69 USD per hour" in asked.stdout
    assert "--yes-cost" in asked.stderr
    assert not list_runs(ctx)

    trained = cli("train", ctx.project.slug, "--yes-cost", timeout=300)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "Confirmed with --yes-cost: 6 steps at" in trained.stdout
    assert "6/6" in trained.stdout and "loss" in trained.stdout
    assert "Run 1 finished." in trained.stdout
    journal = (ctx.dir / "journal.md").read_text()
    assert "You confirmed the estimate: 6 steps at" in journal
    assert "(with --yes-cost on the command line)" in journal

    monitored = cli("monitor", f"{ctx.project.slug}/1", "--json")
    assert monitored.returncode == 0
    events = [json.loads(line) for line in monitored.stdout.splitlines()]
    assert [e["step"] for e in events if e["type"] == "step"] == list(range(1, 7))
    assert events[-1]["type"] == "end"
    assert cli("monitor", f"{ctx.project.slug}/9").returncode == 2
