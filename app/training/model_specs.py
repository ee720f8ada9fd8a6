"""What loragate needs to know about each model family to plan a run: the size of every
component, how many LoRA parameters one unit of rank adds, how the trainers bucket
images for it, and how much compute a training step costs.

Parameter counts, LoRA parameters per rank and forward FLOPs were derived by building
each architecture from its published configuration on PyTorch's ``meta`` device (no
weights) and counting: ``bench/model_numbers.py`` reproduces every number here. The
parameter counts match the published ones (SD 1.5 UNet 859.5 M, SDXL UNet 2,567 M,
Flux.1 transformer 11,901 M, T5-XXL encoder 4,762 M).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.intent import MODEL_FAMILIES


@dataclass(frozen=True)
class Component:
    name: str  # plain words: "UNet", "text encoder (CLIP-L)"
    params: int


@dataclass(frozen=True)
class FamilySpec:
    key: str
    title: str
    native_resolution: int
    # sd-scripts refuses bucket steps that are not a multiple of this
    # (train_network.py verify_bucket_reso_steps(64); sdxl_/flux_train_network.py: 32).
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
    # and without gradient checkpointing (calibrated: resources/vram-calculator.md).
    activation_gb_per_mp: float
    activation_gb_per_mp_checkpointed: float
    flow_matching: bool = False  # Flux: min-SNR weighting does not apply


_VAE = Component("VAE (image encoder)", 83_653_863)
_CLIP_L = Component("text encoder (CLIP ViT-L)", 123_060_480)

FAMILY_SPECS: dict[str, FamilySpec] = {
    spec.key: spec
    for spec in (
        FamilySpec(
            key="sd15",
            title=MODEL_FAMILIES["sd15"].title,
            native_resolution=MODEL_FAMILIES["sd15"].resolution,
            bucket_step_multiple=64,
            denoiser=Component("UNet", 859_520_964),
            text_encoders=(_CLIP_L,),
            vae=_VAE,
            lora_per_rank_denoiser=423_936,
            lora_per_rank_text=165_888,
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
            denoiser=Component("UNet", 865_910_724),
            text_encoders=(Component("text encoder (OpenCLIP ViT-H)", 340_387_840),),
            vae=_VAE,
            lora_per_rank_denoiser=432_128,
            lora_per_rank_text=423_936,
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
            denoiser=Component("UNet", 2_567_463_684),
            text_encoders=(_CLIP_L, Component("text encoder 2 (OpenCLIP ViT-bigG)", 694_659_840)),
            vae=_VAE,
            lora_per_rank_denoiser=2_659_840,
            lora_per_rank_text=165_888 + 737_280,
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
            denoiser=Component("transformer", 11_901_408_320),
            text_encoders=(_CLIP_L, Component("text encoder 2 (T5-XXL)", 4_762_310_656)),
            vae=Component("autoencoder", 83_819_683),
            lora_per_rank_denoiser=5_369_856,
            lora_per_rank_text=165_888,
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
