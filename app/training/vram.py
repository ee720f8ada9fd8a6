"""A model-aware estimate of the GPU memory a LoRA run needs, per GPU, as a sum of parts:

- weights of every component that stays on the GPU, in the dtype it runs in (text
  encoders leave the GPU when their outputs are cached, the VAE when latents are);
- the LoRA's own weights and gradients (fp32, as trainers keep trainable parameters);
- optimizer states by optimizer: AdamW two fp32 states, AdamW8bit two 8-bit states,
  Lion one, Prodigy four, Adafactor a factored second moment (about 1/rank of AdamW's);
- activations kept for the backward pass, growing with pixels × batch, much smaller
  with gradient checkpointing; encoding images with the VAE when latents are not
  cached can be the larger of the two;
- the CUDA context, cuBLAS workspace and allocator slack.

The method and the published measurements it is held to (±20%) are in
resources/vram-calculator.md; ``PUBLISHED_MEASUREMENTS`` is that table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.training.config import Optimizer, Precision, TrainingConfig
from app.training.model_specs import family_spec

GB = 1024**3
CUDA_OVERHEAD_GB = 0.8
TEXT_ENCODER_ACTIVATION_GB = 0.1  # per trained text encoder and sample, 77 tokens
VAE_ENCODE_GB_PER_MP = 2.5  # per sample, fp16/bf16 encoder activations
BYTES_PER_WEIGHT = {"no": 4, "fp16": 2, "bf16": 2}
TRAINABLE_BYTES = 4  # LoRA weights are kept in fp32 and so are their gradients


def optimizer_state_bytes(optimizer: Optimizer, rank: int) -> float:
    """Bytes of optimizer state per trainable parameter."""
    if optimizer == "adamw":
        return 8.0  # exp_avg + exp_avg_sq in fp32
    if optimizer == "adamw8bit":
        return 2.0  # both states quantised to 8 bits (bitsandbytes)
    if optimizer == "lion":
        return 4.0  # momentum only
    if optimizer == "prodigy":
        return 16.0  # exp_avg, exp_avg_sq, s and the initial weights p0
    # Adafactor (no momentum): a row and a column vector per (rank × n) matrix.
    return 4.0 / max(rank, 1)


@dataclass(frozen=True)
class VramInputs:
    family: str
    resolution: int
    batch_size: int = 1
    rank: int = 16
    optimizer: Optimizer = "adamw"
    precision: Precision = "bf16"
    gradient_checkpointing: bool = True
    train_text_encoder: bool = False
    cache_latents: bool = True
    cache_text_encoder_outputs: bool = False

    @classmethod
    def from_config(cls, config: TrainingConfig, family: str) -> VramInputs:
        return cls(
            family=family,
            resolution=config.resolution,
            batch_size=config.train_batch_size,
            rank=config.network_rank,
            optimizer=config.optimizer,
            precision=config.mixed_precision,
            gradient_checkpointing=config.gradient_checkpointing,
            train_text_encoder=config.train_text_encoder,
            cache_latents=config.cache_latents,
            cache_text_encoder_outputs=config.cache_text_encoder_outputs,
        )


@dataclass(frozen=True)
class VramEstimate:
    total_gb: float
    breakdown: dict[str, float]  # part → GB, in display order
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "total_gb": round(self.total_gb, 2),
            "breakdown": {part: round(gb, 2) for part, gb in self.breakdown.items()},
            "notes": self.notes,
        }


def estimate_vram(inputs: VramInputs) -> VramEstimate:
    spec = family_spec(inputs.family)
    weight_bytes = BYTES_PER_WEIGHT[inputs.precision]
    megapixels = inputs.resolution**2 / 1e6
    notes: list[str] = []

    model_gb = spec.denoiser.params * weight_bytes / GB
    text_on_gpu = inputs.train_text_encoder or not inputs.cache_text_encoder_outputs
    text_gb = (
        sum(te.params for te in spec.text_encoders) * weight_bytes / GB if text_on_gpu else 0.0
    )
    if not text_on_gpu:
        notes.append("Text encoders leave the GPU once their outputs are cached.")
    vae_gb = 0.0 if inputs.cache_latents else spec.vae.params * weight_bytes / GB
    if inputs.cache_latents:
        notes.append("The VAE leaves the GPU once latents are cached.")

    lora_params = spec.lora_per_rank_denoiser * inputs.rank
    if inputs.train_text_encoder:
        lora_params += spec.lora_per_rank_text * inputs.rank
    lora_gb = lora_params * TRAINABLE_BYTES / GB
    gradients_gb = lora_params * TRAINABLE_BYTES / GB
    optimizer_gb = lora_params * optimizer_state_bytes(inputs.optimizer, inputs.rank) / GB

    per_mp = (
        spec.activation_gb_per_mp_checkpointed
        if inputs.gradient_checkpointing
        else spec.activation_gb_per_mp
    )
    activations_gb = per_mp * megapixels * inputs.batch_size
    if inputs.train_text_encoder:
        activations_gb += TEXT_ENCODER_ACTIVATION_GB * len(spec.text_encoders) * inputs.batch_size
    if not inputs.cache_latents:
        # Encoding happens before the denoiser's forward pass; the peak is the larger one.
        activations_gb = max(activations_gb, VAE_ENCODE_GB_PER_MP * megapixels * inputs.batch_size)

    breakdown = {
        spec.denoiser.name: model_gb,
        "text encoders": text_gb,
        "VAE": vae_gb,
        "LoRA weights": lora_gb,
        "gradients": gradients_gb,
        "optimizer states": optimizer_gb,
        "activations": activations_gb,
        "CUDA overhead": CUDA_OVERHEAD_GB,
    }
    return VramEstimate(total_gb=sum(breakdown.values()), breakdown=breakdown, notes=notes)


def estimate_for_config(config: TrainingConfig, family: str) -> VramEstimate:
    return estimate_vram(VramInputs.from_config(config, family))


# --- The published figures the estimate is held to (tests: ±20%) --------------------

Kind = Literal["measured", "fits"]


@dataclass(frozen=True)
class PublishedMeasurement:
    label: str
    inputs: VramInputs
    gb: float
    kind: Kind  # "measured": a reading; "fits": the memory the source says the run needs
    source: str  # where the number is, exactly
    settings_note: str  # which settings the source states and which loragate assumed


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
)

# Upper bounds a source states ("less than N GB"): the estimate must stay below them.
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
        kind="fits",
        source="https://github.com/huggingface/diffusers/blob/0c693ca2/examples/dreambooth/"
        "README_sdxl.md (“Dog toy example with < 16GB VRAM”)",
        settings_note="States: gradient checkpointing, 8-bit Adam, fp16, 1024 px, batch 1; "
        "text embeddings precomputed. Assumed: the script's default rank 4.",
    ),
)
