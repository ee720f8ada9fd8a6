"""Re-derive the model facts in ``app/training/model_specs.py`` from the architectures'
published configurations, on PyTorch's ``meta`` device (no weights, no downloads), and
print them next to the numbers loragate uses.

    .venv/bin/python bench/model_numbers.py

Baseline: the constants in ``app/training/model_specs.py``; every line says whether the
derived figure matches. Takes about a minute on one CPU core (the Flux FLOP count).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import AutoencoderKL, FluxTransformer2DModel, UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    T5Config,
    T5EncoderModel,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.training.model_specs import FAMILY_SPECS

SD15 = {
    "sample_size": 64,
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
SD2 = SD15 | {
    "cross_attention_dim": 1024,
    "attention_head_dim": (5, 10, 20, 20),
    "use_linear_projection": True,
}
SDXL = {
    "sample_size": 128,
    "block_out_channels": (320, 640, 1280),
    "layers_per_block": 2,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "transformer_layers_per_block": (1, 2, 10),
    "cross_attention_dim": 2048,
    "attention_head_dim": (5, 10, 20),
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}
FLUX = {
    "in_channels": 64,
    "num_layers": 19,
    "num_single_layers": 38,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "pooled_projection_dim": 768,
    "guidance_embeds": True,
}


def params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def lora_per_rank(model: torch.nn.Module, wanted: Callable[[str], bool]) -> int:
    total = 0
    for name, module in model.named_modules():
        if not wanted(name):
            continue
        if isinstance(module, torch.nn.Linear):
            total += module.in_features + module.out_features
        elif isinstance(module, torch.nn.Conv2d) and module.kernel_size == (1, 1):
            total += module.in_channels + module.out_channels
    return total


def forward_tflops(run: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops() / 1e12


def unet_call(
    model: UNet2DConditionModel, side: int, context: int, xl: bool
) -> Callable[[], object]:
    extra = {"text_embeds": torch.randn(1, 1280), "time_ids": torch.randn(1, 6)} if xl else None

    def run() -> object:
        return model(
            torch.randn(1, 4, side, side),
            torch.tensor([1]),
            torch.randn(1, 77, context),
            added_cond_kwargs=extra,
        )

    return run


def flux_call(model: FluxTransformer2DModel, tokens: int) -> Callable[[], object]:
    def run() -> object:
        return model(
            hidden_states=torch.randn(1, tokens, 64),
            encoder_hidden_states=torch.randn(1, 512, 4096),
            pooled_projections=torch.randn(1, 768),
            timestep=torch.tensor([1.0]),
            img_ids=torch.randn(tokens, 3),
            txt_ids=torch.randn(512, 3),
            guidance=torch.tensor([1.0]),
        )

    return run


def report(name: str, derived: float, used: float, tolerance: float = 0.01) -> bool:
    ok = math.isclose(derived, used, rel_tol=tolerance)
    print(
        f"{name:45} derived {derived:>16,.3f}   loragate {used:>16,.3f}   {'ok' if ok else 'DIFFERS'}"
    )
    return ok


def main() -> int:
    with torch.device("meta"):
        unets = {
            "sd15": UNet2DConditionModel(**SD15),
            "sd2": UNet2DConditionModel(**SD2),
            "sdxl": UNet2DConditionModel(**SDXL),
        }
        flux = FluxTransformer2DModel(**FLUX)
        clip_l = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=768,
                intermediate_size=3072,
                num_hidden_layers=12,
                num_attention_heads=12,
            )
        )
        clip_h = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=1024,
                intermediate_size=4096,
                num_hidden_layers=23,
                num_attention_heads=16,
                hidden_act="gelu",
            )
        )
        clip_g = CLIPTextModelWithProjection(
            CLIPTextConfig(
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=20,
                projection_dim=1280,
                hidden_act="gelu",
            )
        )
        t5 = T5EncoderModel(
            T5Config(
                d_model=4096,
                d_ff=10240,
                num_layers=24,
                num_heads=64,
                d_kv=64,
                vocab_size=32128,
                feed_forward_proj="gated-gelu",
            )
        )
        vae_args = {
            "block_out_channels": (128, 256, 512, 512),
            "down_block_types": ("DownEncoderBlock2D",) * 4,
            "up_block_types": ("UpDecoderBlock2D",) * 4,
            "layers_per_block": 2,
        }
        vae = AutoencoderKL(**vae_args, latent_channels=4)
        flux_ae = AutoencoderKL(
            **vae_args, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False
        )

        in_attention = lambda name: ".attentions." in name  # noqa: E731
        text_layers = lambda name: "self_attn" in name or ".mlp." in name  # noqa: E731
        results = []
        for key, unet in unets.items():
            spec = FAMILY_SPECS[key]
            results.append(report(f"{key} UNet parameters", params(unet), spec.denoiser.params))
            results.append(
                report(
                    f"{key} LoRA params per rank (UNet)",
                    lora_per_rank(unet, in_attention),
                    spec.lora_per_rank_denoiser,
                )
            )
        flux_spec = FAMILY_SPECS["flux"]
        results.append(
            report("flux transformer parameters", params(flux), flux_spec.denoiser.params)
        )
        results.append(
            report(
                "flux LoRA params per rank (all block linears)",
                lora_per_rank(flux, lambda n: "transformer_blocks" in n),
                flux_spec.lora_per_rank_denoiser,
            )
        )
        results.append(
            report(
                "CLIP-L parameters", params(clip_l), FAMILY_SPECS["sd15"].text_encoders[0].params
            )
        )
        results.append(
            report(
                "OpenCLIP-H text parameters",
                params(clip_h),
                FAMILY_SPECS["sd2"].text_encoders[0].params,
            )
        )
        results.append(
            report(
                "OpenCLIP-bigG text parameters",
                params(clip_g),
                FAMILY_SPECS["sdxl"].text_encoders[1].params,
            )
        )
        results.append(
            report("T5-XXL encoder parameters", params(t5), flux_spec.text_encoders[1].params)
        )
        results.append(report("SD VAE parameters", params(vae), FAMILY_SPECS["sd15"].vae.params))
        results.append(report("Flux autoencoder parameters", params(flux_ae), flux_spec.vae.params))
        results.append(
            report(
                "SD1.5 text LoRA params per rank",
                lora_per_rank(clip_l, text_layers),
                FAMILY_SPECS["sd15"].lora_per_rank_text,
            )
        )
        results.append(
            report(
                "SDXL text LoRA params per rank",
                lora_per_rank(clip_l, text_layers) + lora_per_rank(clip_g, text_layers),
                FAMILY_SPECS["sdxl"].lora_per_rank_text,
            )
        )

        full = {
            "sd15": forward_tflops(unet_call(unets["sd15"], 64, 768, False)),
            "sd2": forward_tflops(unet_call(unets["sd2"], 96, 1024, False)),
            "sdxl": forward_tflops(unet_call(unets["sdxl"], 128, 2048, True)),
            "flux": forward_tflops(flux_call(flux, 4096)),
        }
        half = {
            "sd15": forward_tflops(unet_call(unets["sd15"], 32, 768, False)),
            "sdxl": forward_tflops(unet_call(unets["sdxl"], 64, 2048, True)),
            "flux": forward_tflops(flux_call(flux, 1024)),
        }
    for key, tflops in full.items():
        results.append(
            report(f"{key} forward TFLOPs at native size", tflops, FAMILY_SPECS[key].forward_tflops)
        )
    for key, tflops in half.items():
        exponent = math.log(full[key] / tflops) / math.log(4)
        results.append(
            report(
                f"{key} FLOPs exponent in pixels", exponent, FAMILY_SPECS[key].flops_exponent, 0.02
            )
        )
    print(f"\n{sum(results)} of {len(results)} figures match the baseline.")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
