"""The cloud GPU bundle on the demo's tiny model: export refuses unless Gates 1 and 2
pass now; the round trip unpacks the bundle, runs its launch script's native path as a
real process (the bundle's own copy of loragate, on the CPU), imports the results and
evaluates the imported run with `loragate eval-grid`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.bundle.export import ExportRefused, export_bundle
from app.bundle.import_ import import_results
from app.demo import DEMO_GRID_SEEDS
from app.evaluation.loras import final_of_run
from app.evaluation.run_numbers import run_numbers
from app.evaluation.sheet import SHEET_PNG, read_sheet, sheet_dir
from app.journal import recent
from app.runs.records import get_run
from app.training.config import TrainingConfig, load_config
from app.training.project_config import save_changes
from app.workspace import Workspace
from tests.cli.conftest import CliRunner, cli  # noqa: F401  (the fixture)
from tests.demo.ready import ready_demo


@pytest.mark.slow
def test_export_refuses_unless_gates_1_and_2_pass_now(workspace: Workspace, tmp_path: Path) -> None:
    ctx = ready_demo(workspace)
    out = tmp_path / "bundle.zip"
    config = load_config(ctx.dir)
    assert config is not None
    save_changes(ctx, TrainingConfig.model_validate(config.model_dump() | {"network_rank": 8}))
    with pytest.raises(ExportRefused, match="Gate 2 · Config is out of date"):
        export_bundle(ctx, out)
    assert not out.exists() and list(tmp_path.glob(".bundle.zip.*")) == []


@pytest.mark.slow
def test_export_refuses_a_project_whose_gate_1_never_ran(
    workspace: Workspace, tmp_path: Path
) -> None:
    from tests.training.helpers import new_project

    ctx = workspace.context(new_project(workspace, tmp_path))
    with pytest.raises(ExportRefused, match="Gate 1 · Dataset has not been run"):
        export_bundle(ctx, tmp_path / "bundle.zip")
    assert not (tmp_path / "bundle.zip").exists()


@pytest.mark.slow
def test_bundle_round_trip_on_the_tiny_model(
    workspace: Workspace,
    tmp_path: Path,
    cli: CliRunner,  # noqa: F811
) -> None:
    ctx = ready_demo(workspace, epochs=2)  # a checkpoint after the first epoch
    out = tmp_path / "bundle.zip"
    exported = export_bundle(ctx, out, gpu_title="A100 80 GB", include_model=True)
    assert exported.gpu.title == "A100 80 GB"

    rig = tmp_path / "rented"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(rig)
    top = rig / f"{ctx.project.slug}-bundle"
    manifest = json.loads((top / "manifest.json").read_text())
    assert set(manifest["gates"]) == {"dataset", "config"}
    assert all(gate["fingerprint"] for gate in manifest["gates"].values())
    readme = (top / "README.md").read_text()
    assert "A100 80 GB" in readme and "USD" in readme
    assert len(list((top / "dataset" / "1_default").glob("*.txt"))) == 13  # flaws excluded

    # The launch script's native path, run for real: the bundle's copy of loragate, in
    # this Python (its requirements are here), on the CPU the demo config names.
    env = os.environ | {"LORAGATE_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)  # the bundle's own loragate, not this checkout's
    ran = subprocess.run(
        ["bash", str(top / "launch.sh")], env=env, capture_output=True, text=True, timeout=900
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "dry run" in ran.stdout
    events = (top / "logs" / "train-events.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["event"] == "done"

    imported = import_results(ctx, top / "results.zip")
    run = ctx.dir / "runs" / "1"
    assert imported.path == run and imported.number == 1
    record = get_run(ctx, 1)
    assert record is not None and record.state == "finished" and record.backend == "native"
    assert record.config["epochs"] == 2 and record.step == record.total_steps > 0
    assert imported.loras == [f"{ctx.project.slug}.safetensors"]
    assert (run / f"{ctx.project.slug}.safetensors").stat().st_size > 0
    assert any((run / "checkpoints").iterdir())
    assert (run / "logs" / "train-events.jsonl").is_file()
    assert not (run / "cache").exists()  # latents stay on the rented machine
    with workspace.db.reading() as session:
        assert recent(session, ctx.project)[0].kind == "run.imported"

    # Evaluated as a user would: `loragate eval-grid` on the imported run, with the demo's
    # small grid (one seed), two strengths and one denoising step so that it stays quick.
    lora_id = f"runs/1/{ctx.project.slug}.safetensors"
    small = ("--weights", "0", "1", "--steps", "1")
    graded = cli("eval-grid", ctx.project.slug, "--run", "1", *small, timeout=600)
    assert graded.returncode == 0, graded.stderr[-3000:]
    assert f"{lora_id} (final): " in graded.stdout
    sheet = read_sheet(ctx.dir, lora_id)
    assert sheet is not None and (sheet_dir(ctx.dir, lora_id) / SHEET_PNG).stat().st_size > 0
    curves = sheet["curves"]
    assert curves["weights"] == [0, 1] and len(curves["effect"]) == len(curves["leak"]) == 2
    assert [cell["seed"] for cell in sheet["cells"]] == [DEMO_GRID_SEEDS[0]] * len(sheet["cells"])
    # The run's loss curve: the trainer's steps, read back from the imported log.
    numbers = run_numbers(ctx, final_of_run(ctx.dir, 1))
    assert len(numbers.loss) == record.total_steps
