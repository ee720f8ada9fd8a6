"""Quick / Standard / Thorough starting points for every training type × model family.

A preset is a set of values, each with the reason it was chosen and the section of
resources/presets.md that backs it. The artist starts from one and may change anything;
app/training/project_config.py journals both the preset and every later change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.intent import MODEL_FAMILIES, TRAINING_TYPES
from app.training.config import TrainingConfig

PRESET_KEYS = ("quick", "standard", "thorough")
PRESET_TITLES = {"quick": "Quick", "standard": "Standard", "thorough": "Thorough"}
PRESET_SUMMARIES = {
    "quick": "A first look in the least GPU time: fewer epochs, a smaller rank. Good to "
    "check the dataset and captions work before paying for a full run.",
    "standard": "What most LoRAs of this kind are trained with: the values the backends' "
    "own guides start from.",
    "thorough": "More epochs at a gentler learning rate and a larger rank, for large or "
    "varied datasets. Saves often so you can pick the best checkpoint.",
}


@dataclass(frozen=True)
class PresetValue:
    field: str
    value: Any
    why: str
    source: str  # "presets#anchor"


@dataclass(frozen=True)
class Preset:
    key: str
    training_type: str
    family: str
    values: tuple[PresetValue, ...]

    @property
    def title(self) -> str:
        return PRESET_TITLES[self.key]

    def config(self, output_name: str = "") -> TrainingConfig:
        updates = {value.field: value.value for value in self.values}
        updates["preset"] = self.key
        if output_name:
            updates["output_name"] = output_name
        return TrainingConfig(**updates)


# Per family: what the memory and the resolution call for.
_FAMILY: dict[str, dict[str, tuple[Any, str, str]]] = {
    "sd15": {
        "resolution": (512, "SD 1.5 was trained on 512 × 512 images.", "presets#resolution"),
        "max_bucket_reso": (
            1024,
            "Buckets up to twice the native side keep tall and wide images without upscaling.",
            "presets#buckets",
        ),
        "bucket_reso_steps": (
            64,
            "sd-scripts requires steps divisible by 64 for SD 1.x.",
            "presets#buckets",
        ),
        "mixed_precision": (
            "fp16",
            "fp16 runs on every NVIDIA GPU since Pascal; SD 1.5 is stable in it.",
            "presets#precision",
        ),
        "optimizer": (
            "adamw",
            "SD 1.5 is small: plain AdamW fits easily and needs no extra package.",
            "presets#optimizer",
        ),
        "train_text_encoder": (
            True,
            "Training CLIP as well helps SD 1.5 bind the trigger word.",
            "presets#text-encoder",
        ),
        "cache_text_encoder_outputs": (
            False,
            "Impossible while the text encoder trains.",
            "presets#text-encoder",
        ),
    },
    "sd2": {
        "resolution": (
            768,
            "SD 2.x 768 models were trained on 768 × 768 images.",
            "presets#resolution",
        ),
        "max_bucket_reso": (1536, "Twice the native side.", "presets#buckets"),
        "bucket_reso_steps": (
            64,
            "sd-scripts requires steps divisible by 64 for SD 2.x.",
            "presets#buckets",
        ),
        "mixed_precision": ("fp16", "Works on every NVIDIA GPU since Pascal.", "presets#precision"),
        "optimizer": (
            "adamw",
            "Plain AdamW fits on a 12 GB card at this size.",
            "presets#optimizer",
        ),
        "train_text_encoder": (True, "Helps the trigger word bind.", "presets#text-encoder"),
        "cache_text_encoder_outputs": (
            False,
            "Impossible while the text encoder trains.",
            "presets#text-encoder",
        ),
    },
    "sdxl": {
        "resolution": (1024, "SDXL was trained on about one megapixel.", "presets#resolution"),
        "max_bucket_reso": (2048, "Twice the native side.", "presets#buckets"),
        "bucket_reso_steps": (
            64,
            "A multiple of the 32 sd-scripts requires for SDXL; 64 "
            "matches the buckets SDXL itself was trained on.",
            "presets#buckets",
        ),
        "mixed_precision": (
            "bf16",
            "bf16 avoids fp16 overflow in SDXL's VAE and UNet on Ampere and newer GPUs.",
            "presets#precision",
        ),
        "optimizer": (
            "adamw8bit",
            "Halves optimizer memory so SDXL fits 12–16 GB cards.",
            "presets#optimizer",
        ),
        "train_text_encoder": (
            False,
            "sd-scripts recommends training only the U-Net for SDXL LoRAs.",
            "presets#text-encoder",
        ),
        "cache_text_encoder_outputs": (
            True,
            "Frees both text encoders from the GPU.",
            "presets#text-encoder",
        ),
    },
    "flux": {
        "resolution": (1024, "Flux.1 generates at about one megapixel.", "presets#resolution"),
        "max_bucket_reso": (2048, "Twice the native side.", "presets#buckets"),
        "bucket_reso_steps": (
            64,
            "A multiple of the 32 sd-scripts requires for Flux.",
            "presets#buckets",
        ),
        "mixed_precision": ("bf16", "Flux's weights are published in bf16.", "presets#precision"),
        "optimizer": (
            "adamw8bit",
            "Flux is 12 billion parameters: every GB counts.",
            "presets#optimizer",
        ),
        "train_text_encoder": (
            False,
            "The backends do not train T5; CLIP alone adds little.",
            "presets#text-encoder",
        ),
        "cache_text_encoder_outputs": (
            True,
            "Frees T5-XXL (9 GB) from the GPU.",
            "presets#text-encoder",
        ),
        "min_snr_gamma": (
            None,
            "Min-SNR weighting is for noise-prediction models; Flux is trained with flow matching.",
            "presets#loss",
        ),
    },
}

# Per level: length, capacity and learning rate (AdamW-family rates; Flux uses less).
_LEVEL: dict[str, dict[str, tuple[Any, str, str]]] = {
    "quick": {
        "epochs": (6, "Enough to see whether the LoRA learns the right thing.", "presets#length"),
        "network_rank": (
            8,
            "A small rank learns the broad strokes fast and cheaply.",
            "presets#rank-and-alpha",
        ),
        "save_every_n_epochs": (2, "Three checkpoints to compare.", "presets#saving"),
    },
    "standard": {
        "epochs": (10, "The length the backends' guides start from.", "presets#length"),
        "network_rank": (
            16,
            "Enough capacity for a character, style or object.",
            "presets#rank-and-alpha",
        ),
        "save_every_n_epochs": (
            1,
            "A checkpoint per epoch to pick the best one.",
            "presets#saving",
        ),
    },
    "thorough": {
        "epochs": (
            16,
            "Longer, at a gentler rate, for large or varied datasets.",
            "presets#length",
        ),
        "network_rank": (
            32,
            "More capacity for detail; needs more images to fill.",
            "presets#rank-and-alpha",
        ),
        "save_every_n_epochs": (
            1,
            "A checkpoint per epoch: the best is often before the last.",
            "presets#saving",
        ),
    },
}

_LEARNING_RATE = {  # (quick, standard, thorough) UNet / transformer learning rate
    "sd15": (2e-4, 1e-4, 8e-5),
    "sd2": (2e-4, 1e-4, 8e-5),
    "sdxl": (2e-4, 1e-4, 8e-5),
    "flux": (2e-4, 1e-4, 5e-5),
}

# Per training type: how captions are handled.
_TYPE: dict[str, dict[str, tuple[Any, str, str]]] = {
    "style": {
        "caption_dropout_rate": (
            0.05,
            "Now and then training without a caption teaches the "
            "look itself, not only with the trigger.",
            "presets#captions",
        ),
    },
    "character": {
        "caption_dropout_rate": (0.0, "Every caption keeps the trigger word.", "presets#captions"),
    },
    "concept": {
        "caption_dropout_rate": (0.0, "Every caption keeps the trigger word.", "presets#captions"),
    },
    "object": {
        "caption_dropout_rate": (0.0, "Every caption keeps the trigger word.", "presets#captions"),
    },
}


def build_preset(key: str, training_type: str, family: str) -> Preset:
    if key not in PRESET_KEYS:
        raise ValueError(f"Unknown preset “{key}”: choose quick, standard or thorough.")
    if training_type not in TRAINING_TYPES:
        raise ValueError(f"Unknown training type “{training_type}”.")
    if family not in MODEL_FAMILIES:
        raise ValueError(f"Unknown model family “{family}”.")
    values: list[PresetValue] = []
    for table in (_FAMILY[family], _LEVEL[key], _TYPE[training_type]):
        values.extend(PresetValue(field, *entry) for field, entry in table.items())
    if _FAMILY[family]["cache_text_encoder_outputs"][0]:
        # A cached caption encoding cannot be dropped at random (sd-scripts refuses).
        values = [value for value in values if value.field != "caption_dropout_rate"]
        values.append(
            PresetValue(
                "caption_dropout_rate",
                0.0,
                "Caption dropout needs the text encoder at "
                "every step; here its outputs are cached to save memory.",
                "presets#captions",
            )
        )
    rate = _LEARNING_RATE[family][PRESET_KEYS.index(key)]
    rank = _LEVEL[key]["network_rank"][0]
    values += [
        PresetValue(
            "unet_lr",
            rate,
            "A gentler rate for the longer run."
            if key == "thorough"
            else "The usual AdamW rate for LoRA."
            if key == "standard"
            else "A brisk rate so a short run shows an effect.",
            "presets#learning-rate",
        ),
        PresetValue(
            "text_encoder_lr",
            rate / 2,
            "Text encoders learn at half the rate: they overfit faster.",
            "presets#learning-rate",
        ),
        PresetValue(
            "network_alpha",
            rank / 2,
            "Alpha = rank ÷ 2 halves the effective "
            "learning rate of the LoRA layers, a common, forgiving choice.",
            "presets#rank-and-alpha",
        ),
        PresetValue(
            "gradient_checkpointing",
            True,
            "Trades ~20% speed for far less memory.",
            "presets#memory",
        ),
        PresetValue(
            "cache_latents",
            True,
            "Encodes every image once instead of every step.",
            "presets#memory",
        ),
        PresetValue(
            "train_batch_size", 1, "Batch 1 fits every card; raise it on big GPUs.", "presets#batch"
        ),
        PresetValue(
            "lr_scheduler",
            "cosine",
            "Cosine decay ends the run at a low learning rate, which settles the weights.",
            "presets#learning-rate",
        ),
        PresetValue(
            "lr_warmup_steps", 0, "No warmup needed at these rates.", "presets#learning-rate"
        ),
        PresetValue(
            "shuffle_caption",
            False,
            "Shuffling suits tag captions only; turn it on "
            "with keep tokens ≥ 1 if you caption with tags.",
            "presets#captions",
        ),
        PresetValue("keep_tokens", 1, "The trigger word stays first.", "presets#captions"),
    ]
    if family != "flux":
        values.append(
            PresetValue(
                "min_snr_gamma",
                5.0,
                "Min-SNR γ = 5 speeds up convergence (Hang et al., 2023).",
                "presets#loss",
            )
        )
    return Preset(key, training_type, family, tuple(values))


def preset_config(
    key: str, training_type: str, family: str, output_name: str = ""
) -> TrainingConfig:
    return build_preset(key, training_type, family).config(output_name)
