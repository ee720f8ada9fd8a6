"""How long one LoRA training step takes on this machine's CPU, per model family.

Gate 3 tells an artist whose config asks for a GPU on a machine without one how long
the run would take on the CPU instead. Its figures (``CPU_SECONDS_PER_STEP`` in
``app/environment/cpu_speed.py``) come from this script:

1. SD 1.5 is measured for real: the published UNet and CLIP text encoder, randomly
   initialised (no download), a rank-16 LoRA on kohya's target layers (peft), one
   training step at 512 px, batch 1, gradient checkpointing on (loragate's default),
   AdamW. The first step is a warm-up; the mean of the next ``--steps`` is reported.
2. SD 2.x, SDXL and Flux do not fit this machine's memory in fp32 (or take many
   minutes a step), so their figure is SD 1.5's time scaled by the ratio of their
   denoiser's forward FLOPs at native resolution, counted with
   ``torch.utils.flop_counter`` on the published architectures built on the meta
   device (no memory, no compute).

Run: ``.venv/bin/python bench/cpu_step_time.py [--steps 2] [--skip-measure]``.
Baseline: the table in ``app/environment/cpu_speed.py`` (measured on the 2-core
development machine); the script prints both side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch.utils.flop_counter import FlopCounterMode

from app.environment.cpu_speed import CPU_SECONDS_PER_STEP
from app.intent import MODEL_FAMILIES
from app.training.architectures import (
    CLIP_L,
    FLUX_TRANSFORMER_CONFIG,
    KOHYA_UNET_TARGETS,
    UNET_CONFIGS,
)


def denoiser_forward_flops(family: str) -> float:
    """FLOPs of one forward pass of the family's denoiser at its native resolution."""
    from diffusers import FluxTransformer2DModel, UNet2DConditionModel

    side = MODEL_FAMILIES[family].resolution // 8
    counter = FlopCounterMode(display=False)
    with torch.device("meta"):
        if family == "flux":
            model = FluxTransformer2DModel(**FLUX_TRANSFORMER_CONFIG)
            tokens = (side // 2) ** 2  # 2×2 patches of the 16-channel latent
            inputs = {
                "hidden_states": torch.randn(1, tokens, 64),
                "encoder_hidden_states": torch.randn(1, 512, 4096),
                "pooled_projections": torch.randn(1, 768),
                "timestep": torch.tensor([0.5]),
                "img_ids": torch.zeros(tokens, 3),
                "txt_ids": torch.zeros(512, 3),
                "guidance": torch.tensor([3.5]),
            }
            with counter:
                model(**inputs)
        else:
            config = UNET_CONFIGS[family]
            model = UNet2DConditionModel(**config)
            extra = {}
            if family == "sdxl":
                extra["added_cond_kwargs"] = {
                    "text_embeds": torch.randn(1, 1280),
                    "time_ids": torch.randn(1, 6),
                }
            with counter:
                model(
                    torch.randn(1, 4, side, side),
                    torch.tensor([500]),
                    torch.randn(1, 77, config["cross_attention_dim"]),
                    **extra,
                )
    return float(counter.get_total_flops())


def measure_sd15_step(steps: int) -> float:
    """Seconds per LoRA training step of real-size SD 1.5 on this CPU."""
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**UNET_CONFIGS["sd15"])
    text_encoder = CLIPTextModel(CLIPTextConfig(**CLIP_L)).eval()
    unet.requires_grad_(False)
    text_encoder.requires_grad_(False)
    unet.enable_gradient_checkpointing()
    unet = get_peft_model(
        unet, LoraConfig(r=16, lora_alpha=8, target_modules=list(KOHYA_UNET_TARGETS))
    )
    unet.train()
    trainable = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    latents = torch.randn(1, 4, 64, 64)
    token_ids = torch.randint(0, 49407, (1, 77))

    def step() -> None:
        with torch.no_grad():
            context = text_encoder(token_ids).last_hidden_state
        noise = torch.randn_like(latents)
        prediction = unet(latents + noise, torch.tensor([500]), context).sample
        loss = torch.nn.functional.mse_loss(prediction, noise)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up: allocator, first-touch of the weights
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument(
        "--skip-measure", action="store_true", help="only count FLOPs; use the baseline SD 1.5"
    )
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")

    flops = {family: denoiser_forward_flops(family) for family in MODEL_FAMILIES}
    for family, value in flops.items():
        print(f"{family:5} denoiser forward at native resolution: {value / 1e12:8.2f} TFLOP")

    if args.skip_measure:
        sd15 = CPU_SECONDS_PER_STEP["sd15"]
        print(f"sd15 step (baseline, not measured): {sd15:.1f} s")
    else:
        sd15 = measure_sd15_step(args.steps)
        print(f"sd15 step measured: {sd15:.1f} s (mean of {args.steps})")

    print(f"\n{'family':6} {'this machine':>14} {'baseline':>10}")
    for family, value in flops.items():
        estimate = sd15 * value / flops["sd15"]
        print(f"{family:6} {estimate:12.0f} s {CPU_SECONDS_PER_STEP[family]:8.0f} s")


if __name__ == "__main__":
    main()
