from __future__ import annotations

from pathlib import Path

import pytest

from app.training.config import ConfigFileError, TrainingConfig, load_config, save_config


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
