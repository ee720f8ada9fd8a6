"""The published GPU-memory figures the estimate in app/training/vram.py is held to.

Two tables, kept apart on purpose:

- ``PUBLISHED_MEASUREMENTS`` (and ``PUBLISHED_UPPER_BOUNDS``): the figures the activation
  constants in app/training/model_specs.py were set against. Holding the estimator to
  them (±20%) only shows the constants were fitted.
- ``HELD_OUT``: independent figures found later and never used to set a constant. They
  test the model. Where the estimate misses one, the row says so and why
  (``known_miss``), and app/docs/vram-calculator.md prints the error.

Each row names its source exactly (repository, path and commit, or issue) with the
sentence the number comes from, and which settings the source states and which were
assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from app.training.vram import VramInputs

_KOHYA_FLUX_GUIDE = (
    "https://github.com/kohya-ss/sd-scripts/blob/a125c10852bfd9d44fa4e7e3aa46662d2e0a610f/"
    "docs/flux_train_network.md (6.1, “Recommended Settings by GPU Memory”, with --fp8_base)"
)
_KOHYA_FLUX_NOTE = (
    "States: --fp8_base, the GPU memory, batch size, blocks swapped and (12 GB) 8-bit "
    "AdamW. Assumed: the guide's example command in section 4 (network_dim 16, AdamW8bit, "
    "fp16, gradient checkpointing, text-encoder outputs and latents cached) at 1024 px."
)
# sd-scripts' example Flux command with --fp8_base, batch 1 unless a row says otherwise.
_KOHYA_FLUX = VramInputs(
    family="flux",
    resolution=1024,
    batch_size=1,
    rank=16,
    optimizer="adamw8bit",
    precision="fp16",
    gradient_checkpointing=True,
    cache_latents=True,
    cache_text_encoder_outputs=True,
    quantize_base="fp8",
)
_SIMPLETUNER_FLUX_QUANTISED = (
    "https://github.com/bghira/SimpleTuner/blob/0496be2d92af170dcd9901ece9b355bb0c52456b/"
    "documentation/quickstart/FLUX.md (“Hardware requirements”)"
)
# The Hugging Face QLoRA post: FLUX.1-dev transformer LoRA rank 4, 8-bit AdamW,
# checkpointing, latents and text embeddings cached, 512×768 (≈ 627² pixels), batch 1.
_HF_FLUX_QLORA = VramInputs(
    family="flux",
    resolution=627,
    batch_size=1,
    rank=4,
    optimizer="adamw8bit",
    precision="bf16",
    gradient_checkpointing=True,
    cache_latents=True,
    cache_text_encoder_outputs=True,
    quantize_base="nf4",
)

# "measured": a reading; "fits": the memory the source says the run needs (held ±20%);
# "barely_fits": the source says the run only just fits a card of that size (±20%);
# "fits_under": the run fits a card of that size, nothing said about how closely, so
# the figure is only an upper bound.
Kind = Literal["measured", "fits", "barely_fits", "fits_under"]


@dataclass(frozen=True)
class PublishedMeasurement:
    label: str
    inputs: VramInputs
    gb: float
    kind: Kind
    source: str  # where the number is, exactly
    settings_note: str  # which settings the source states and which loragate assumed
    quote: str = ""  # the sentence the number comes from, as written (held-out rows)
    known_miss: str = ""  # held-out rows the estimate misses: why, in plain words

    def error(self, estimate_gb: float) -> float:
        """The estimate's error against this figure, as a fraction (+0.1 = 10% over)."""
        return (estimate_gb - self.gb) / self.gb

    def holds(self, estimate_gb: float) -> bool:
        if self.kind == "fits_under":
            return estimate_gb <= self.gb
        return abs(self.error(estimate_gb)) <= 0.2


