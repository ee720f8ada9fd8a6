"""The one training config loragate sets, whatever the backend. Adapters translate it
into each trainer's own files; the native trainer reads it inside its job file.

Stored per project in ``grimoire/training/{slug}/training.json`` (atomic writes); every
change is journaled by app/training/project_config.py. Field explanations shown in the
UI come from ``resources/parameters-guide.md`` (app/training/field_docs.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.fsutil import atomic_write_text

CONFIG_FILE = "training.json"

Optimizer = Literal["adamw", "adamw8bit", "prodigy", "lion", "adafactor"]
Scheduler = Literal[
    "constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"
]
Precision = Literal["no", "fp16", "bf16"]
Device = Literal["cuda", "cpu"]


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: str = "standard"  # quick | standard | thorough | custom

    # Network
    network_rank: int = Field(16, ge=1, le=1024)
    network_alpha: float = Field(8.0, gt=0)
    train_text_encoder: bool = False

    # Learning
    unet_lr: float = Field(1e-4, gt=0)
    text_encoder_lr: float = Field(5e-5, gt=0)
    optimizer: Optimizer = "adamw"
    lr_scheduler: Scheduler = "cosine"
    lr_warmup_steps: int = Field(0, ge=0)

    # Length: epochs are the artist's intent, max_train_steps what it works out to.
    # Both are always written explicitly to every backend.
    epochs: int = Field(10, ge=1)
    max_train_steps: int = Field(0, ge=0)  # 0 until step maths has run
    train_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)

    # Resolution and aspect-ratio bucketing
    resolution: int = Field(1024, ge=64)
    enable_bucket: bool = True
    min_bucket_reso: int = Field(256, ge=64)
    max_bucket_reso: int = Field(2048, ge=64)
    bucket_reso_steps: int = Field(64, ge=8)
    bucket_no_upscale: bool = True

    # Memory and speed
    mixed_precision: Precision = "bf16"
    gradient_checkpointing: bool = True
    cache_latents: bool = True
    cache_text_encoder_outputs: bool = False

    # Loss shaping
    noise_offset: float = Field(0.0, ge=0)
    min_snr_gamma: float | None = Field(5.0, gt=0)

    # Captions (the trigger word is the first token; keep_tokens keeps it first)
    caption_dropout_rate: float = Field(0.0, ge=0, le=1)
    shuffle_caption: bool = False
    keep_tokens: int = Field(1, ge=0)

    # Reproducibility, saving, samples
    seed: int = 42
    save_every_n_epochs: int | None = Field(1, ge=1)
    save_every_n_steps: int | None = Field(None, ge=1)
    save_last_n: int = Field(3, ge=1)
    sample_prompts: list[str] = Field(default_factory=list)
    sample_every_n_steps: int | None = Field(None, ge=1)
    output_name: str = ""

    # Hardware
    device: Device = "cuda"
    num_gpus: int = Field(1, ge=1, le=64)

    @model_validator(mode="after")
    def _buckets_in_order(self) -> TrainingConfig:
        if self.min_bucket_reso > self.max_bucket_reso:
            raise ValueError(
                "the smallest bucket side is larger than the largest "
                f"({self.min_bucket_reso} > {self.max_bucket_reso})"
            )
        return self

    def digest(self) -> str:
        """A stable fingerprint of every value (Gate 2, the estimate confirmation)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def changes_from(self, old: TrainingConfig) -> dict[str, tuple[object, object]]:
        """Field → (old, new) for every value that differs."""
        new_values, old_values = self.model_dump(), old.model_dump()
        return {
            name: (old_values[name], value)
            for name, value in new_values.items()
            if old_values[name] != value
        }


class ConfigFileError(ValueError):
    """training.json exists but cannot be used; the message says why, in plain words."""


def config_path(project_dir: Path) -> Path:
    return project_dir / CONFIG_FILE


def load_config(project_dir: Path) -> TrainingConfig | None:
    """The project's config, or None when none has been written yet."""
    path = config_path(project_dir)
    if not path.exists():
        return None
    try:
        return TrainingConfig.model_validate(json.loads(path.read_text("utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path.name} is not valid JSON: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigFileError(f"{path.name} has values loragate cannot use: {problems}") from None


def save_config(project_dir: Path, config: TrainingConfig) -> None:
    atomic_write_text(config_path(project_dir), config.model_dump_json(indent=2) + "\n")
