"""Quick / Standard / Thorough starting points for every training type × model family.

A preset is a set of values, each with the reason it was chosen and the section of
app/docs/presets.md that backs it. The artist starts from one and may change anything;
app/training/project_config.py journals both the preset and every later change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.intent import MODEL_FAMILIES, TRAINING_TYPES
from app.training.config import Device, TrainingConfig

PRESET_KEYS = ("quick", "standard", "thorough")
PRESET_TITLES = {"quick": "Quick", "standard": "Standard", "thorough": "Thorough"}
PRESET_SUMMARIES = {
    "quick": "A first look in the least GPU time: each image seen the fewest times Gate 2 "
    "accepts, a smaller rank. Good to check the dataset and captions work before paying "
    "for a full run.",
    "standard": "What most LoRAs of this kind are trained with: the values the backends' "
    "own guides start from.",
    "thorough": "Each image seen more often at a gentler learning rate and a larger rank, "
    "for large or varied datasets. Saves often so you can pick the best checkpoint.",
}
# Times each image is seen over the run (epochs × repeats), per training type:
# (quick, standard, thorough). Each lies inside Gate 2's range for the type
# (app/gates/config_rules.py VIEWS_PER_IMAGE; app/docs/presets.md#length), so a preset
# never trips its own gate's length check; epochs are worked out from the project's
# repeats, which loragate's import leaves at 1 and kohya folders set (10_name: 10).
VIEWS_PER_IMAGE = {
    "style": (20, 50, 100),
    "character": (40, 100, 150),
    "concept": (30, 80, 120),
    "object": (40, 100, 150),
}
# Checkpoints saved over the run: (quick, standard, thorough).
CHECKPOINTS = (3, 10, 10)


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
            "adamw",
            "Plain AdamW needs no extra package and runs on a CPU too; for a LoRA its "
            "states are small (8-bit AdamW would save about 0.2 GB here).",
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
            "sd-scripts requires 64 for Flux (its base check runs before Flux's own 32).",
            "presets#buckets",
        ),
        "mixed_precision": ("bf16", "Flux's weights are published in bf16.", "presets#precision"),
        "optimizer": (
            "adamw",
            "Plain AdamW needs no extra package; the LoRA's optimizer states are under "
            "1 GB of Flux's ~27 GB, so 8-bit AdamW (bitsandbytes) saves little.",
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
        "network_rank": (
            8,
            "A small rank learns the broad strokes fast and cheaply.",
            "presets#rank-and-alpha",
        ),
    },
    "standard": {
        "network_rank": (
            16,
            "Enough capacity for a character, style or object.",
            "presets#rank-and-alpha",
        ),
    },
    "thorough": {
        "network_rank": (
            32,
            "More capacity for detail; needs more images to fill.",
            "presets#rank-and-alpha",
        ),
    },
}
_LENGTH_WHY = {
    "quick": "Enough to see whether the LoRA learns the right thing",
    "standard": "The length most LoRAs of this kind train for",
    "thorough": "Longer, at a gentler rate, for large or varied datasets",
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


def _length(key: str, training_type: str, repeats: float) -> list[PresetValue]:
    """Epochs that show each image the level's number of times with these repeats, and
    checkpoints spread over them."""
    level = PRESET_KEYS.index(key)
    views = VIEWS_PER_IMAGE[training_type][level]
    epochs = max(1, math.ceil(views / repeats - 1e-9))
    every = max(1, round(epochs / CHECKPOINTS[level]))
    seen = f"{repeats:.3g} repeat{'' if repeats == 1 else 's'} per epoch"
    return [
        PresetValue(
            "epochs",
            epochs,
            f"{_LENGTH_WHY[key]}: each image seen about {views} times ({seen}).",
            "presets#length",
        ),
        PresetValue(
            "save_every_n_epochs",
            every,
            f"About {CHECKPOINTS[level]} checkpoints over the run, to pick the best one "
            "(often not the last).",
            "presets#saving",
        ),
    ]


def _device(device: Device) -> PresetValue:
    if device == "cpu":
        why = (
            "No NVIDIA GPU was found on this machine and none is named in studio.md: the "
            "run trains on the CPU (slow; set cuda when training on a GPU)."
        )
    else:
        why = "An NVIDIA GPU is on this machine or named in studio.md."
    return PresetValue("device", device, why, "presets#device")


def build_preset(
    key: str,
    training_type: str,
    family: str,
    *,
    repeats: float = 1.0,
    device: Device = "cuda",
) -> Preset:
    """The preset for this type and family. ``repeats`` is the dataset's average number of
    times an image appears in one epoch (1 for loragate's own import), so the epochs give
    each image the level's number of views; ``device`` is the machine's
    (app/training/machine.py)."""
    if key not in PRESET_KEYS:
        raise ValueError(f"Unknown preset “{key}”: choose quick, standard or thorough.")
    if training_type not in TRAINING_TYPES:
        raise ValueError(f"Unknown training type “{training_type}”.")
    if family not in MODEL_FAMILIES:
        raise ValueError(f"Unknown model family “{family}”.")
    if not repeats > 0:
        raise ValueError("Repeats must be above zero.")
    values: list[PresetValue] = []
    for table in (_FAMILY[family], _LEVEL[key], _TYPE[training_type]):
        values.extend(PresetValue(field, *entry) for field, entry in table.items())
    values += _length(key, training_type, repeats)
    values.append(_device(device))
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
    key: str,
    training_type: str,
    family: str,
    output_name: str = "",
    *,
    repeats: float = 1.0,
    device: Device = "cuda",
) -> TrainingConfig:
    return build_preset(key, training_type, family, repeats=repeats, device=device).config(
        output_name
    )
