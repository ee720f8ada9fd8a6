"""The published architectures of the model families loragate trains for, reduced to the
numbers the estimators need: how many weights each part has (what loading costs in
memory) and how wide the layers a LoRA attaches to are (what a LoRA file weighs).

The numbers are tables, not computed at run time, because building the models needs
diffusers and transformers (seconds of imports). ``build_on_meta`` rebuilds every part
from the configs below on PyTorch's "meta" device (shapes only, no memory), and
``tests/training/test_architectures.py`` checks the tables against it.

Sources of the configs (each model's published ``config.json``):
- SD 1.5: ``runwayml/stable-diffusion-v1-5`` ``unet/``, ``text_encoder/`` (CLIP ViT-L/14).
- SD 2.x: ``stabilityai/stable-diffusion-2-1`` ``unet/``, ``text_encoder/`` (OpenCLIP
  ViT-H/14 text tower, 23 of its 24 layers).
- SDXL: ``stabilityai/stable-diffusion-xl-base-1.0`` ``unet/``, ``text_encoder/``
  (CLIP ViT-L/14), ``text_encoder_2/`` (OpenCLIP ViT-bigG/14).
- Flux.1: ``black-forest-labs/FLUX.1-dev`` ``transformer/``, ``text_encoder/`` (CLIP
  ViT-L/14), ``text_encoder_2/`` (T5 v1.1 XXL encoder), ``vae/`` (16 latent channels).

Which layers get a LoRA follows kohya sd-scripts (``networks/lora.py``): every
``Linear`` and 1×1 ``Conv2d`` inside the UNet's ``Transformer2DModel`` blocks, and the
``Linear`` layers of the text encoders' ``CLIPAttention`` / ``CLIPMLP``. For Flux
(``networks/lora_flux.py``) every ``Linear`` of the double- and single-stream blocks;
counted in diffusers' layout, where q, k and v are separate layers, which is about 11%
more than kohya's fused layout, so the estimate errs on the side of a larger file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Per family: parameters of each component (exact counts of the published configs).
COMPONENT_PARAMETERS: dict[str, dict[str, int]] = {
    "sd15": {"unet": 859_520_964, "text_encoder": 123_060_480, "vae": 83_653_863},
    "sd2": {"unet": 865_910_724, "text_encoder": 340_387_840, "vae": 83_653_863},
    "sdxl": {
        "unet": 2_567_463_684,
        "text_encoder": 123_060_480,
        "text_encoder_2": 694_659_840,
        "vae": 83_653_863,
    },
    "flux": {
        "transformer": 11_901_408_320,
        "text_encoder": 123_060_480,
        "text_encoder_2": 4_762_310_656,  # input embedding shared with the output, as loaded
        "vae": 83_819_683,
    },
}

# Per family: the sum of (input width + output width) over the layers a LoRA targets.
# A rank-r LoRA on a layer of widths (i, o) has r·i + r·o weights (the down and up
# matrices), so the LoRA's size is r times this sum.
LORA_FEATURES_DENOISER: dict[str, int] = {
    "sd15": 423_936,
    "sd2": 432_128,
    "sdxl": 2_659_840,
    "flux": 5_369_856,
}
LORA_FEATURES_TEXT_ENCODERS: dict[str, int] = {
    "sd15": 165_888,  # CLIP ViT-L/14: 12 layers × (4 × (768+768) + 2 × (768+3072))
    "sd2": 423_936,  # OpenCLIP ViT-H/14, 23 layers of width 1024
    "sdxl": 165_888 + 737_280,  # CLIP ViT-L/14 + OpenCLIP ViT-bigG/14 (32 layers × 1280)
    "flux": 165_888,  # CLIP ViT-L/14; T5 is not trained by default (train_t5xxl off)
}
# How many LoRA modules (each stores one alpha scalar and three keys in the file).
LORA_MODULES: dict[str, tuple[int, int]] = {
    "sd15": (192, 72),
    "sd2": (192, 138),
    "sdxl": (722, 72 + 192),
    "flux": (494, 72),
}
# Channels of the VAE's latent image (8× smaller per side than the picture).
LATENT_CHANNELS: dict[str, int] = {"sd15": 4, "sd2": 4, "sdxl": 4, "flux": 16}
# What a cached text-encoder output holds per caption: (tokens, width) of the sequence
# plus the pooled vector the model also reads.
TEXT_ENCODER_OUTPUT: dict[str, tuple[int, int, int]] = {
    "sd15": (77, 768, 0),
    "sd2": (77, 1024, 0),
    "sdxl": (77, 768 + 1280, 1280),
    "flux": (512, 4096, 768),
}


def total_parameters(family: str) -> int:
    return sum(COMPONENT_PARAMETERS[family].values())


# --- the published configs, for rebuilding on the meta device -----------------------


def _shipped(family: str, component: str) -> dict[str, Any]:
    """A component config the native trainer ships for single-file loading
    (app/training/model_configs/): one copy of each published config serves both."""
    path = Path(__file__).parent / "model_configs" / family / component / "config.json"
    return {k: v for k, v in json.loads(path.read_text("utf-8")).items() if not k.startswith("_")}


_SD15_UNET = _shipped("sd15", "unet")
UNET_CONFIGS: dict[str, dict[str, Any]] = {
    "sd15": _SD15_UNET,
    # SD 2.x is not shipped for loading (the native trainer does not train it); its
    # UNet differs from SD 1.5's only in these published values.
    "sd2": _SD15_UNET
    | {
        "sample_size": 96,
        "cross_attention_dim": 1024,
        "attention_head_dim": [5, 10, 20, 20],
        "use_linear_projection": True,
    },
    "sdxl": _shipped("sdxl", "unet"),
}
FLUX_TRANSFORMER_CONFIG: dict[str, Any] = {
    "patch_size": 1,
    "in_channels": 64,
    "num_layers": 19,
    "num_single_layers": 38,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "pooled_projection_dim": 768,
    "guidance_embeds": True,
}
CLIP_L: dict[str, Any] = _shipped("sd15", "text_encoder")
CLIP_H_SD2: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "hidden_act": "gelu",
    "projection_dim": 512,
}
CLIP_BIG_G: dict[str, Any] = _shipped("sdxl", "text_encoder_2")
T5_XXL: dict[str, Any] = {
    "d_model": 4096,
    "d_ff": 10240,
    "d_kv": 64,
    "num_heads": 64,
    "num_layers": 24,
    "vocab_size": 32128,
    "feed_forward_proj": "gated-gelu",
}
_SD_VAE = _shipped("sd15", "vae")
VAE_CONFIGS: dict[str, dict[str, Any]] = {
    "sd": _SD_VAE,
    "flux": _SD_VAE
    | {"latent_channels": 16, "use_quant_conv": False, "use_post_quant_conv": False},
}

# The same layers as peft target names (module-name suffixes in diffusers' and
# transformers' layouts), for attaching a kohya-equivalent LoRA with peft.
KOHYA_UNET_TARGETS = (
    "to_q",
    "to_k",
    "to_v",
    "to_out.0",
    "proj_in",
    "proj_out",
    "ff.net.0.proj",
    "ff.net.2",
)
KOHYA_TEXT_ENCODER_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")

DENOISER_LORA_BLOCKS = frozenset(
    {"Transformer2DModel", "FluxTransformerBlock", "FluxSingleTransformerBlock"}
)
TEXT_ENCODER_LORA_BLOCKS = frozenset({"CLIPAttention", "CLIPSdpaAttention", "CLIPMLP"})


@dataclass(frozen=True)
class LoraTargets:
    features: int  # sum of (in + out) widths
    modules: int


def lora_targets(root: Any, block_classes: frozenset[str]) -> LoraTargets:
    """What kohya's LoRA would attach to inside ``root`` (a torch module): every Linear
    and 1×1 Conv2d below a module whose class name is in ``block_classes``."""
    import torch

    features = modules = 0
    for module in root.modules():
        if module.__class__.__name__ not in block_classes:
            continue
        for child in module.modules():
            if isinstance(child, torch.nn.Linear):
                features += child.in_features + child.out_features
            elif isinstance(child, torch.nn.Conv2d) and child.kernel_size == (1, 1):
                features += child.in_channels + child.out_channels
            else:
                continue
            modules += 1
    return LoraTargets(features, modules)


def build_on_meta(family: str) -> dict[str, Any]:
    """Every component of ``family`` built from its published config on the meta device:
    real module trees with real shapes and no weights in memory."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        parts = _build(family)
    if family == "flux":
        # T5 shares one embedding between its input and ``shared``; loading ties them so
        # memory holds it once. Built empty they stay apart until tied, outside the
        # empty-weights context (inside it, tying registers a second meta tensor).
        parts["text_encoder_2"].tie_weights()
    return parts


def _build(family: str) -> dict[str, Any]:
    from diffusers import AutoencoderKL, FluxTransformer2DModel, UNet2DConditionModel
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        T5Config,
        T5EncoderModel,
    )

    if family == "flux":
        return {
            "transformer": FluxTransformer2DModel(**FLUX_TRANSFORMER_CONFIG),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**CLIP_L)),
            "text_encoder_2": T5EncoderModel(T5Config(**T5_XXL)),
            "vae": AutoencoderKL.from_config(VAE_CONFIGS["flux"]),
        }
    parts: dict[str, Any] = {"unet": UNet2DConditionModel.from_config(UNET_CONFIGS[family])}
    if family == "sd15":
        parts["text_encoder"] = CLIPTextModel(CLIPTextConfig(**CLIP_L))
    elif family == "sd2":
        parts["text_encoder"] = CLIPTextModel(CLIPTextConfig(**CLIP_H_SD2))
    else:
        parts["text_encoder"] = CLIPTextModel(CLIPTextConfig(**CLIP_L))
        parts["text_encoder_2"] = CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_BIG_G))
    parts["vae"] = AutoencoderKL.from_config(VAE_CONFIGS["sd"])
    return parts