PUBLISHED_MEASUREMENTS: tuple[PublishedMeasurement, ...] = (
    PublishedMeasurement(
        label="SD 1.5 LoRA with gradient checkpointing (kohya_ss GUI)",
        inputs=VramInputs(
            family="sd15",
            resolution=512,
            batch_size=1,
            rank=8,
            optimizer="adamw8bit",
            precision="fp16",
            gradient_checkpointing=True,
            train_text_encoder=True,
            cache_latents=True,
        ),
        gb=4.0,
        kind="measured",
        source="https://github.com/bmaltais/kohya_ss/issues/2474 (comment by samuelkurt, "
        "2024-06-03: “only takes up about 4 Gigs of VRAM”)",
        settings_note="States: LoRA, gradient checkpointing on, a 5 GB card. Assumed: the "
        "kohya_ss GUI defaults of that time (512 px, batch 1, rank 8, AdamW8bit, fp16, "
        "latents cached, text encoder trained).",
    ),
    PublishedMeasurement(
        label="SDXL LoRA, U-Net only, everything cached, Adafactor",
        inputs=VramInputs(
            family="sdxl",
            resolution=1024,
            batch_size=1,
            rank=8,
            optimizer="adafactor",
            precision="bf16",
            gradient_checkpointing=True,
            train_text_encoder=False,
            cache_latents=True,
            cache_text_encoder_outputs=True,
        ),
        gb=8.0,
        kind="fits",
        source="https://github.com/kohya-ss/sd-scripts/blob/9d855091/README.md "
        "(lines 84–89: “The LoRA training can be done with 8GB GPU memory (10GB "
        "recommended)”)",
        settings_note="States: U-Net only, gradient checkpointing, text-encoder outputs "
        "and latents cached, Adafactor, dim 8 for 8 GB. Assumed: 1024 px, batch 1.",
    ),
    PublishedMeasurement(
        label="Flux.1 LoRA rank 16, all layers, bf16 base (SimpleTuner)",
        inputs=VramInputs(
            family="flux",
            resolution=1024,
            batch_size=1,
            rank=16,
            optimizer="adamw",
            precision="bf16",
            gradient_checkpointing=True,
            train_text_encoder=False,
            cache_latents=True,
            cache_text_encoder_outputs=True,
        ),
        gb=30.0,
        kind="measured",
        source="https://github.com/bghira/SimpleTuner/blob/bc8e6ab7/documentation/"
        "quickstart/FLUX.md (“Hardware requirements”: “a bit more than 30G VRAM when not "
        "quantising the base model”)",
        settings_note="States: rank-16 LoRA on every component, base model not quantised. "
        "Assumed: the quickstart's settings (batch 1, gradient checkpointing, adamw_bf16, "
        "1024 px, text embeds and latents cached as SimpleTuner always does).",
    ),
    PublishedMeasurement(
        label="Flux.1 LoRA rank 16, diffusers example (no caching, no checkpointing)",
        inputs=VramInputs(
            family="flux",
            resolution=512,
            batch_size=1,
            rank=16,
            optimizer="prodigy",
            precision="bf16",
            gradient_checkpointing=False,
            train_text_encoder=False,
            cache_latents=False,
            cache_text_encoder_outputs=False,
        ),
        gb=40.0,
        kind="fits",
        source="https://github.com/huggingface/diffusers/blob/12ea4470/examples/dreambooth/"
        "README_flux.md (“a LoRA with a rank of 16 (w/ all components trained) can exceed "
        "40GB of VRAM for training”)",
        settings_note="States: rank 16, all components. Assumed: the README's LoRA command "
        "(512 px, batch 1, Prodigy, bf16, no gradient checkpointing, text encoders and VAE "
        "on the GPU).",
    ),
    PublishedMeasurement(
        label="SD 1.5 LoRA, batch 2, no gradient checkpointing (kohya_ss GUI guide)",
        inputs=VramInputs(
            family="sd15",
            resolution=512,
            batch_size=2,
            rank=8,
            optimizer="adamw8bit",
            precision="fp16",
            gradient_checkpointing=False,
            train_text_encoder=True,
            cache_latents=True,
        ),
        gb=6.0,
        kind="barely_fits",
        source="https://github.com/bmaltais/kohya_ss/blob/"
        "45088f04af78e11cec5407ff4652ea3ed2c14422/docs/LoRA/options.md (line 87, "
        '"Train batch size")',
        quote="With 6GB of VRAM, a batch size of 2 would be barely possible.",
        settings_note="Set the SD 1.x activation figure with a memory-efficient attention kernel (it was held out until issue 14). States: batch size 2, 6 GB. Assumed: the defaults the same guide "
        "gives for every other option (512 px, rank 8, AdamW8bit, latents cached, gradient "
        "checkpointing off, text encoder trained) and fp16, which it recommends.",
    ),
)

