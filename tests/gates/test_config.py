"""Gate 2 on real projects (real SQLite, real images, real checkpoint headers): every rule
triggered and explained, the fingerprint's parts, and staleness."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.gates import config as gate2
from app.gates.result import GateResult
from app.gates.state import gate_state
from app.gates.store import record_result
from app.models import Project
from app.resources import check_source
from app.training.config import TrainingConfig, save_config
from app.training.project_config import current_config
from app.workspace import ProjectContext, Workspace
from tests.training.helpers import new_project, set_gpu, write_checkpoint


@pytest.fixture
def ctx(workspace: Workspace, tmp_path: Path) -> ProjectContext:
    set_gpu(workspace, "NVIDIA GeForce RTX 4090", 24.0, 0.69)
    return workspace.context(new_project(workspace, tmp_path))


def with_config(ctx: ProjectContext, **changes: object) -> GateResult:
    config = current_config(ctx).model_copy(update=changes)
    save_config(ctx.dir, TrainingConfig.model_validate(config.model_dump()))
    return gate2.evaluate(ctx)


def codes(result: GateResult) -> dict[str, str]:
    return {finding.code: finding.severity for finding in result.findings}


def assert_explained(result: GateResult) -> None:
    for finding in result.findings:
        assert finding.why and finding.fix and finding.message
        assert check_source(finding.source) is None, f"{finding.code}: {finding.source}"


def test_the_standard_preset_passes_on_a_good_project(ctx: ProjectContext) -> None:
    result = gate2.evaluate(ctx)
    assert result.verdict == "pass", [f.message for f in result.findings]
    assert result.stats["steps"] > 0 and result.stats["vram_gb"] < 24
    assert set(result.fingerprint_parts) == {"config", "base_model", "dataset_gate"}


@pytest.mark.parametrize(
    ("changes", "code", "severity"),
    [
        ({"optimizer": "prodigy", "unet_lr": 1e-4}, "config.lr_out_of_range", "warn"),
        ({"optimizer": "adamw", "unet_lr": 3e-3}, "config.lr_out_of_range", "warn"),
        ({"optimizer": "lion", "unet_lr": 5e-4}, "config.lr_out_of_range", "warn"),
        ({"optimizer": "adamw", "unet_lr": 1.0}, "config.lr_out_of_range", "block"),
        ({"network_rank": 8, "network_alpha": 32.0}, "config.alpha_above_rank", "warn"),
        ({"resolution": 768}, "config.resolution_not_native", "warn"),
        ({"resolution": 2048, "max_bucket_reso": 4096}, "config.resolution_not_native", "block"),
        ({"bucket_reso_steps": 48}, "config.bucket_step", "block"),
        ({"max_bucket_reso": 2000}, "config.bucket_bounds", "warn"),
        ({"epochs": 1}, "config.too_few_steps", "warn"),
        ({"epochs": 60}, "config.too_many_steps", "warn"),
        ({"train_batch_size": 200}, "config.batch_larger_than_dataset", "block"),
        (
            {"train_text_encoder": True, "cache_text_encoder_outputs": True},
            "config.te_training_with_cached_outputs",
            "block",
        ),
        (
            {"shuffle_caption": True, "cache_text_encoder_outputs": True},
            "config.caption_augmentation_with_cache",
            "block",
        ),
        (
            {"shuffle_caption": True, "keep_tokens": 0, "cache_text_encoder_outputs": False},
            "config.shuffle_moves_trigger",
            "warn",
        ),
        (
            {"lr_scheduler": "constant", "lr_warmup_steps": 20},
            "config.constant_scheduler_warmup",
            "warn",
        ),
        ({"train_batch_size": 32}, "config.vram_overflow", "block"),
    ],
)
def test_each_rule_is_triggered_and_explained(
    ctx: ProjectContext, changes: dict[str, object], code: str, severity: str
) -> None:
    result = with_config(ctx, **changes)
    assert codes(result).get(code) == severity, codes(result)
    assert_explained(result)


def test_buckets_smaller_than_a_batch_are_noted(workspace: Workspace, tmp_path: Path) -> None:
    folders = {"1_ink": [(1024, 1024)] * 40 + [(1536, 1024)]}
    ctx = workspace.context(new_project(workspace, tmp_path, name="Partial", folders=folders))
    result = with_config(ctx, train_batch_size=2, epochs=60)
    finding = next(f for f in result.findings if f.code == "config.partial_batches")
    assert finding.severity == "info" and finding.message.startswith("1 bucket(s)")


def test_constant_with_warmup_blocks_on_sd_scripts_only(ctx: ProjectContext) -> None:
    with_config(ctx, lr_scheduler="constant", lr_warmup_steps=20)
    assert codes(gate2.evaluate(ctx, "kohya"))["config.constant_scheduler_warmup"] == "block"
    assert codes(gate2.evaluate(ctx, "ai-toolkit"))["config.constant_scheduler_warmup"] == "warn"


def test_bf16_on_a_gpu_without_it_blocks(workspace: Workspace, ctx: ProjectContext) -> None:
    set_gpu(workspace, "Tesla T4", 16.0)
    result = gate2.evaluate(ctx)
    assert codes(result)["config.bf16_unsupported"] == "block"
    assert "fp16" in next(f for f in result.findings if f.code == "config.bf16_unsupported").fix
    assert "config.bf16_unsupported" not in codes(with_config(ctx, mixed_precision="fp16"))


def test_unknown_gpu_memory_is_a_note_not_a_block(
    workspace: Workspace, ctx: ProjectContext
) -> None:
    set_gpu(workspace, None, None)
    assert codes(gate2.evaluate(ctx)) == {"config.gpu_memory_unknown": "info"}


def test_base_model_of_another_family_blocks(workspace: Workspace, tmp_path: Path) -> None:
    ctx = workspace.context(
        new_project(workspace, tmp_path, name="Wrong", family="sdxl", checkpoint="sd15")
    )
    result = gate2.evaluate(ctx)
    finding = next(f for f in result.findings if f.code == "base_model.family_mismatch")
    assert finding.severity == "block" and "Stable Diffusion 1.x" in finding.message
    assert "768-wide" in finding.why  # the evidence is shown
    assert_explained(result)


@pytest.mark.parametrize(
    ("kind", "code"), [("lora", "base_model.is_a_lora"), ("unknown", "base_model.unknown_family")]
)
def test_a_lora_or_an_unrecognised_file(
    workspace: Workspace, tmp_path: Path, kind: str, code: str
) -> None:
    ctx = workspace.context(new_project(workspace, tmp_path, name=f"P {kind}", checkpoint=kind))
    assert code in codes(gate2.evaluate(ctx))


def test_pickled_missing_and_unreadable_base_models_block(
    ctx: ProjectContext, workspace: Workspace
) -> None:
    path = Path(ctx.project.base_model)
    pickled = path.with_suffix(".ckpt")
    pickled.write_bytes(b"\x80\x04K\x01.")
    _repoint(workspace, ctx.project, str(pickled))
    assert codes(gate2.evaluate(ctx))["base_model.pickled"] == "block"
    _repoint(workspace, ctx.project, str(path.parent / "gone.safetensors"))
    assert codes(gate2.evaluate(ctx))["base_model.missing"] == "block"
    broken = path.parent / "broken.safetensors"
    broken.write_bytes(b"\xff" * 12)
    _repoint(workspace, ctx.project, str(broken))
    result = gate2.evaluate(ctx)
    assert codes(result)["base_model.unreadable"] == "block"
    assert_explained(result)


def _repoint(workspace: Workspace, project: Project, reference: str) -> None:
    with workspace.db.writing() as session:
        row = session.get(Project, project.id)
        assert row is not None
        row.base_model = reference
        session.add(row)
    project.base_model = reference


def test_no_images_blocks(workspace: Workspace, tmp_path: Path) -> None:
    ctx = workspace.context(new_project(workspace, tmp_path, name="Empty", folders={}))
    assert codes(gate2.evaluate(ctx))["config.no_images"] == "block"


def test_flux_on_the_native_trainer_and_min_snr(workspace: Workspace, tmp_path: Path) -> None:
    set_gpu(workspace, "NVIDIA H100 80GB HBM3", 80.0)
    ctx = workspace.context(
        new_project(workspace, tmp_path, name="Fluxy", family="flux", checkpoint="flux-dev")
    )
    assert codes(gate2.evaluate(ctx))["config.backend_unsupported"] == "block"
    result = with_config(ctx, min_snr_gamma=5.0)
    assert codes(result)["config.min_snr_not_applicable"] == "info"
    assert "config.backend_unsupported" not in codes(gate2.evaluate(ctx, "kohya"))


def test_an_unreadable_config_file_blocks(ctx: ProjectContext) -> None:
    (ctx.dir / "training.json").write_text("{oops")
    result = gate2.evaluate(ctx)
    assert result.verdict == "block" and result.findings[0].code == "config.unreadable"


def test_changes_make_the_gate_stale_and_say_which(ctx: ProjectContext, tmp_path: Path) -> None:
    record_result(ctx, gate2.evaluate(ctx))
    assert gate_state(ctx, "config").status == "pass"

    with_config(ctx, network_rank=32)
    state = gate_state(ctx, "config")
    assert state.status == "stale" and state.stale_reasons == ["the training config changed"]
    record_result(ctx, gate2.evaluate(ctx))

    write_checkpoint(Path(ctx.project.base_model), "sdxl-diffusers-unet")  # replaced model file
    assert gate_state(ctx, "config").stale_reasons == ["the base model file changed"]
    record_result(ctx, gate2.evaluate(ctx))

    from tests.training.helpers import make_images

    make_images(ctx.dir / "dataset", {"10_ink": [(1024, 1024)] * 9})  # more images
    assert gate_state(ctx, "config").stale_reasons == ["the dataset (Gate 1) changed"]


def test_outputs_larger_than_the_free_disk_block(ctx: ProjectContext) -> None:
    """The rule reads the run's real output estimate and the disk the project is on; a
    disk with only 1 MB free stands in for a full one (this machine's is not full)."""
    from dataclasses import replace

    from app.environment.disk import DiskSpace, disk_space
    from app.gates.config_rules import outputs_fit_disk
    from app.training.assessment import assess

    assessment = assess(ctx, current_config(ctx))
    assert assessment.outputs is not None and assessment.outputs.total_bytes > 1_000_000
    assert outputs_fit_disk(assessment) == []  # the real disk has room
    real = disk_space(ctx.dir)
    full = replace(assessment, disk=DiskSpace(real.path, real.total, free=1024**2))
    [finding] = outputs_fit_disk(full)
    assert finding.code == "config.outputs_exceed_disk" and finding.severity == "block"
    assert "only 1.0 MB is free" in finding.message
    assert check_source(finding.source) is None
