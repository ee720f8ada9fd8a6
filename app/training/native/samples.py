"""Sample images during training, from the configured prompts, with the model as it is
at that step: the base pipeline's own inference scheduler, classifier-free guidance,
a fixed seed per prompt (so the samples of different steps compare like for like).
The run's random streams are left untouched, so sampling never changes training."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from app.fsutil import atomic_write_bytes
from app.training.native.models import BaseModel
from app.training.native.precision import Precision
from app.training.native.text import TextEncoding

GUIDANCE_SCALE = 7.0


@dataclass(frozen=True)
class SampleImage:
    index: int
    prompt: str
    path: Path


def make_samples(
    model: BaseModel,
    text: TextEncoding,
    precision: Precision,
    prompts: list[str],
    step: int,
    folder: Path,
    seed: int,
    steps: int,
    resolution: int,
) -> list[SampleImage]:
    made = []
    negative = text.batch([""])
    devices = [precision.device.index or 0] if precision.cuda else []
    for index, prompt in enumerate(prompts):
        conditioning = text.batch([prompt])
        kwargs = {
            "prompt_embeds": conditioning.hidden,
            "negative_prompt_embeds": negative.hidden,
        }
        if model.is_sdxl:
            zero_negative = bool(model.pipeline.config.force_zeros_for_empty_prompt)
            kwargs |= {
                "pooled_prompt_embeds": conditioning.pooled,
                "negative_pooled_prompt_embeds": (
                    torch.zeros_like(negative.pooled) if zero_negative else negative.pooled
                ),
            }
            if zero_negative:
                kwargs["negative_prompt_embeds"] = torch.zeros_like(negative.hidden)
        generator = torch.Generator().manual_seed(seed + index)
        with torch.random.fork_rng(devices=devices), precision.autocast():
            latents = model.pipeline(
                num_inference_steps=steps,
                guidance_scale=GUIDANCE_SCALE,
                height=resolution,
                width=resolution,
                generator=generator,
                output_type="latent",
                **kwargs,
            ).images
        image = _decode(model, latents)
        path = folder / f"step-{step:08d}-{index:02d}.png"
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        atomic_write_bytes(path, buffer.getvalue())
        made.append(SampleImage(index, prompt, path))
    return made


@torch.no_grad()
def _decode(model: BaseModel, latents: torch.Tensor) -> Image.Image:
    # Outside autocast, in float32: SDXL's VAE overflows in fp16 and draws black images.
    vae = model.vae
    decoded = vae.decode(latents.to(torch.float32) / vae.config.scaling_factor).sample
    return model.pipeline.image_processor.postprocess(decoded, output_type="pil")[0]
