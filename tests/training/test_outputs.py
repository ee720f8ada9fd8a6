"""What a run writes: each part from the config, the family and the image count."""

from __future__ import annotations

from app.training.architectures import LORA_FEATURES_DENOISER
from app.training.config import TrainingConfig
from app.training.outputs import (
    METADATA_BYTES,
    estimate_outputs,
    human_bytes,
    lora_file_bytes,
    lora_parameters,
)


def test_lora_size_scales_with_rank_and_text_encoder() -> None:
    unet_only = lora_parameters("sdxl", 16, False)
    assert unet_only == 16 * LORA_FEATURES_DENOISER["sdxl"]
    assert lora_parameters("sdxl", 32, False) == 2 * unet_only
    assert lora_parameters("sdxl", 16, True) > unet_only
    fp16 = lora_file_bytes("sdxl", 16, False, "bf16")
    fp32 = lora_file_bytes("sdxl", 16, False, "no")
    # The weights at 2 bytes each, plus a header and metadata well under a megabyte.
    assert METADATA_BYTES < fp16 - unet_only * 2 < 1024**2
    assert fp32 - fp16 == unet_only * 2


def test_estimate_parts_follow_the_config() -> None:
    config = TrainingConfig(
        epochs=10,
        save_every_n_epochs=2,
        save_last_n=3,
        optimizer="adamw",
        resolution=1024,
        cache_latents=True,
        cache_text_encoder_outputs=True,
        sample_prompts=["a cat", "a dog"],
        sample_every_n_steps=100,
        max_train_steps=1000,
    )
    estimate = estimate_outputs(config, "sdxl", image_count=40)
    # epochs 2, 4, 6, 8 are saved (10 is the final save): 3 kept + the final file
    assert estimate.checkpoints == 4 and estimate.states == 4
    assert estimate.state_bytes_each == estimate.lora_parameters * 12  # weight + 2 moments
    assert estimate.latent_cache_bytes == 40 * 4 * 128 * 128 * 4
    assert estimate.text_encoder_cache_bytes == 40 * (77 * 2048 + 1280) * 4
    assert estimate.samples == 20
    assert estimate.total_bytes == sum(size for _, size in estimate.parts())
    eight_bit = estimate_outputs(config.model_copy(update={"optimizer": "adamw8bit"}), "sdxl", 40)
    assert eight_bit.state_bytes_each == estimate.lora_parameters * 6


def test_steps_before_step_maths_and_without_saves() -> None:
    config = TrainingConfig(
        epochs=5, train_batch_size=2, save_every_n_epochs=None, cache_latents=False
    )
    estimate = estimate_outputs(config, "sd15", image_count=9)
    assert estimate.steps == 5 * 5  # ceil(9 / 2) batches a epoch
    assert estimate.checkpoints == 1 and estimate.latent_cache_bytes == 0
    assert estimate.samples == 0


def test_flux_latents_have_sixteen_channels() -> None:
    estimate = estimate_outputs(TrainingConfig(resolution=1024), "flux", image_count=1)
    assert estimate.latent_cache_bytes == 16 * 128 * 128 * 4


def test_human_bytes() -> None:
    assert human_bytes(512) == "512 bytes"
    assert human_bytes(1536) == "1.5 KB"
    assert human_bytes(37_910_368) == "36.2 MB"
    assert human_bytes(5 * 1024**4) == "5.0 TB"
