"""Typed values (the Config page's form, ``loragate config --set``) into a TrainingConfig:
each field read by its annotation, every problem named at its field at once, and
nothing changed when any value is wrong."""

from __future__ import annotations

from app.training.config import TrainingConfig
from app.training.config_input import SETTABLE_FIELDS, WHOLE_CONFIG, config_with


def test_values_are_read_by_their_fields_types() -> None:
    base = TrainingConfig()
    config, errors = config_with(
        base,
        {
            "network_rank": " 32 ",
            "unet_lr": "2e-4",
            "optimizer": "lion",
            "enable_bucket": "off",
            "gradient_checkpointing": True,
            "min_snr_gamma": "",
            "sample_prompts": "zk, a fox\n\n  zk at night  ",
        },
    )
    assert errors == {} and config is not None
    assert (config.network_rank, config.unet_lr, config.optimizer) == (32, 2e-4, "lion")
    assert config.enable_bucket is False and config.min_snr_gamma is None
    assert config.sample_prompts == ["zk, a fox", "zk at night"]
    assert config.epochs == base.epochs  # not given: kept


def test_every_problem_is_named_at_once_and_nothing_changes() -> None:
    config, errors = config_with(
        TrainingConfig(),
        {
            "network_rank": "lots",
            "unet_lr": "nan",
            "mixed_precision": "fp8",
            "seeed": "1",
            "shuffle_caption": "maybe",
            "epochs": "0",
        },
    )
    assert config is None
    assert errors == {
        "network_rank": "“lots” is not a whole number.",
        "unet_lr": "Must be an ordinary number, not “inf”, “nan” or one too large to store.",
        "mixed_precision": "Choose one of no, fp16, bf16.",
        "seeed": "There is no setting “seeed”. Did you mean “seed”? Settings: "
        + ", ".join(SETTABLE_FIELDS)
        + ".",
        "shuffle_caption": "“maybe” is neither on nor off: use true or false.",
        "epochs": "Must be at least 1.",
    }


def test_a_rule_across_fields_is_reported_for_the_whole_config() -> None:
    config, errors = config_with(
        TrainingConfig(), {"min_bucket_reso": "2048", "max_bucket_reso": "512"}
    )
    assert config is None
    assert errors == {
        WHOLE_CONFIG: "The smallest bucket side is larger than the largest (2048 > 512)."
    }


def test_the_settable_fields_are_every_field_but_the_derived_ones() -> None:
    assert set(TrainingConfig.model_fields) - set(SETTABLE_FIELDS) == {"preset", "max_train_steps"}
