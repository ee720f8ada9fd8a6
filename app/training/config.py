"""The one training config loragate sets, whatever the backend. Adapters translate it
into each trainer's own files; the native trainer reads it inside its job file.

Stored per project in ``grimoire/training/{slug}/training.json`` (atomic writes); every
change is journaled by app/training/project_config.py. Field explanations shown in the
UI come from ``app/docs/parameters-guide.md`` (app/training/field_docs.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from app.dataset.buckets import BucketSpec
from app.fsutil import atomic_write_text

CONFIG_FILE = "training.json"

Optimizer = Literal["adamw", "adamw8bit", "prodigy", "lion", "adafactor"]
Scheduler = Literal[
    "constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"
]
Precision = Literal["no", "fp16", "bf16"]
# How the frozen base model's weights are stored on the GPU: as trained ("none"), 8-bit
# floats (sd-scripts --fp8_base, ai-toolkit quantize, SimpleTuner fp8-quanto) or 4-bit
# NormalFloat (QLoRA; SimpleTuner nf4-bnb).
Quantization = Literal["none", "fp8", "nf4"]
Device = Literal["cuda", "cpu"]

# Upper bounds: far beyond any real LoRA run, low enough that a typo (an extra zero, a
# pasted number) is refused at the field instead of producing an absurd plan, and that
# step maths and every trainer's integer parsing stay in range.
RANK_MAX = 1024
LEARNING_RATE_MAX = 10.0  # Prodigy and D-Adaptation use ~1; nothing trains above 10
EPOCHS_MAX = 10_000
STEPS_MAX = 100_000_000
BATCH_MAX = 256
ACCUMULATION_MAX = 1024
RESOLUTION_MIN = 64
RESOLUTION_MAX = 4096  # 4× SDXL's and Flux's native side; 16× the pixels
BUCKET_RESOLUTION_MAX = 8192
# sd-scripts' flux_train_network.py swaps at most 35 of Flux's blocks (docs/flux_train_network.md).
BLOCKS_TO_SWAP_MAX = 35
SEED_MAX = 2**32 - 1  # numpy's seed range, which accelerate's set_seed passes it to
OUTPUT_NAME_MAX = 100
PROMPTS_MAX = 100
# A file stem every trainer writes as ``<output_dir>/<name>.safetensors``: no folder
# separators, no leading dot or hyphen, nothing a shell or a TOML/YAML writer must escape.
OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def output_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a LoRA file name, in plain words (None: it can)."""
    if not name:
        return None
    if len(name) > OUTPUT_NAME_MAX:
        return f"the output name is longer than {OUTPUT_NAME_MAX} characters"
    if ".." in name or not OUTPUT_NAME.match(name):
        return (
            f"“{name}” cannot be a file name: use letters, digits, “_”, “.” and “-” "
            "(“.” and “-” not at the start), with no “..” and no folder separators"
        )
    return None


class TrainingConfig(BaseModel):
    # allow_inf_nan=False: "inf" or "nan" in a number field is refused here, instead of
    # being saved as JSON null and making training.json unreadable.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    preset: str = "standard"  # quick | standard | thorough | custom

    # Network
    network_rank: int = Field(16, ge=1, le=RANK_MAX)
    network_alpha: float = Field(8.0, gt=0, le=RANK_MAX)
    train_text_encoder: bool = False

    # Learning
    unet_lr: float = Field(1e-4, gt=0, le=LEARNING_RATE_MAX)
    text_encoder_lr: float = Field(5e-5, gt=0, le=LEARNING_RATE_MAX)
    optimizer: Optimizer = "adamw"
    lr_scheduler: Scheduler = "cosine"
    lr_warmup_steps: int = Field(0, ge=0, le=STEPS_MAX)

    # Length: epochs are the artist's intent, max_train_steps what it works out to.
    # Both are always written explicitly to every backend.
    epochs: int = Field(10, ge=1, le=EPOCHS_MAX)
    max_train_steps: int = Field(0, ge=0, le=STEPS_MAX)  # 0 until step maths has run
    train_batch_size: int = Field(1, ge=1, le=BATCH_MAX)
    gradient_accumulation_steps: int = Field(1, ge=1, le=ACCUMULATION_MAX)

    # Resolution and aspect-ratio bucketing
    resolution: int = Field(1024, ge=RESOLUTION_MIN, le=RESOLUTION_MAX)
    enable_bucket: bool = True
    min_bucket_reso: int = Field(256, ge=RESOLUTION_MIN, le=BUCKET_RESOLUTION_MAX)
    max_bucket_reso: int = Field(2048, ge=RESOLUTION_MIN, le=BUCKET_RESOLUTION_MAX)
    bucket_reso_steps: int = Field(64, ge=8, le=1024)
    bucket_no_upscale: bool = True

    # Memory and speed
    mixed_precision: Precision = "bf16"
    gradient_checkpointing: bool = True
    cache_latents: bool = True
    cache_text_encoder_outputs: bool = False
    # For 8-16 GB cards; each is off by default and only some trainers have it (Gate 2
    # blocks a trainer that cannot do what is asked: app/training/memory_features.py).
    quantize_base: Quantization = "none"
    full_bf16: bool = False
    blocks_to_swap: int = Field(0, ge=0, le=BLOCKS_TO_SWAP_MAX)
    cpu_offload: bool = False

    # Loss shaping
    noise_offset: float = Field(0.0, ge=0, le=1)
    min_snr_gamma: float | None = Field(5.0, gt=0, le=100)

    # Captions (the trigger word is the first token; keep_tokens keeps it first)
    caption_dropout_rate: float = Field(0.0, ge=0, le=1)
    shuffle_caption: bool = False
    keep_tokens: int = Field(1, ge=0, le=255)

    # Reproducibility, saving, samples
    seed: int = Field(42, ge=0, le=SEED_MAX)
    save_every_n_epochs: int | None = Field(1, ge=1, le=EPOCHS_MAX)
    save_every_n_steps: int | None = Field(None, ge=1, le=STEPS_MAX)
    save_last_n: int = Field(3, ge=1, le=1000)
    sample_prompts: list[str] = Field(default_factory=list, max_length=PROMPTS_MAX)
    sample_every_n_steps: int | None = Field(None, ge=1, le=STEPS_MAX)
    output_name: str = Field("", max_length=OUTPUT_NAME_MAX)  # "" = the project's folder name

    # Hardware
    device: Device = "cuda"
    num_gpus: int = Field(1, ge=1, le=64)

    @field_validator("output_name")
    @classmethod
    def _safe_output_name(cls, value: str) -> str:
        problem = output_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

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


def bucket_spec(config: TrainingConfig) -> BucketSpec:
    """The bucketing a training config asks for."""
    return BucketSpec(
        resolution=config.resolution,
        enabled=config.enable_bucket,
        min_reso=config.min_bucket_reso,
        max_reso=config.max_bucket_reso,
        step=config.bucket_reso_steps,
        no_upscale=config.bucket_no_upscale,
    )
