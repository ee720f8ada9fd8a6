"""Presets: every type × family × level is a valid config whose every value explains
itself with a source that exists, and none of them trips Gate 2 on its own."""

from __future__ import annotations

import itertools

import pytest

from app.dataset.inventory import DatasetItem
from app.intent import MODEL_FAMILIES, TRAINING_TYPES
from app.resources import check_source
from app.training.config import TrainingConfig
from app.training.presets import PRESET_KEYS, build_preset, preset_config
from app.training.steps import plan_steps

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


@pytest.mark.parametrize(("key", "training_type", "family"), COMBINATIONS)
def test_presets_do_not_block_gate2_on_a_typical_dataset(
    key: str, training_type: str, family: str
) -> None:
    from app.gates import config_rules

    side = {"sd15": 512, "sd2": 768}.get(family, 1024)
    config = preset_config(key, training_type, family)
    items = [DatasetItem(f"10_x/{i}.png", side, side, "x", 10) for i in range(20)]
    plan = plan_steps(items, config)
    rules = (
        config_rules.learning_rate,
        config_rules.alpha_above_rank,
        config_rules.resolution,
        config_rules.bucket_steps,
        config_rules.text_encoder_cache,
        config_rules.shuffle_keep_tokens,
        config_rules.constant_with_warmup,
        config_rules.steps_per_image,
    )

    class Stub:  # only the attributes these pure rules read
        pass

    assessment = Stub()
    assessment.config, assessment.family, assessment.training_type = config, family, training_type  # type: ignore[attr-defined]
    assessment.plan, assessment.backend = plan, "kohya"  # type: ignore[attr-defined]
    for rule in rules:
        blocking = [f for f in rule(assessment) if f.severity != "info"]  # type: ignore[arg-type]
        assert not blocking, f"{rule.__name__}: {[f.message for f in blocking]}"


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="quick, standard or thorough"):
        build_preset("turbo", "style", "sdxl")
    with pytest.raises(ValueError, match="training type"):
        build_preset("quick", "landscape", "sdxl")
