"""`loragate env` as a real subprocess: the machine check without a project (judged
against the defaults, not stored) and a project's check (stored for the overview)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app.gates.state import gate_state
from app.projects import create_project
from app.settings import REPO_ROOT, Settings
from app.training.config import TrainingConfig, save_config
from app.workspace import Workspace
from tests.cli.conftest import CliRunner, json_of


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_machine_check_blocks_without_a_gpu_and_prints_a_gate_result(cli: CliRunner) -> None:
    result = cli("env", "--json")
    assert result.returncode == 1, result.stderr
    report = json_of(result)
    assert isinstance(report, dict)
    assert report["gate"] == "environment" and report["verdict"] == "block"
    assert set(report) == {"gate", "verdict", "findings", "stats", "fingerprint"}
    codes = {finding["code"] for finding in report["findings"]}
    assert codes & {"gpu.no_driver", "gpu.nvml_package_missing"}
    for finding in report["findings"]:
        assert finding["why"] and finding["fix"] and finding["source"]
    checks = [check["key"] for check in report["stats"]["checks"]]
    assert checks == ["config", "gpu", "torch", "smoke", "backend", "disk", "memory", "python"]


@pytest.mark.slow
def test_project_check_prints_the_checklist_and_stores_the_result(
    cli: CliRunner,
    settings: Settings,
    make_intent,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    clone = tmp_path / "sd-scripts"
    (clone / "library").mkdir(parents=True)
    (clone / "library" / "__init__.py").write_text("")
    (clone / "library" / "train_util.py").write_text("import json\n")
    (clone / "sdxl_train_network.py").write_text("")
    studio = settings.grimoire_dir / "studio.md"
    studio.write_text(studio.read_text().replace("  kohya:  ", f"  kohya: {clone}  ", 1))
    workspace = Workspace(settings)
    try:
        project, _ = create_project(workspace, make_intent(backend="kohya"))
        save_config(workspace.project_dir(project.slug), TrainingConfig(device="cpu"))
    finally:
        workspace.close()

    result = cli("env", "--project", project.slug)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Gate 3 · Environment passes" in out and "stored" in out
    assert "[ok]    Kernel smoke test" in out
    assert f"Folder: {clone}" in out
    assert "no venv inside the clone" in out
    assert "Imports: library.train_util" in out
    assert "source: /docs/preflight-checklist#training-on-the-cpu" in out

    workspace = Workspace(settings)
    try:
        assert gate_state(workspace.context(project), "environment").status in ("pass", "warn")
    finally:
        workspace.close()


def test_unknown_project_is_wrong_usage(cli: CliRunner) -> None:
    result = cli("env", "--project", "nope")
    assert result.returncode == 2
    assert "there is no project “nope”" in result.stderr


def test_help_names_the_gate() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "env", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--project P" in result.stdout and "Gate 3" in result.stdout
