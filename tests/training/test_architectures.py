"""The per-family tables are the published architectures, counted: every component is
rebuilt from its config on the meta device (no weights, no download) and measured."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel
from peft import LoraConfig, inject_adapter_in_model
from transformers import CLIPTextConfig, CLIPTextModel

from app.training.architectures import (
    COMPONENT_PARAMETERS,
    DENOISER_LORA_BLOCKS,
    KOHYA_TEXT_ENCODER_TARGETS,
    KOHYA_UNET_TARGETS,
    LORA_FEATURES_DENOISER,
    LORA_FEATURES_TEXT_ENCODERS,
    LORA_MODULES,
    TEXT_ENCODER_LORA_BLOCKS,
    build_on_meta,
    lora_targets,
)
from app.training.outputs import lora_parameters


@pytest.mark.parametrize("family", ["sd15", "sd2", "sdxl", "flux"])
def test_tables_match_the_published_architectures(family: str) -> None:
    parts = build_on_meta(family)
    counted = {name: sum(p.numel() for p in module.parameters()) for name, module in parts.items()}
    assert counted == COMPONENT_PARAMETERS[family]
    denoiser = parts["transformer" if family == "flux" else "unet"]
    targets = lora_targets(denoiser, DENOISER_LORA_BLOCKS)
    assert targets.features == LORA_FEATURES_DENOISER[family]
    encoders = (
        ["text_encoder"]
        if family in ("sd15", "sd2", "flux")
        else ["text_encoder", "text_encoder_2"]
    )
    text = [lora_targets(parts[name], TEXT_ENCODER_LORA_BLOCKS) for name in encoders]
    assert sum(t.features for t in text) == LORA_FEATURES_TEXT_ENCODERS[family]
    assert (targets.modules, sum(t.modules for t in text)) == LORA_MODULES[family]


@pytest.mark.parametrize("linear_projection", [False, True])
def test_counting_agrees_with_a_real_lora_on_a_tiny_model(linear_projection: bool) -> None:
    """The exact parameter count of a LoRA attached by peft equals rank × the widths
    ``lora_targets`` sums: the method behind every table entry."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=16,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
        use_linear_projection=linear_projection,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            vocab_size=514,
        )
    )
    rank = 4
    expected = rank * (
        lora_targets(unet, DENOISER_LORA_BLOCKS).features
        + lora_targets(text, TEXT_ENCODER_LORA_BLOCKS).features
    )
    unet.requires_grad_(False)
    text.requires_grad_(False)
    inject_adapter_in_model(LoraConfig(r=rank, target_modules=list(KOHYA_UNET_TARGETS)), unet)
    inject_adapter_in_model(
        LoraConfig(r=rank, target_modules=list(KOHYA_TEXT_ENCODER_TARGETS)), text
    )
    trained = sum(
        p.numel()
        for model in (unet, text)
        for name, p in model.named_parameters()
        if "lora_" in name
    )
    assert trained == expected


def test_sd15_rank_32_with_text_encoder() -> None:
    # (423,936 UNet + 165,888 text-encoder widths) × 32: about 37.9 MB at 2 bytes a weight.
    assert lora_parameters("sd15", 32, True) == 18_874_368
