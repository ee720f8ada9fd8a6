"""Presets: every type × family × level is a valid config whose every value explains
itself with a source that exists, and, built for the project's dataset and machine,
none of them trips Gate 2 (not even a warning)."""

from __future__ import annotations

import itertools

import pytest

from app.dataset.inventory import DatasetItem
from app.gates import config_rules
from app.gpu_probe import GpuDevice, GpuReport
from app.grimoire import GpuEntry
from app.intent import MODEL_FAMILIES, TRAINING_TYPES
from app.resources import check_source
from app.training.assessment import Assessment
from app.training.config import TrainingConfig
from app.training.machine import device_for
from app.training.optimizer_packages import PACKAGES, optimizer_package
from app.training.presets import PRESET_KEYS, build_preset, preset_config
from app.training.steps import plan_steps
from app.training.vram import estimate_for_config

COMBINATIONS = list(itertools.product(PRESET_KEYS, TRAINING_TYPES, MODEL_FAMILIES))


@pytest.mark.parametrize(("key", "training_type", "family"), COMBINATIONS)
def test_every_preset_is_valid_and_explained(key: str, training_type: str, family: str) -> None:
    preset = build_preset(key, training_type, family)
    config = preset.config()
    assert isinstance(config, TrainingConfig) and config.preset == key
    fields = [value.field for value in preset.values]
    assert len(fields) == len(set(fields)), "each field is set once"
    for value in preset.values:
        assert value.why.strip()
        assert check_source(value.source) is None, f"{value.field}: {value.source}"
        assert getattr(config, value.field) == value.value


def test_levels_grow_in_length_and_capacity() -> None:
    quick, standard, thorough = (preset_config(k, "character", "sdxl") for k in PRESET_KEYS)
    assert quick.epochs < standard.epochs < thorough.epochs
    assert quick.network_rank < standard.network_rank < thorough.network_rank
    assert quick.unet_lr > standard.unet_lr > thorough.unet_lr


def test_family_specific_values() -> None:
    assert preset_config("standard", "style", "sd15").resolution == 512
    assert preset_config("standard", "style", "sdxl").mixed_precision == "bf16"
    flux = preset_config("standard", "object", "flux")
    assert flux.min_snr_gamma is None and flux.cache_text_encoder_outputs
    sd15 = preset_config("standard", "character", "sd15")
    assert sd15.train_text_encoder and not sd15.cache_text_encoder_outputs


# A trainer that trains each family (Gate 2 blocks a family the trainer does not train).
TRAINER = {"sd15": "native", "sd2": "kohya", "sdxl": "native", "flux": "kohya"}


def _assessment(
    config: TrainingConfig, family: str, training_type: str, items: list[DatasetItem]
) -> Assessment:
    """A real Assessment of a planned run on an 80 GB GPU; the parts only a project on
    disk has (base model, training folder, time) are left out, and so are their rules."""
    return Assessment(
        family=family,
        training_type=training_type,
        backend=TRAINER[family],
        config=config,
        items=items,
        plan=plan_steps(items, config),
        vram=estimate_for_config(config, family),
        gpu=GpuEntry(name="NVIDIA H100 80GB HBM3", vram_gb=80.0),
        time=None,  # type: ignore[arg-type]
        base_model=None,  # type: ignore[arg-type]
        detection=None,
        detection_error=None,
        dryrun=None,
    )


def _dataset(family: str, images: int, repeats: int) -> list[DatasetItem]:
    side = {"sd15": 512, "sd2": 768}.get(family, 1024)
    wide = [
        DatasetItem(f"{repeats}_x/w{i}.png", side * 3 // 2, side, "x", repeats)
        for i in range(images // 4)
    ]
    square = [
        DatasetItem(f"{repeats}_x/{i}.png", side, side, "x", repeats)
        for i in range(images - len(wide))
    ]
    return square + wide


@pytest.mark.parametrize("repeats", [1, 10])
@pytest.mark.parametrize(("key", "training_type", "family"), COMBINATIONS)
def test_a_preset_for_the_project_passes_gate2_without_a_warning(
    key: str, training_type: str, family: str, repeats: int
) -> None:
    """26 images as loragate's import leaves them (1 repeat) or in kohya folders of 10:
    the preset built for that dataset gives each image a number of views Gate 2 accepts,
    and trips no other rule (info notes allowed)."""
    items = _dataset(family, 26, repeats)
    config = preset_config(key, training_type, family, repeats=repeats)
    skipped = {config_rules.base_model, config_rules.training_folder}
    assessment = _assessment(config, family, training_type, items)
    for rule in config_rules.RULES:
        if rule in skipped:
            continue
        findings = [f for f in rule(assessment) if f.severity != "info"]
        assert not findings, f"{rule.__name__}: {[f.message for f in findings]}"


def test_the_standard_style_preset_shows_each_image_enough_times_from_one_repeat() -> None:
    """The issue's case: 26 imported photos (1 repeat each), a style LoRA on SDXL."""
    config = preset_config("standard", "style", "sdxl", repeats=1)
    plan = plan_steps(_dataset("sdxl", 26, 1), config)
    low, high = config_rules.VIEWS_PER_IMAGE["style"]
    assert low <= plan.views_per_image <= high
    assert config.epochs == 50 and config.save_every_n_epochs == 5


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_presets_pick_an_optimizer_every_trainer_has_without_a_package(family: str) -> None:
    """AdamW8bit needs bitsandbytes (not installed by default, GPU only); no preset picks
    an optimizer that needs a package PyTorch does not bring."""
    for key in PRESET_KEYS:
        optimizer = preset_config(key, "style", family).optimizer
        for backend in PACKAGES:
            assert optimizer_package(backend, optimizer) is None, (key, family, backend)


def test_the_device_follows_the_machine() -> None:
    nothing = GpuReport(status="library_missing")
    one_gpu = GpuReport(
        status="ok",
        devices=(GpuDevice(0, "NVIDIA GeForce RTX 4090", 24 * 2**30, 20 * 2**30, (8, 9)),),
    )
    assert device_for(GpuEntry(), nothing) == "cpu"
    assert device_for(None, nothing) == "cpu"
    assert device_for(GpuEntry(), one_gpu) == "cuda"
    # A GPU named in studio.md (rented, elsewhere) counts as the training machine's.
    assert device_for(GpuEntry(name="NVIDIA A100-SXM4-80GB", vram_gb=80.0), nothing) == "cuda"
    cpu = build_preset("standard", "style", "sd15", device="cpu")
    assert cpu.config().device == "cpu"
    assert "No NVIDIA GPU" in next(v.why for v in cpu.values if v.field == "device")


def test_epochs_follow_the_repeats() -> None:
    assert preset_config("standard", "character", "sdxl", repeats=10).epochs == 10
    assert preset_config("standard", "character", "sdxl", repeats=1).epochs == 100
    assert preset_config("quick", "style", "sd15", repeats=3).epochs == 7
    with pytest.raises(ValueError, match="above zero"):
        build_preset("quick", "style", "sd15", repeats=0)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="quick, standard or thorough"):
        build_preset("turbo", "style", "sdxl")
    with pytest.raises(ValueError, match="training type"):
        build_preset("quick", "landscape", "sdxl")
