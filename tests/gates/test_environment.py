"""Gate 3 end to end on this machine: real NVML (absent here), real PyTorch probe, real
kernel smoke test, real trainer import check, real disk and memory. The GPU-present
case uses a fake NVML (the pynvml boundary only) and this machine's real CPU PyTorch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from app import gpu_probe as gpu
from app.gate_records import record_result
from app.gates.environment import evaluate, fingerprint, judge, project_inputs
from app.gates.state import gate_state
from app.models import Project
from app.projects import create_project
from app.training.config import TrainingConfig, save_config
from app.workspace import Workspace
from tests.environment.fakes import FakeNvml, rtx

cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")


def _images(project_dir: Path, count: int) -> None:
    folder = project_dir / "dataset" / "10_ink"
    folder.mkdir(parents=True)
    for index in range(count):
        Image.new("RGB", (64, 48), (index * 40, 90, 160)).save(folder / f"{index}.png")


def _check(result, key: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return next(check for check in result.stats["checks"] if check["key"] == key)


@pytest.mark.slow
def test_cpu_config_passes_and_goes_stale_when_the_precision_changes(
    workspace: Workspace, project: Project
) -> None:
    ctx = workspace.context(project)
    save_config(ctx.dir, TrainingConfig(device="cpu", mixed_precision="bf16", max_train_steps=200))
    _images(ctx.dir, 3)

    result = evaluate(ctx)
    assert result.gate == "environment"
    assert result.verdict != "block", [f.message for f in result.findings]
    codes = {f.code for f in result.findings}
    assert "device.cpu" in codes
    cpu_note = next(f for f in result.findings if f.code == "device.cpu")
    assert "the 200 steps of this config would take about 10 hours" in cpu_note.message
    smoke = _check(result, "smoke")
    assert smoke["status"] == "pass"
    # The native trainer computes in float32 on the CPU: that is what was tested, and why.
    precision, test = smoke["facts"]
    assert precision[0] == "Precision" and "float32, not the config's bf16" in precision[1]
    assert test[0] == "cpu · float32" and "float32 matrix multiply" in test[1]
    assert _check(result, "backend")["status"] == "pass"
    disk = dict(_check(result, "disk")["facts"])
    assert disk["Latent cache"] == "768.0 KB"  # 3 images × 4 × 128 × 128 float32
    assert result.fingerprint_parts == fingerprint(ctx)

    record_result(ctx, result)
    assert gate_state(ctx, "environment").status == result.verdict
    assert "Gate 3 · Environment passes" in (ctx.dir / "journal.md").read_text()

    save_config(ctx.dir, TrainingConfig(device="cpu", mixed_precision="no", max_train_steps=200))
    state = gate_state(ctx, "environment")
    assert state.status == "stale"
    assert state.stale_reasons == ["the training config changed"]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed"
)
def test_an_optimizer_whose_package_is_missing_blocks_with_the_install_command(
    workspace: Workspace, project: Project
) -> None:
    """bitsandbytes really is missing here: the trainer's own Python tries to import it."""
    ctx = workspace.context(project)
    save_config(ctx.dir, TrainingConfig(device="cuda", optimizer="adamw8bit", max_train_steps=20))
    result = evaluate(ctx)
    by_code = {f.code: f for f in result.findings}
    missing = by_code["backend.optimizer_missing"]
    assert missing.severity == "block" and "bitsandbytes" in missing.message
    assert f"`{sys.executable} -m pip install bitsandbytes`" in missing.fix
    assert "backend.optimizer_needs_cuda" not in by_code  # a GPU run: the package is the fix
    assert _check(result, "backend")["status"] == "block"
    assert result.verdict == "block"
    record_result(ctx, result)

    # Another optimizer (or installing the package) makes the result out of date.
    save_config(ctx.dir, TrainingConfig(device="cpu", optimizer="adamw", max_train_steps=20))
    assert "the training config changed" in gate_state(ctx, "environment").stale_reasons


