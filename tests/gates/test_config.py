"""Gate 2 on real projects (real SQLite, real images, real checkpoint headers): every rule
triggered and explained, the fingerprint's parts, and staleness."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from app.findings import GateResult
from app.gate_records import record_result
from app.gates import config as gate2
from app.gates.state import gate_state
from app.models import Project
from app.resources import check_source
from app.training.config import TrainingConfig, save_config
from app.training.project_config import current_config
from app.workspace import ProjectContext, Workspace
from tests.training.helpers import (
    make_images,
    new_project,
    set_gpu,
    write_checkpoint,
    write_training_folder,
)


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
    assert set(result.fingerprint_parts) == {
        "config",
        "base_model",
        "dataset_gate",
        "studio_gpu",
        "trainer",
        "training_folder",
    }


@pytest.mark.parametrize(
    ("changes", "code", "severity"),
    [
        ({"optimizer": "prodigy", "unet_lr": 0.3}, "config.lr_out_of_range", "warn"),
        ({"optimizer": "adamw", "unet_lr": 3e-3}, "config.lr_out_of_range", "warn"),
        ({"optimizer": "lion", "unet_lr": 5e-4}, "config.lr_out_of_range", "warn"),
        ({"optimizer": "adamw", "unet_lr": 1.0}, "config.lr_out_of_range", "block"),
        ({"network_rank": 8, "network_alpha": 32.0}, "config.alpha_above_rank", "warn"),
        ({"resolution": 768}, "config.resolution_not_native", "warn"),
        ({"resolution": 2048, "max_bucket_reso": 4096}, "config.resolution_not_native", "block"),
        ({"bucket_reso_steps": 48}, "config.bucket_step", "block"),
        ({"max_bucket_reso": 2000}, "config.bucket_bounds", "warn"),
        ({"min_bucket_reso": 200}, "config.bucket_bounds", "warn"),
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
    assert finding.severity == "info" and finding.message.startswith("1 bucket holds fewer samples")


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
    # A GPU run (on a machine without one, the default device is the CPU: nothing to size).
    assert codes(with_config(ctx, device="cuda")) == {"config.gpu_memory_unknown": "info"}


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
    assert codes(gate2.evaluate(ctx))["backend.family_unsupported"] == "block"
    result = with_config(ctx, min_snr_gamma=5.0)
    assert codes(result)["config.min_snr_not_applicable"] == "info"
    assert "backend.family_unsupported" not in codes(gate2.evaluate(ctx, "kohya"))


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

    make_images(ctx.dir / "dataset", {"10_ink": [(1024, 1024)] * 9})  # more images
    assert gate_state(ctx, "config").stale_reasons == [
        "the dataset (Gate 1) changed",
        "the training folder changed (written again, or the dataset changed since it was written)",
    ]


def test_outputs_larger_than_the_free_disk_block(ctx: ProjectContext) -> None:
    """The rule reads the run's real output estimate and the disk the project is on; a
    disk with only 1 MB free stands in for a full one (this machine's is not full)."""
    from dataclasses import replace

    from app.disk_space import DiskSpace, disk_space
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


def test_the_bucket_bounds_finding_links_the_side_it_is_about(ctx: ProjectContext) -> None:
    sources = {
        f.subject: f.source
        for f in with_config(ctx, min_bucket_reso=200, max_bucket_reso=2000).findings
        if f.code == "config.bucket_bounds"
    }
    assert sources == {
        "min_bucket_reso": "parameters-guide#smallest-bucket-side",
        "max_bucket_reso": "parameters-guide#largest-bucket-side",
    }
    assert all(check_source(source) is None for source in sources.values())


@pytest.mark.parametrize(
    ("name", "vram_gb", "reason"),
    [
        (
            "NVIDIA GeForce RTX 4090",
            12.0,
            "the GPU changed (its name or memory, in studio.md or as Gate 3 found it)",
        ),
        (
            "NVIDIA RTX A5000",
            24.0,
            "the GPU changed (its name or memory, in studio.md or as Gate 3 found it)",
        ),
    ],
)
def test_changing_the_gpu_in_studio_md_makes_gate2_stale(
    workspace: Workspace, ctx: ProjectContext, name: str, vram_gb: float, reason: str
) -> None:
    """Gate 2 judges memory (and bf16) against studio.md's GPU: a smaller card must not
    leave an old "pass" current."""
    with_config(ctx, train_batch_size=4)  # about 15 GB: fits 24, not 12
    record_result(ctx, gate2.evaluate(ctx))
    assert gate_state(ctx, "config").status == "pass"
    set_gpu(workspace, name, vram_gb, 0.69)
    state = gate_state(ctx, "config")
    assert state.status == "stale" and state.stale_reasons == [reason]
    if vram_gb < 24:
        assert codes(gate2.evaluate(ctx))["config.vram_overflow"] == "block"


def test_another_trainer_makes_gate2_stale(workspace: Workspace, ctx: ProjectContext) -> None:
    record_result(ctx, gate2.evaluate(ctx))
    with workspace.db.writing() as session:
        row = session.get(Project, ctx.project.id)
        assert row is not None
        row.backend = "kohya"
        session.add(row)
    ctx.project.backend = "kohya"
    state = gate_state(ctx, "config")
    assert state.status == "stale"
    assert state.stale_reasons == ["the project's trainer (backend) changed"]


def test_a_result_for_another_backend_is_not_current_for_the_project(
    ctx: ProjectContext,
) -> None:
    record_result(ctx, gate2.evaluate(ctx, "ai-toolkit"))
    assert gate_state(ctx, "config").stale_reasons == ["the project's trainer (backend) changed"]


def test_a_missing_training_folder_blocks_with_the_way_to_write_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    ctx = workspace.context(
        new_project(workspace, tmp_path, name="No folder", training_folder=False)
    )
    for backend in ("native", "kohya", "simpletuner", "ai-toolkit"):
        result = gate2.evaluate(ctx, backend)
        [finding] = [f for f in result.findings if f.code.startswith("config.training_folder")]
        assert finding.code == "config.training_folder_missing" and finding.severity == "block"
        assert str(ctx.dir / "kohya") in finding.message
        assert "loragate structure no-folder" in finding.fix and "Curate page" in finding.fix
        assert_explained(result)
    write_training_folder(ctx.dir)
    assert not [f for f in gate2.evaluate(ctx).findings if "training_folder" in f.code]


def test_a_training_folder_that_differs_from_the_dataset_blocks(ctx: ProjectContext) -> None:
    (ctx.dir / "kohya" / "10_ink" / "003.png").unlink()  # lost an image
    finding = next(f for f in gate2.evaluate(ctx).findings if "training_folder" in f.code)
    assert finding.code == "config.training_folder_different"
    assert "10_ink holds 6 images, the dataset 7" in finding.message

    write_training_folder(ctx.dir)
    make_images(ctx.dir / "dataset", {"2_extra": [(1024, 1024)]})  # a new concept folder
    finding = next(f for f in gate2.evaluate(ctx).findings if "training_folder" in f.code)
    assert "2_extra is missing (1 image in the dataset)" in finding.message


def test_captions_edited_after_the_folder_was_written_block(ctx: ProjectContext) -> None:
    now, hour = time.time_ns(), 3600 * 10**9
    for folder, age in (("dataset", 2 * hour), ("kohya", hour)):  # captions, then the folder
        for path in [ctx.dir / folder, *(ctx.dir / folder).rglob("*")]:
            os.utime(path, ns=(now - age, now - age))
    (ctx.dir / "dataset" / "10_ink" / "002.txt").write_text("zktrig, a better caption\n")
    result = gate2.evaluate(ctx)
    finding = next(f for f in result.findings if "training_folder" in f.code)
    assert finding.code == "config.training_folder_older" and finding.severity == "block"
    assert "1 dataset file changed" in finding.message and "10_ink/002.txt" in finding.message
    assert_explained(result)

    record_result(ctx, result)
    write_training_folder(ctx.dir)  # written again: the gate is out of date, then passes
    assert "the training folder changed" in gate_state(ctx, "config").stale_reasons[0]
    assert gate2.evaluate(ctx).verdict == "pass"


def test_sd2_on_the_native_trainer_blocks_like_gate_3(workspace: Workspace, tmp_path: Path) -> None:
    ctx = workspace.context(new_project(workspace, tmp_path, name="Two", family="sd2"))
    finding = next(
        f for f in gate2.evaluate(ctx).findings if f.code == "backend.family_unsupported"
    )
    assert finding.severity == "block"
    assert "does not train Stable Diffusion 2.x" in finding.message
    assert check_source(finding.source) is None


def test_prodigy_at_an_adamw_rate_blocks_with_the_fix(ctx: ProjectContext) -> None:
    """Prodigy scales its own step from lr = 1.0: at 1e-4 every step is 10,000 times too
    small and the run learns nothing, so it is a block, not a warning."""
    result = with_config(ctx, optimizer="prodigy", unet_lr=1e-4)
    finding = next(f for f in result.findings if f.code == "config.lr_out_of_range")
    assert finding.severity == "block" and result.verdict == "block"
    assert "10,000 times smaller" in finding.message
    assert "1.0" in finding.fix
    assert (
        codes(with_config(ctx, optimizer="prodigy", unet_lr=1.0)).get("config.lr_out_of_range")
        is None
    )


def test_flux_bucket_step_follows_each_trainers_own_rule(
    workspace: Workspace, tmp_path: Path
) -> None:
    """sd-scripts' flux_train_network.py runs train_network.py's 64 check before its own
    32: a bucket step of 32 stops it at start-up. SimpleTuner never reads the step."""
    set_gpu(workspace, "NVIDIA H100 80GB HBM3", 80.0)
    ctx = workspace.context(
        new_project(workspace, tmp_path, name="Fluxy", family="flux", checkpoint="flux-dev")
    )
    with_config(ctx, bucket_reso_steps=32, min_bucket_reso=256, max_bucket_reso=2048)
    kohya = gate2.evaluate(ctx, "kohya")
    finding = next(f for f in kohya.findings if f.code == "config.bucket_step")
    assert finding.severity == "block" and "multiple of 64" in finding.message
    assert "kohya sd-scripts" in finding.message and "flux_train_network.py" in finding.why
    assert "config.bucket_step" not in codes(gate2.evaluate(ctx, "ai-toolkit"))
    assert "config.bucket_step" not in codes(gate2.evaluate(ctx, "simpletuner"))
    assert "config.bucket_step" not in codes(with_config(ctx, bucket_reso_steps=64))


def test_sdxl_on_sd_scripts_takes_a_bucket_step_of_32(ctx: ProjectContext) -> None:
    with_config(ctx, bucket_reso_steps=32)
    assert "config.bucket_step" not in codes(gate2.evaluate(ctx, "kohya"))
    with_config(ctx, bucket_reso_steps=48)
    assert codes(gate2.evaluate(ctx, "kohya"))["config.bucket_step"] == "block"


def test_simpletuner_blocks_when_buckets_would_be_dropped(
    workspace: Workspace, tmp_path: Path
) -> None:
    """20 images in 8 aspect ratios, batch 8 × accumulation 4: SimpleTuner drops every
    bucket short of 32 samples. Gate 2 names how many images would be left out."""
    sizes = [(1024, 1024), (1152, 896), (896, 1152), (1216, 832), (832, 1216), (1344, 768)]
    sizes += [(768, 1344), (1536, 640)]
    folders = {"1_ink": [sizes[i % len(sizes)] for i in range(20)]}
    ctx = workspace.context(
        new_project(workspace, tmp_path, name="Dropped", backend="simpletuner", folders=folders)
    )
    result = with_config(ctx, train_batch_size=8, gradient_accumulation_steps=4, epochs=30)
    finding = next(f for f in result.findings if f.code == "config.simpletuner_skips_images")
    assert finding.severity == "block" and result.verdict == "block"
    assert finding.message.startswith("SimpleTuner would leave out 20 of 20 images")
    assert "in 8 aspect buckets" in finding.message and "= 32" in finding.message
    assert_explained(result)
    # The same dataset for sd-scripts trains every image (part-filled batches instead).
    assert "config.simpletuner_skips_images" not in codes(gate2.evaluate(ctx, "kohya"))
    # One batch at a time fills every bucket.
    fixed = with_config(ctx, train_batch_size=1, gradient_accumulation_steps=1)
    assert "config.simpletuner_skips_images" not in codes(fixed)


def test_a_memory_setting_the_trainer_cannot_do_blocks_and_names_one_that_can(
    workspace: Workspace, tmp_path: Path
) -> None:
    set_gpu(workspace, "NVIDIA GeForce RTX 4070", 12.0)
    ctx = workspace.context(
        new_project(workspace, tmp_path, name="Fluxy", family="flux", checkpoint="flux-dev")
    )
    result = with_config(
        ctx,
        quantize_base="fp8",
        blocks_to_swap=16,
        min_snr_gamma=None,
        optimizer="adamw8bit",
        cache_text_encoder_outputs=True,
    )
    # The native trainer (the project's) has none of them; SimpleTuner has fp8 but not
    # block swap; kohya sd-scripts has both.
    native = [f for f in result.findings if f.code == "config.memory_setting_unsupported"]
    assert {f.subject for f in native} == {"quantize_base", "blocks_to_swap"}
    assert all(f.severity == "block" for f in native)
    assert "has none of the memory settings" in native[0].message
    swap = next(f for f in native if f.subject == "blocks_to_swap")
    assert swap.fix.startswith("Choose kohya sd-scripts as the trainer")
    assert_explained(result)
    simpletuner = codes_by_subject(gate2.evaluate(ctx, "simpletuner"))
    assert simpletuner == {"blocks_to_swap"}
    kohya = gate2.evaluate(ctx, "kohya")
    assert not codes_by_subject(kohya)
    # On sd-scripts the saving counts: fp8 and 16 swapped blocks fit 12 GB.
    assert "config.vram_overflow" not in codes(kohya), kohya.stats["vram_gb"]
    assert kohya.stats["vram_gb"] < result.stats["vram_gb"] - 10
    assert (
        codes(with_config(ctx, quantize_base="none", blocks_to_swap=0)).get(
            "config.memory_setting_unsupported"
        )
        is None
    )


def codes_by_subject(result: GateResult) -> set[str]:
    return {f.subject for f in result.findings if f.code == "config.memory_setting_unsupported"}


def test_trainer_caches_in_the_training_folder_do_not_make_gate2_stale(
    ctx: ProjectContext,
) -> None:
    """kohya's cache_latents_to_disk writes an .npz beside each image and ai-toolkit a
    _latent_cache folder inside the image folder, during the dry run as in the real run:
    that must not put Gate 2 (and with it Gate 4) out of date."""
    layout = ctx.dir / "kohya"
    hour_ago = time.time_ns() - 3600 * 10**9
    for path in [layout, *layout.rglob("*")]:
        os.utime(path, ns=(hour_ago, hour_ago))
    record_result(ctx, gate2.evaluate(ctx))
    assert gate_state(ctx, "config").stale_reasons == []

    folder = layout / "10_ink"
    for image in sorted(folder.glob("*.png")):
        image.with_suffix(".npz").write_bytes(b"latents")
    (folder / "_latent_cache").mkdir()
    (folder / "_latent_cache" / "001_1024x1024.safetensors").write_bytes(b"latents")
    assert gate_state(ctx, "config").stale_reasons == []

    # An image swapped for another under the same name still counts as a change.
    (folder / "001.png").unlink()
    Image.new("RGB", (1024, 768), (200, 10, 10)).save(folder / "001.png")
    os.utime(folder / "001.png", ns=(hour_ago, hour_ago))
    assert "the training folder changed" in gate_state(ctx, "config").stale_reasons[0]
