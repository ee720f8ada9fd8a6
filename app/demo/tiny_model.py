"""A tiny randomly initialised SD-1.5- (or SDXL-) shaped diffusers pipeline, built
locally: the demo's base model and the tests' and benchmarks' (no hub, no downloads).

Its weights are random, so what it draws is noise: it exists to show loragate's whole
pipeline working on a CPU in minutes, never to make a picture. Shapes follow
FIELD-FACTS "Tiny models": latents are /8 like SD (a 4-block VAE), the UNet has two
blocks of one layer, text encoders are 2-layer CLIPs over the real CLIP vocabulary
(``app.clip_tokenizer``). SDXL's two text encoders have different widths (32 and 64), as
the real ones do (768 and 1280): diffusers' single-file loader tells them apart by that
width.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

from app.training.native.models import write_tokenizer

TINY_RESOLUTION = 64  # pixels; latents 8×8
SCHEDULER_ARGS = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
}


def _tiny_vae() -> AutoencoderKL:
    torch.manual_seed(1)
    return AutoencoderKL(
        block_out_channels=(8, 8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=TINY_RESOLUTION,
    )


def _text_config(hidden: int, projection: int, act: str) -> CLIPTextConfig:
    return CLIPTextConfig(
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=49408,
        max_position_embeddings=77,
        projection_dim=projection,
        hidden_act=act,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )


def _tokenizer(folder: Path, pad: str | None = None) -> CLIPTokenizer:
    # The real CLIP vocabulary; pad "!" gives SDXL's second (OpenCLIP bigG) tokenizer.
    return CLIPTokenizer.from_pretrained(write_tokenizer(folder, pad_token=pad))


# Two blocks of one layer: the smallest UNet with a down, a mid and an up path.
TINY_UNET = {
    "sample_size": TINY_RESOLUTION // 8,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (32, 64),
    "layers_per_block": 1,
}


def build_tiny_sd15(target: Path, prediction_type: str = "epsilon") -> Path:
    """A randomly initialised SD-1.5-shaped diffusers folder at ``target``."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        **TINY_UNET,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
    )
    torch.manual_seed(2)
    text_encoder = CLIPTextModel(_text_config(32, 32, "quick_gelu"))
    pipeline = StableDiffusionPipeline(
        vae=_tiny_vae(),
        text_encoder=text_encoder,
        tokenizer=_tokenizer(target / "_tokenizer"),
        unet=unet,
        scheduler=PNDMScheduler(
            **SCHEDULER_ARGS,
            skip_prk_steps=True,
            set_alpha_to_one=False,
            prediction_type=prediction_type,
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(target)
    shutil.rmtree(target / "_tokenizer")
    return target


def build_tiny_sdxl(
    target: Path,
    *,
    width: int = 32,
    heads: tuple[int, int] = (2, 4),
    transformer_layers: tuple[int, int] = (1, 2),
    text_widths: tuple[int, int] = (32, 64),
    pooled_dim: int = 32,
    time_embed_dim: int = 8,
) -> Path:
    """A randomly initialised SDXL-shaped diffusers folder at ``target`` (tiny by
    default; bench/native_memory.py widens it so the weights outweigh the libraries)."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        **(TINY_UNET | {"block_out_channels": (width, 2 * width)}),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=transformer_layers,
        attention_head_dim=heads,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_embed_dim,
        projection_class_embeddings_input_dim=6 * time_embed_dim + pooled_dim,
        cross_attention_dim=sum(text_widths),
    )
    torch.manual_seed(2)
    text_encoder = CLIPTextModel(_text_config(text_widths[0], text_widths[0], "quick_gelu"))
    torch.manual_seed(3)
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(text_widths[1], pooled_dim, "gelu"))
    pipeline = StableDiffusionXLPipeline(
        vae=_tiny_vae(),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=_tokenizer(target / "_tokenizer"),
        tokenizer_2=_tokenizer(target / "_tokenizer_2", pad="!"),
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SCHEDULER_ARGS, timestep_spacing="leading"),
    )
    pipeline.save_pretrained(target)
    shutil.rmtree(target / "_tokenizer")
    shutil.rmtree(target / "_tokenizer_2")
    return target
