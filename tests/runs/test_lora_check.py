"""A run is finished only when its LoRA file is there, complete and holds LoRA weights."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from app.training.lora_check import lora_problem


def test_a_complete_lora_passes_and_every_broken_one_is_named(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save_file({"lora_unet_a.lora_down.weight": torch.ones(4, 8)}, str(good))
    assert lora_problem(good) is None

    assert "is not there" in (lora_problem(tmp_path / "missing.safetensors") or "")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-16])
    assert "incomplete" in (lora_problem(cut) or "")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    assert "cannot be read" in (lora_problem(garbage) or "")
    other = tmp_path / "other.safetensors"
    save_file({"model.weight": torch.ones(2)}, str(other))
    assert "holds no LoRA weights" in (lora_problem(other) or "")
