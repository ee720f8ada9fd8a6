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
    # These are for a memory-efficient attention kernel (PyTorch SDPA or xformers), which
    # every current trainer uses; eager attention adds ``eager_attention_gb`` below.
    activation_gb_per_mp: float
    activation_gb_per_mp_checkpointed: float
    # Eager attention keeps every self-attention's probabilities (heads × tokens², 2 bytes,
    # plus the fp32 softmax output diffusers upcasts to) for the backward pass: GB per
    # image at the native size, growing with tokens², i.e. pixels². With checkpointing
    # only the layer being recomputed holds them. Counted from the architectures:
    # Σ over self-attention layers of heads × tokens² × 4 bytes.
    eager_attention_gb: float = 0.0
    eager_attention_gb_checkpointed: float = 0.0
    # With gradient checkpointing, each image after the first in a batch (GB per MP);
    # None: the same as the first.
    activation_gb_per_extra_mp_checkpointed: float | None = None
    # Block swap (sd-scripts --blocks_to_swap): parameters moved off the GPU per block.
    swap_block_params: float = 0.0
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
            activation_gb_per_mp=6.3,
            activation_gb_per_mp_checkpointed=3.4,
            # 64² latent tokens at 512 px: 5 self-attentions × 8 heads × 4096² × 4 B
            # (2.7 GB) + the 32² level (0.2 GB); one 4096² layer with checkpointing.
            eager_attention_gb=2.85,
            eager_attention_gb_checkpointed=0.54,
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
            activation_gb_per_mp=6.3,
            activation_gb_per_mp_checkpointed=3.4,
            # 96² tokens at 768 px: 5 layers × 5 heads × 9216² × 4 B + the 48² level.
            eager_attention_gb=9.6,
            eager_attention_gb_checkpointed=1.7,
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
            # Each further 1024² image with checkpointing costs about twice the first's
            # share: the recomputed blocks' activations and their gradients are held for
            # the whole batch at once (app/docs/vram-calculator.md#activations).
            activation_gb_per_extra_mp_checkpointed=4.0,
            # 64² tokens: 10 layers × 10 heads × 4096² × 4 B (6.7 GB); 32² tokens: 60
            # layers × 20 heads × 1024² × 4 B (5.0 GB).
            eager_attention_gb=11.7,
            eager_attention_gb_checkpointed=0.67,
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
            # 4096 image + 512 text tokens: 57 blocks × 24 heads × 4608² × 4 B.
            eager_attention_gb=116.0,
            eager_attention_gb_checkpointed=2.0,
            # sd-scripts swaps n // 2 double blocks (340 M parameters each) and the rest as
            # pairs of single blocks (142 M each): about 311 M parameters per block.
            swap_block_params=311e6,
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