# Upper bounds a source states ("less than N GB"), checked alongside the fitted rows: the
# estimate must stay below them.
PUBLISHED_UPPER_BOUNDS: tuple[PublishedMeasurement, ...] = (
    PublishedMeasurement(
        label="SDXL LoRA under 16 GB (diffusers DreamBooth example)",
        inputs=VramInputs(
            family="sdxl",
            resolution=1024,
            batch_size=1,
            rank=4,
            optimizer="adamw8bit",
            precision="fp16",
            gradient_checkpointing=True,
            train_text_encoder=False,
            cache_latents=False,
            cache_text_encoder_outputs=True,
        ),
        gb=16.0,
        kind="fits_under",
        source="https://github.com/huggingface/diffusers/blob/0c693ca2/examples/dreambooth/"
        "README_sdxl.md (“Dog toy example with < 16GB VRAM”)",
        settings_note="States: gradient checkpointing, 8-bit Adam, fp16, 1024 px, batch 1; "
        "text embeddings precomputed. Assumed: the script's default rank 4.",
    ),
)


# SimpleTuner's defaults at 072b9280 (January 2024), batch 1 assumed.
_SIMPLETUNER_SDXL = VramInputs(
    family="sdxl",
    resolution=1024,
    batch_size=1,
    rank=4,
    optimizer="adamw8bit",
    precision="bf16",
    gradient_checkpointing=True,
    train_text_encoder=False,
    cache_latents=True,
    cache_text_encoder_outputs=True,
)

# OneTrainer's "#sdxl 1.0 LoRA" preset (batch 4, 1024 px, text encoders frozen, fp16
# weights) on its defaults: rank 16, AdamW, fp16 training dtype, gradient checkpointing
# on (not CPU-offloaded), latents cached, so text encoders and VAE leave the GPU.
_ONETRAINER_SDXL = VramInputs(
    family="sdxl",
    resolution=1024,
    batch_size=4,
    rank=16,
    optimizer="adamw",
    precision="fp16",
    gradient_checkpointing=True,
    train_text_encoder=False,
    cache_latents=True,
    cache_text_encoder_outputs=True,
)
_ONETRAINER_PRESET = (
    "training_presets/#sdxl 1.0 LoRA.json and the defaults in modules/util/config/TrainConfig.py"
)
_ONETRAINER_MISS = (
    "Both OneTrainer readings leave less for the SDXL activations with checkpointing "
    "than loragate counts (2.0 GB per megapixel for the first image, 4.0 for each "
    "further one, set against sd-scripts' 8 GB sentence)"
)

