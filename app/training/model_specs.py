"""What loragate needs to know about each model family to plan a run: the size of every
component, how many LoRA parameters one unit of rank adds, how the trainers bucket
images for it, and how much compute a training step costs.

Parameter counts and LoRA parameters per rank come from ``app/training/architectures.py``
(the published architectures, counted on PyTorch's ``meta`` device and checked by
``tests/training/test_architectures.py``); this module adds what planning needs on top:
bucket rules, forward FLOPs and activation memory. ``bench/model_numbers.py`` reproduces
the FLOPs figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.intent import MODEL_FAMILIES
from app.training.architectures import (
    COMPONENT_PARAMETERS,
    LORA_FEATURES_DENOISER,
    LORA_FEATURES_TEXT_ENCODERS,
)


@dataclass(frozen=True)
class Component:
    name: str  # plain words: "UNet", "text encoder (CLIP-L)"
    params: int


@dataclass(frozen=True)
class FamilySpec:
    key: str
    title: str
    native_resolution: int
    # What the model's latent grid needs of a bucket side (sd-scripts' own checks, which
    # ask 64 of Flux, are in app/training/backends/kohya.py BUCKET_STEP_MULTIPLE).
    bucket_step_multiple: int
    denoiser: Component
    text_encoders: tuple[Component, ...]
    vae: Component
    # LoRA parameters per unit of rank: Σ (in + out) over the layers LoRA targets.
    # Denoiser: every Linear / 1×1 conv inside the attention blocks (sd-scripts'
    # default LoRA-LierLa targets); Flux: every Linear in its transformer blocks.
    lora_per_rank_denoiser: int
    lora_per_rank_text: int  # self-attention and MLP of every text encoder LoRA trains
    # Forward FLOPs of one sample at the native resolution (TFLOPs), and how they grow
    # with the pixel count: flops ∝ pixels ** flops_exponent (fitted between half and
    # full native resolution; > 1 where attention's quadratic cost shows).
    forward_tflops: float
    flops_exponent: float
    # Activation memory kept for the backward pass, GB per megapixel per sample, with
    # and without gradient checkpointing (calibrated: app/docs/vram-calculator.md).
    activation_gb_per_mp: float
    activation_gb_per_mp_checkpointed: float
    flow_matching: bool = False  # Flux: min-SNR weighting does not apply


_P = COMPONENT_PARAMETERS
_VAE = Component("VAE (image encoder)", _P["sd15"]["vae"])
_CLIP_L = Component("text encoder (CLIP ViT-L)", _P["sd15"]["text_encoder"])

FAMILY_SPECS: dict[str, FamilySpec] = {
    spec.key: spec
    for spec in (
        FamilySpec(
            key="sd15",
            title=MODEL_FAMILIES["sd15"].title,
            native_resolution=MODEL_FAMILIES["sd15"].resolution,
            bucket_step_multiple=64,
            denoiser=Component("UNet", _P["sd15"]["unet"]),
            text_encoders=(_CLIP_L,),
            vae=_VAE,
            lora_per_rank_denoiser=LORA_FEATURES_DENOISER["sd15"],
            lora_per_rank_text=LORA_FEATURES_TEXT_ENCODERS["sd15"],
            forward_tflops=0.803,
            flops_exponent=1.08,
            activation_gb_per_mp=14.0,
            activation_gb_per_mp_checkpointed=3.4,
        ),
        FamilySpec(
            key="sd2",
            title=MODEL_FAMILIES["sd2"].title,
            native_resolution=MODEL_FAMILIES["sd2"].resolution,
            bucket_step_multiple=64,
            denoiser=Component("UNet", _P["sd2"]["unet"]),
            text_encoders=(Component("text encoder (OpenCLIP ViT-H)", _P["sd2"]["text_encoder"]),),
            vae=_VAE,
            lora_per_rank_denoiser=LORA_FEATURES_DENOISER["sd2"],
            lora_per_rank_text=LORA_FEATURES_TEXT_ENCODERS["sd2"],
            forward_tflops=2.149,
            flops_exponent=1.08,
            activation_gb_per_mp=14.0,
            activation_gb_per_mp_checkpointed=3.4,
        ),
        FamilySpec(
            key="sdxl",
            title=MODEL_FAMILIES["sdxl"].title,
            native_resolution=MODEL_FAMILIES["sdxl"].resolution,
            bucket_step_multiple=32,
            denoiser=Component("UNet", _P["sdxl"]["unet"]),
            text_encoders=(
                _CLIP_L,
                Component("text encoder 2 (OpenCLIP ViT-bigG)", _P["sdxl"]["text_encoder_2"]),
            ),
            vae=_VAE,
            lora_per_rank_denoiser=LORA_FEATURES_DENOISER["sdxl"],
            lora_per_rank_text=LORA_FEATURES_TEXT_ENCODERS["sdxl"],
            forward_tflops=6.761,
            flops_exponent=1.045,
            activation_gb_per_mp=11.0,
            activation_gb_per_mp_checkpointed=2.0,
        ),
        FamilySpec(
            key="flux",
            title=MODEL_FAMILIES["flux"].title,
            native_resolution=MODEL_FAMILIES["flux"].resolution,
            bucket_step_multiple=32,
            denoiser=Component("transformer", _P["flux"]["transformer"]),
            text_encoders=(
                _CLIP_L,
                Component("text encoder 2 (T5-XXL)", _P["flux"]["text_encoder_2"]),
            ),
            vae=Component("autoencoder", _P["flux"]["vae"]),
            lora_per_rank_denoiser=LORA_FEATURES_DENOISER["flux"],
            lora_per_rank_text=LORA_FEATURES_TEXT_ENCODERS["flux"],
            forward_tflops=74.38,
            flops_exponent=0.895,
            activation_gb_per_mp=24.0,
            activation_gb_per_mp_checkpointed=3.5,
            flow_matching=True,
        ),
    )
}


def family_spec(family: str) -> FamilySpec:
    try:
        return FAMILY_SPECS[family]
    except KeyError:
        raise ValueError(
            f"Unknown model family “{family}”: loragate knows {', '.join(FAMILY_SPECS)}."
        ) from None
