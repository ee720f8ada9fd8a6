from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.training.config import (
    ConfigFileError,
    TrainingConfig,
    load_config,
    output_name_problem,
    save_config,
)


def test_round_trip(tmp_path: Path) -> None:
    assert load_config(tmp_path) is None
    config = TrainingConfig(network_rank=32, network_alpha=16, optimizer="prodigy", unet_lr=1.0)
    save_config(tmp_path, config)
    assert load_config(tmp_path) == config


def test_unknown_key_and_bad_value_are_plain_errors(tmp_path: Path) -> None:
    (tmp_path / "training.json").write_text('{"network_rnak": 8}')
    with pytest.raises(ConfigFileError, match="network_rnak"):
        load_config(tmp_path)
    (tmp_path / "training.json").write_text('{"optimizer": "sgd"}')
    with pytest.raises(ConfigFileError, match="optimizer"):
        load_config(tmp_path)
    (tmp_path / "training.json").write_text("{not json")
    with pytest.raises(ConfigFileError, match="not valid JSON"):
        load_config(tmp_path)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize(
    "field", ["unet_lr", "text_encoder_lr", "network_alpha", "noise_offset", "min_snr_gamma"]
)
def test_non_finite_numbers_are_refused(field: str, value: float) -> None:
    """Saved as JSON null they would make training.json unreadable."""
    with pytest.raises(ValidationError, match="finite"):
        TrainingConfig.model_validate({field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 99999999999999999999),
        ("epochs", 10_001),
        ("train_batch_size", 257),
        ("gradient_accumulation_steps", 1025),
        ("resolution", 4097),
        ("max_bucket_reso", 8193),
        ("network_rank", 1025),
        ("unet_lr", 11.0),
        ("seed", 2**32),
        ("seed", -1),
        ("save_last_n", 1001),
        ("keep_tokens", 256),
        ("sample_prompts", ["p"] * 101),
    ],
)
def test_absurd_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        TrainingConfig.model_validate({field: value})


def test_the_largest_accepted_values_still_make_a_config() -> None:
    config = TrainingConfig(
        epochs=10_000, train_batch_size=256, resolution=4096, max_bucket_reso=8192, seed=2**32 - 1
    )
    assert config.epochs == 10_000


@pytest.mark.parametrize(
    "name",
    [
        "../../../escaped",
        "/etc/passwd",
        "a/b",
        "a\\b",
        "..",
        ".hidden",
        "-x",
        "a..b",
        "spaces are not",
        "x" * 101,
        "tab\t",
    ],
)
def test_unsafe_output_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        TrainingConfig(output_name=name)
    assert output_name_problem(name)


@pytest.mark.parametrize("name", ["", "ink-wash", "Ink_Wash.v2", "_draft", "x" * 100])
def test_safe_output_names_are_kept(name: str) -> None:
    assert TrainingConfig(output_name=name).output_name == name


@pytest.mark.parametrize("text", ['{"unet_lr": null}', '{"unet_lr": Infinity}', '{"unet_lr": NaN}'])
def test_a_file_with_non_numbers_is_a_plain_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "training.json").write_text(text)
    with pytest.raises(ConfigFileError, match="unet_lr"):
        load_config(tmp_path)