@pytest.mark.slow
def test_a_cpu_run_with_an_8bit_optimizer_hears_it_needs_a_gpu_not_a_package(
    workspace: Workspace, project: Project
) -> None:
    """On the CPU installing bitsandbytes would not help: Gate 3 says the GPU is needed,
    and does not send the artist to pip first."""
    ctx = workspace.context(project)
    save_config(ctx.dir, TrainingConfig(device="cpu", optimizer="adamw8bit", max_train_steps=20))
    result = evaluate(ctx)
    optimizer = [f for f in result.findings if f.subject == "optimizer adamw8bit"]
    assert [f.code for f in optimizer] == ["backend.optimizer_needs_cuda"]
    assert optimizer[0].severity == "block" and "adamw" in optimizer[0].fix
    assert result.verdict == "block"


@cpu_only
@pytest.mark.slow
def test_default_config_on_a_machine_without_gpu_blocks(
    workspace: Workspace, project: Project
) -> None:
    result = evaluate(workspace.context(project))
    assert result.verdict == "block"
    by_code = {f.code: f for f in result.findings}
    assert by_code["config.defaults"].severity == "info"
    block = by_code.get("gpu.no_driver") or by_code["gpu.nvml_package_missing"]
    assert block.severity == "block" and "On a CPU each training step" in block.message
    assert _check(result, "smoke")["status"] == "skipped"
    assert _check(result, "gpu")["status"] == "block"
    # This CPU build of PyTorch would not use a GPU either: not green, with the fix.
    assert by_code["torch.cpu_build"].severity == "warn"
    assert _check(result, "torch")["status"] == "warn"


def test_unreadable_config_is_a_block_and_the_defaults_are_judged(
    workspace: Workspace, project: Project
) -> None:
    ctx = workspace.context(project)
    (ctx.dir / "training.json").write_text('{"device": "tpu"}')
    inputs = project_inputs(ctx)
    assert inputs.config_source == "unreadable"
    assert inputs.config == TrainingConfig()
    (problem,) = inputs.problems
    assert problem.code == "config.unreadable" and "device" in problem.message
    assert fingerprint(ctx)["config"]  # still computable: the page must load


@cpu_only
@pytest.mark.slow
def test_fake_nvml_gpu_with_this_cpu_pytorch_blocks_and_driver_update_makes_it_stale(
    workspace: Workspace, project: Project
) -> None:
    ctx = workspace.context(project)
    save_config(ctx.dir, TrainingConfig(device="cuda", mixed_precision="bf16"))
    card = FakeNvml(gpus=[rtx()], driver="570.86.10", cuda=12080)
    result = judge(project_inputs(ctx), nvml=card)
    by_code = {f.code: f for f in result.findings}
    assert "torch.cpu_build" in by_code
    assert "whl/cu128" in by_code["torch.cpu_build"].fix
    assert "gpu.no_driver" not in by_code  # the GPU exists; PyTorch is what is wrong
    facts = dict(_check(result, "gpu")["facts"])
    assert facts["GPU 0"].startswith("NVIDIA GeForce RTX 4090: 24.0 GB total")
    assert _check(result, "smoke")["status"] == "skipped"

    gpu.remember(gpu.probe_gpus(card))
    try:
        record_result(ctx, result)
        assert gate_state(ctx, "environment").status == "block"
        gpu.remember(gpu.probe_gpus(FakeNvml(gpus=[rtx()], driver="575.51.03", cuda=12090)))
        state = gate_state(ctx, "environment")
        assert state.status == "stale"
        assert state.stale_reasons == ["the GPU or its driver changed"]
    finally:
        gpu.remember(gpu.probe_gpus())


@pytest.mark.slow
def test_kohya_project_without_its_folder_names_the_ready_alternative(
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    project, _ = create_project(workspace, make_intent(name="Kohya run", backend="kohya"))
    ctx = workspace.context(project)
    save_config(ctx.dir, TrainingConfig(device="cpu"))
    result = evaluate(ctx)
    (finding,) = [f for f in result.findings if f.code.startswith("backend.")]
    assert finding.code == "backend.not_configured"
    assert "backends: kohya" in finding.message
    assert "Ready on this machine instead: native" in finding.fix
    assert result.verdict == "block"
