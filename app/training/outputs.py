"""What a run writes to disk, estimated before it starts: the LoRA checkpoints it keeps,
the states it saves for resuming, the latent (and text-encoder) cache, and sample
images. Gate 3 blocks a run that would not fit the free disk; Gate 2 warns with the
same numbers.

Public API: ``estimate_outputs(config, family, image_count) -> OutputEstimate``,
``lora_parameters(family, rank, train_text_encoder)``, ``lora_file_bytes(...)`` and
``human_bytes``. Sizes come from the published architectures
(``app/training/architectures.py``) and the formats the trainers write, cited in
``app/docs/preflight-checklist.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.training.architectures import (
    LATENT_CHANNELS,
    LORA_FEATURES_DENOISER,
    LORA_FEATURES_TEXT_ENCODERS,
    LORA_MODULES,
    TEXT_ENCODER_OUTPUT,
)
from app.training.config import TrainingConfig
from app.words import human_bytes as human_bytes  # moved there; callers import it here
from app.words import plural

FLOAT32 = 4
# LoRA files are saved in the training precision (fp16 / bf16: 2 bytes a weight), like
# sd-scripts' save_precision; "no" mixed precision saves float32.
SAVE_BYTES = {"no": 4, "fp16": 2, "bf16": 2}
# Bytes a resume state holds per LoRA weight: the float32 weight itself plus the
# optimizer's per-weight state (AdamW: two float32 moments; 8-bit AdamW: two 1-byte
# moments; Lion: one moment; Prodigy: four float32 buffers; Adafactor: factored second
# moments, about nothing per weight).
STATE_BYTES_PER_PARAMETER = {
    "adamw": FLOAT32 * 3,
    "adamw8bit": FLOAT32 + 2,
    "lion": FLOAT32 * 2,
    "prodigy": FLOAT32 * 5,
    "adafactor": FLOAT32 + 1,
}
# A safetensors file: an 8-byte length, a JSON header naming every tensor (~120 bytes
# each) plus sd-scripts-style metadata (tag frequencies can reach tens of kilobytes).
HEADER_BYTES_PER_TENSOR = 120
METADATA_BYTES = 64 * 1024
# A generated PNG: about 1.5 bytes per pixel for a detailed picture (PNG is lossless;
# noise-like detail compresses poorly).
PNG_BYTES_PER_PIXEL = 1.5


def lora_parameters(family: str, rank: int, train_text_encoder: bool) -> int:
    """Weights in a kohya-style LoRA of ``rank`` for ``family`` (down and up matrices;
    alphas are one number per module and not counted)."""
    features = LORA_FEATURES_DENOISER[family]
    if train_text_encoder:
        features += LORA_FEATURES_TEXT_ENCODERS[family]
    return rank * features


def lora_modules(family: str, train_text_encoder: bool) -> int:
    denoiser, text = LORA_MODULES[family]
    return denoiser + (text if train_text_encoder else 0)


def lora_file_bytes(family: str, rank: int, train_text_encoder: bool, precision: str) -> int:
    modules = lora_modules(family, train_text_encoder)
    weights = lora_parameters(family, rank, train_text_encoder) * SAVE_BYTES.get(precision, 4)
    # Three tensors per module: down, up and the alpha scalar (stored as one value).
    return weights + modules * (FLOAT32 + 3 * HEADER_BYTES_PER_TENSOR) + METADATA_BYTES


@dataclass(frozen=True)
class OutputEstimate:
    steps: int
    lora_parameters: int
    lora_bytes: int  # one LoRA file
    checkpoints: int  # LoRA files on disk at the end: kept intermediate ones + the final
    states: int  # resume states kept
    state_bytes_each: int
    latent_cache_bytes: int
    text_encoder_cache_bytes: int
    samples: int
    sample_bytes_each: int

    @property
    def checkpoint_bytes(self) -> int:
        return self.checkpoints * self.lora_bytes

    @property
    def state_bytes(self) -> int:
        return self.states * self.state_bytes_each

    @property
    def sample_bytes(self) -> int:
        return self.samples * self.sample_bytes_each

    @property
    def total_bytes(self) -> int:
        return (
            self.checkpoint_bytes
            + self.state_bytes
            + self.latent_cache_bytes
            + self.text_encoder_cache_bytes
            + self.sample_bytes
        )

    def parts(self) -> list[tuple[str, int]]:
        """(plain description, bytes) of every part, for people."""
        rows = [
            (
                f"{plural(self.checkpoints, 'LoRA file')} of {human_bytes(self.lora_bytes)}",
                self.checkpoint_bytes,
            ),
            (
                f"{plural(self.states, 'resume state')} of {human_bytes(self.state_bytes_each)}",
                self.state_bytes,
            ),
            ("latent cache", self.latent_cache_bytes),
        ]
        if self.text_encoder_cache_bytes:
            rows.append(("text-encoder output cache", self.text_encoder_cache_bytes))
        if self.samples:
            rows.append((f"{self.samples} sample images", self.sample_bytes))
        return rows


def estimate_outputs(
    config: TrainingConfig, family: str, image_count: int, steps: int | None = None
) -> OutputEstimate:
    """Disk a run of ``config`` on ``image_count`` distinct images writes. ``steps``
    overrides the config's ``max_train_steps`` (0 before the step maths has run, when
    one epoch is taken as every image once)."""
    if steps is None:
        steps = config.max_train_steps or config.epochs * math.ceil(
            max(1, image_count) / (config.train_batch_size * config.gradient_accumulation_steps)
        )
    parameters = lora_parameters(family, config.network_rank, config.train_text_encoder)
    kept = min(_intermediate_saves(config, steps), config.save_last_n) + 1
    side = config.resolution // 8
    latent = LATENT_CHANNELS[family] * side * side * FLOAT32
    tokens, width, pooled = TEXT_ENCODER_OUTPUT[family]
    text_output = (tokens * width + pooled) * FLOAT32
    samples = 0
    if config.sample_prompts and config.sample_every_n_steps:
        samples = (steps // config.sample_every_n_steps) * len(config.sample_prompts)
    return OutputEstimate(
        steps=steps,
        lora_parameters=parameters,
        lora_bytes=lora_file_bytes(
            family, config.network_rank, config.train_text_encoder, config.mixed_precision
        ),
        checkpoints=kept,
        states=kept,
        state_bytes_each=parameters * STATE_BYTES_PER_PARAMETER[config.optimizer],
        latent_cache_bytes=image_count * latent if config.cache_latents else 0,
        text_encoder_cache_bytes=image_count * text_output
        if config.cache_text_encoder_outputs
        else 0,
        samples=samples,
        sample_bytes_each=int(config.resolution**2 * PNG_BYTES_PER_PIXEL),
    )


def _intermediate_saves(config: TrainingConfig, steps: int) -> int:
    """Checkpoints saved before the final one (sd-scripts skips the epoch save that
    coincides with the end, since the final save follows)."""
    saves = 0
    if config.save_every_n_epochs:
        saves += (config.epochs - 1) // config.save_every_n_epochs
    if config.save_every_n_steps:
        saves += (steps - 1) // config.save_every_n_steps
    return max(0, saves)
