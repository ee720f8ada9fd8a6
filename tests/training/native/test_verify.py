"""The check after every save on a CPU run: no second copy of the base model (that
doubled the run's memory, 28 GB for SDXL), yet a fresh load of the saved kohya file in
diffusers, onto the base model's own weights, must reproduce the trained model's output."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from peft.tuners.lora import LoraLayer
from safetensors.torch import load_file, save_file

from app.training.job import BaseModelRef
from app.training.native.errors import TrainingError
from app.training.native.events import ProgressWriter
from app.training.native.trainer import Trainer
from app.training.native.verify import without_adapters
from tests.training.native.conftest import MakeJob


@pytest.fixture
def trainer(make_job: MakeJob, sd15_ref: BaseModelRef) -> Trainer:
    job = make_job(
        sd15_ref,
        max_train_steps=3,
        save_every_n_steps=1,
        train_text_encoder=True,
        unet_lr=1e-2,
        text_encoder_lr=1e-2,
    )
    trainer = Trainer(job, ProgressWriter(io.StringIO()))
    trainer.train()
    return trainer


def test_every_save_is_verified_without_a_second_copy_of_the_model(trainer: Trainer) -> None:
    verified = [
        e["verified"] for e in trainer.events.events if e["event"] in ("checkpoint", "done")
    ]
    assert len(verified) == 3  # steps 1 and 2, then the final file
    for check in verified:
        assert check["unmatched_keys"] == 0 and check["changes_output"]
        # The fresh load reproduces the trained model (float32 on the CPU: exactly).
        assert check["difference_from_training"] is not None
        assert check["difference_from_training"] <= 1e-5 * max(1.0, check["max_change"])
    verifier = trainer.saver._verifier
    assert verifier is not None and verifier._model is None  # no copy was ever loaded


def test_a_file_that_differs_from_the_trained_model_is_caught(
    trainer: Trainer, tmp_path: Path
) -> None:
    run = trainer.run
    assert run is not None
    final = trainer.saver.final_path
    tensors = load_file(final)
    up = next(key for key in sorted(tensors) if key.startswith("lora_unet_") and "lora_up" in key)
    tensors[up] = tensors[up] * 2  # what a wrong scale or a mixed-up key would do
    tampered = tmp_path / "tampered.safetensors"
    save_file(tensors, tampered)
    verification = trainer.saver._verifier.verify(tampered)  # type: ignore[union-attr]
    assert verification.changes_output and not verification.unmatched
    assert not verification.reproduces and not verification.ok
    with pytest.raises(TrainingError, match="does not reproduce the trained model"):
        trainer.saver.verify(run, tampered)


def test_the_check_model_shares_the_frozen_weights_and_leaves_training_alone(
    trainer: Trainer,
) -> None:
    run = trainer.run
    assert run is not None
    model = run.model
    check = without_adapters(model)
    assert check.unet.conv_in.weight.data_ptr() == model.unet.conv_in.weight.data_ptr()
    trained_q = model.unet.get_submodule(
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
    )
    check_q = check.unet.get_submodule("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")
    assert isinstance(trained_q, LoraLayer) and not isinstance(check_q, LoraLayer)
    assert check_q.weight.data_ptr() == trained_q.get_base_layer().weight.data_ptr()
    assert not any(isinstance(m, LoraLayer) for m in check.text_encoders[0].modules())
    # The training model keeps its adapters, trainable.
    assert all(lora.down.requires_grad and lora.up.requires_grad for lora in run.loras)
    assert torch.equal(model.unet.conv_in.weight, check.unet.conv_in.weight)