# Held out: found after the constants were set and never used to set one. The kohya
# sd-scripts, kohya_ss and diffusers documents were read at the commits named; SimpleTuner
# at the commit whose README made the claim.
HELD_OUT: tuple[PublishedMeasurement, ...] = (
    PublishedMeasurement(
        label="SD 1.x LoRA, the sd-scripts example command (2022)",
        inputs=VramInputs(
            family="sd15",
            resolution=512,
            batch_size=1,
            rank=4,
            optimizer="adamw8bit",
            precision="fp16",
            gradient_checkpointing=True,
            train_text_encoder=True,
            cache_latents=True,
        ),
        gb=8.0,
        kind="barely_fits",
        source="https://github.com/kohya-ss/sd-scripts/blob/"
        "48d368fa557731ad0488c07304dfeba8c07910eb/docs/train_network_README-ja.md (line 11; "
        'line 485: "2022/12/25時点では…8GBぎりぎりになりました")',
        quote="8GB VRAMでもぎりぎり動作するようです。(It seems to run, just barely, even "
        "with 8 GB of VRAM.)",
        settings_note="States: the example command (AdamW8bit, fp16, latents cached, "
        "gradient checkpointing, xformers) and network_dim 4 when omitted; LoRA on the text "
        "encoder and the U-Net by default. Assumed: 512 px and batch 1, the defaults.",
        known_miss="loragate estimates about 55% less. The sentence dates from December "
        "2022 (PyTorch 1.12/1.13, before PyTorch's own memory-efficient attention), and the "
        "fitted 2024 reading for nearly the same settings (kohya_ss#2474, about 4 GB) agrees "
        "with loragate, not with it. No set of constants meets both within 20%. This is the "
        "unsafe direction, which is why the dry run's measured peak replaces the estimate "
        "as soon as there is one.",
    ),
    PublishedMeasurement(
        label="SD 1.5 LoRA on an 11 GB card, diffusers example (no 8-bit optimizer)",
        inputs=VramInputs(
            family="sd15",
            resolution=512,
            batch_size=1,
            rank=4,
            optimizer="adamw",
            precision="fp16",
            gradient_checkpointing=False,
            train_text_encoder=False,
            cache_latents=False,
            cache_text_encoder_outputs=False,
        ),
        gb=11.0,
        kind="fits_under",
        source="https://github.com/huggingface/diffusers/blob/"
        "58eb52c0803ea9af3abec60841c2a093bdf1f951/docs/source/en/training/lora.md (line 155)",
        quote="A full training run takes ~5 hours on a 2080 Ti GPU with 11GB of VRAM.",
        settings_note="States: the command below it (512 px, batch 1, gradient "
        "accumulation 4, fp16, AdamW, no gradient checkpointing) and the script's default "
        "rank 4; train_text_to_image_lora.py keeps the VAE and text encoder on the GPU and "
        "encodes latents every step.",
    ),
    PublishedMeasurement(
        label="SDXL LoRA under 16 GB (SimpleTuner README, January 2024)",
        inputs=_SIMPLETUNER_SDXL,
        gb=16.0,
        kind="fits_under",
        source="https://github.com/bghira/SimpleTuner/blob/"
        "072b9280a442e2f7a8f0621004df2a91207d2a02/README.md (line 44)",
        quote="LoRA training for SDXL and SD 2.x that uses less than 16G VRAM.",
        settings_note="States: latents and text-encoder outputs precomputed (lines 41-42). "
        "Assumed: that commit's defaults (rank 4 and bf16 in helpers/arguments.py; 8-bit "
        "AdamW and gradient checkpointing in sdxl-env.sh.example; 1024 px) and batch 1.",
    ),
    PublishedMeasurement(
        label="SD 2.x LoRA under 16 GB (SimpleTuner README, January 2024)",
        inputs=replace(_SIMPLETUNER_SDXL, family="sd2", resolution=768),
        gb=16.0,
        kind="fits_under",
        source="https://github.com/bghira/SimpleTuner/blob/"
        "072b9280a442e2f7a8f0621004df2a91207d2a02/README.md (line 44)",
        quote="LoRA training for SDXL and SD 2.x that uses less than 16G VRAM.",
        settings_note="As the SDXL row, at SD 2.x's native 768 px.",
    ),
    # Added with issue 14 (8-bit and 4-bit base weights, block swap): none of these
    # set a constant; the byte counts and block sizes come from the formats and the
    # architecture.
    PublishedMeasurement(
        label="Flux.1 LoRA, fp8 base, batch 2 on 24 GB (sd-scripts guide)",
        inputs=replace(_KOHYA_FLUX, batch_size=2),
        gb=24.0,
        kind="fits",
        source=_KOHYA_FLUX_GUIDE,
        quote="24GB VRAM | Basic settings work fine (batch size 2)",
        settings_note=_KOHYA_FLUX_NOTE,
    ),
    PublishedMeasurement(
        label="Flux.1 LoRA, fp8 base, 16 blocks swapped on 12 GB (sd-scripts guide)",
        inputs=replace(_KOHYA_FLUX, blocks_to_swap=16),
        gb=12.0,
        kind="fits",
        source=_KOHYA_FLUX_GUIDE,
        quote="12GB VRAM | Use `--blocks_to_swap 16` and 8bit AdamW",
        settings_note=_KOHYA_FLUX_NOTE,
    ),
    PublishedMeasurement(
        label="Flux.1 LoRA, fp8 base, 22 blocks swapped on 10 GB (sd-scripts guide)",
        inputs=replace(_KOHYA_FLUX, blocks_to_swap=22),
        gb=10.0,
        kind="fits",
        source=_KOHYA_FLUX_GUIDE,
        quote="10GB VRAM | Use `--blocks_to_swap 22`, recommend fp8 format for T5XXL",
        settings_note=_KOHYA_FLUX_NOTE,
    ),
    PublishedMeasurement(
        label="Flux.1 LoRA, fp8 base, 28 blocks swapped on 8 GB (sd-scripts guide)",
        inputs=replace(_KOHYA_FLUX, blocks_to_swap=28),
        gb=8.0,
        kind="fits",
        source=_KOHYA_FLUX_GUIDE,
        quote="8GB VRAM | Use `--blocks_to_swap 28`, recommend fp8 format for T5XXL",
        settings_note=_KOHYA_FLUX_NOTE,
    ),
    PublishedMeasurement(
        label="Flux.1 LoRA rank 16, base quantised to int8 (SimpleTuner)",
        inputs=VramInputs(
            family="flux",
            resolution=1024,
            rank=16,
            optimizer="adamw",
            precision="bf16",
            gradient_checkpointing=True,
            cache_latents=True,
            cache_text_encoder_outputs=True,
            quantize_base="fp8",
        ),
        gb=18.0,
        kind="measured",
        source=_SIMPLETUNER_FLUX_QUANTISED,
        quote="a bit more than 18G VRAM when quantising to int8 + bf16 base/LoRA weights",
        settings_note="States: rank-16 LoRA on every component, int8 base (one byte a "
        "weight, as fp8). Assumed: the quickstart's settings, as the fitted 30 GB row.",
    ),
    PublishedMeasurement(
        label="Flux.1 LoRA rank 16, base quantised to NF4 (SimpleTuner)",
        inputs=VramInputs(
            family="flux",
            resolution=1024,
            rank=16,
            optimizer="adamw",
            precision="bf16",
            gradient_checkpointing=True,
            cache_latents=True,
            cache_text_encoder_outputs=True,
            quantize_base="nf4",
        ),
        gb=9.0,
        kind="measured",
        source=_SIMPLETUNER_FLUX_QUANTISED + " NF4",
        quote="a bit more than 9G VRAM when quantising to NF4 + bf16 base/LoRA weights",
        settings_note="As the int8 row, with NF4 weights.",
        known_miss="loragate estimates about a quarter more. The same list gives 13 GB "
        "for int4, which stores weights in the same half byte as NF4, so the 9 GB reading "
        "differs from its neighbour by more than the format explains. On the safe side.",
    ),
    PublishedMeasurement(
        label="Flux.1 QLoRA (NF4) on an RTX 4090 (Hugging Face blog)",
        inputs=_HF_FLUX_QLORA,
        gb=9.0,
        kind="measured",
        source="https://huggingface.co/blog/flux-qlora (June 2025)",
        quote="QLoRA peaks at about 9 GB of VRAM on an RTX 4090",
        settings_note="States: transformer-only LoRA rank 4, NF4 base (bitsandbytes), "
        "8-bit AdamW, gradient checkpointing, latents cached, 512×768, batch 1. Assumed: "
        "text embeddings precomputed as the post's script does.",
    ),
    PublishedMeasurement(
        label="Flux.1 LoRA, bf16 base, same run (Hugging Face blog)",
        inputs=replace(_HF_FLUX_QLORA, quantize_base="none"),
        gb=26.0,
        kind="measured",
        source="https://huggingface.co/blog/flux-qlora (June 2025) bf16",
        quote="standard BF16 LoRA uses about 26 GB",
        settings_note="As the QLoRA row, the base model in bf16.",
    ),
    # Added for issue 14's review: the SDXL per-extra-image term with checkpointing, and
    # 8-bit SDXL weights, against readings none of the constants was set from.
    PublishedMeasurement(
        label="SDXL LoRA, batch 4, OneTrainer's default preset (fp16 weights)",
        inputs=_ONETRAINER_SDXL,
        gb=8.0,
        kind="measured",
        source="https://github.com/Nerogar/OneTrainer/issues/776 (description by "
        "mcmanus82, 2025-04-08)",
        quote="Start training, VRAM usage is ~8GB with default fp16 model weight data type",
        settings_note="States: the default #SDXL 1.0 LoRA preset, an SDXL model, fp16 "
        "weights. The preset at 4e3c151e (the last commit before the report; "
        + _ONETRAINER_PRESET
        + ") sets batch 4, 1024 px and frozen text encoders; the defaults add rank 16, "
        "AdamW, fp16 training, gradient checkpointing on and latents cached. Assumed: "
        "images trained at 1024 px, SDPA, and “~8GB” as 8 GB.",
        known_miss="loragate estimates about 160% more than the reading, on the "
        "safe side. "
        + _ONETRAINER_MISS
        + ": this one leaves about 1.8 GB for four 1024² images. OneTrainer's "
        "default LoRA covers every linear and convolution layer, more than loragate "
        "counts, which would only raise the estimate. One approximate reading from a bug report.",
    ),
    PublishedMeasurement(
        label="SDXL LoRA, fp8 weights, batch 1, OneTrainer (October 2024)",
        inputs=replace(_ONETRAINER_SDXL, batch_size=1, quantize_base="fp8", attention="xformers"),
        gb=4.9,
        kind="measured",
        source="https://github.com/Nerogar/OneTrainer/issues/934 (description by "
        "Mitrandin, 2025-07-31)",
        quote="In this older version of OT, training with a standard SDXL 1.0 LoRA config "
        "(with only minimal necessary changes: FP8 model weights, fallback train dtype "
        "FP32, batch size 1, no sampling, image size 1024 px) consumed only 4.9 GB of VRAM.",
        settings_note="States: OneTrainer at 475dc51c, the standard SDXL 1.0 LoRA "
        "config with fp8 weights, batch 1, 1024 px, no sampling, on an RTX 2060 (6 GB). "
        "Assumed: the rest from that commit's "
        + _ONETRAINER_PRESET
        + " (rank 16, AdamW, fp16 training, gradient checkpointing on, latents cached, "
        "text encoders frozen and off the GPU, xformers).",
        known_miss="loragate estimates about a fifth more, on the safe side. "
        + _ONETRAINER_MISS
        + ": this one leaves about 1.1 GB for one 1024² image.",
    ),
    PublishedMeasurement(
        label="SDXL LoRA, batch 4 with checkpointing, on 24 GB (invoke-training)",
        inputs=VramInputs(
            family="sdxl",
            resolution=1024,
            batch_size=4,
            rank=4,
            optimizer="adamw",
            precision="bf16",
            gradient_checkpointing=True,
            train_text_encoder=True,
            cache_latents=True,
            cache_text_encoder_outputs=False,
            full_bf16=True,
        ),
        gb=24.0,
        kind="fits_under",
        source="https://github.com/invoke-ai/invoke-training/blob/"
        "99c673d0e453e1b5cfb2ed38959572867ed3ed22/src/invoke_training/sample_configs/"
        "sdxl_lora_baroque_1x24gb.yaml (line 4)",
        quote="# GPU:           1 x 24GB",
        settings_note="States: the config below it (1024 px buckets, batch 4, AdamW, "
        "bfloat16 weights, gradient checkpointing, VAE outputs cached). Assumed: the "
        "SDXL LoRA config's defaults in pipelines/stable_diffusion_xl/lora/config.py "
        "(rank 4, both text encoders trained, so on the GPU; mixed precision off, which "
        "there casts the LoRA weights to bfloat16 too; xformers off, so PyTorch SDPA).",
    ),
)
