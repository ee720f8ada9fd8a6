"""Sample images during training, from the configured prompts, with the model as it is
at that step: the base pipeline's own inference scheduler, classifier-free guidance,
a fixed seed per prompt (so the samples of different steps compare like for like).
The run's random streams are left untouched, so sampling never changes training.

A prompt line may carry sd-scripts' options (``--w``, ``--h``, ``--s``, ``--l``,
``--d``, ``--n``): loragate writes the same lines to kohya, where they are honoured, so
they mean the same here. A line that cannot be drawn (a width that is not a multiple of
8, an option without its value) stops the run naming that line: the dry run finds it in
a minute instead of at the first sample hours in.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from app.fsutil import atomic_write_bytes
from app.training.native.errors import TrainingError, first_line, is_out_of_memory
from app.training.native.models import BaseModel
from app.training.native.precision import Precision
from app.training.native.text import TextEncoding

GUIDANCE_SCALE = 7.0
# sd-scripts' prompt options (library/train_util.py sample_images): width, height,
# steps, guidance scale, seed, negative prompt.
OPTIONS = {"w": "width", "h": "height", "s": "steps", "l": "guidance", "d": "seed", "n": "negative"}


@dataclass(frozen=True)
class PromptLine:
    prompt: str
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int | None = None
    negative: str = ""


def prompt_texts(lines: list[str]) -> set[str]:
    """The texts the sample prompts encode (prompts and negatives), for the text cache; a
    line that cannot be read is left to the sampler, which names it."""
    texts = set()
    for line in lines:
        try:
            parsed = parse_prompt_line(line)
        except ValueError:
            continue
        texts |= {parsed.prompt, parsed.negative}
    return texts


def parse_prompt_line(line: str) -> PromptLine:
    """A prompt line as sd-scripts reads it: the text, then `` --x value`` options.
    Raises ValueError naming an option whose value is missing or not a number."""
    text, *options = line.split(" --")
    values: dict[str, object] = {}
    for option in options:
        key, _, value = option.strip().partition(" ")
        name = OPTIONS.get(key)
        if name is None:
            continue  # sd-scripts ignores options it does not know too
        value = value.strip()
        if name == "negative":
            values[name] = value
            continue
        try:
            values[name] = float(value) if name == "guidance" else int(value)
        except ValueError:
            raise ValueError(f"the option --{key} needs a number, not “{value}”") from None
    return PromptLine(text.strip(), **values)  # type: ignore[arg-type]


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
    for index, line in enumerate(prompts):
        try:
            made.append(
                _sample(model, text, precision, line, index, step, folder, seed, steps, resolution)
            )
        except Exception as exc:
            if is_out_of_memory(exc):
                raise
            raise TrainingError(
                "bad_config",
                f"Sample prompt {index + 1} (“{line}”) cannot be drawn: {first_line(exc)}. "
                "Fix or remove that line of the sample prompts.",
                {"sample_prompt": line, "sample_index": index},
            ) from exc
    return made


def _sample(
    model: BaseModel,
    text: TextEncoding,
    precision: Precision,
    line: str,
    index: int,
    step: int,
    folder: Path,
    seed: int,
    steps: int,
    resolution: int,
) -> SampleImage:
    parsed = parse_prompt_line(line)
    prompt = parsed.prompt
    devices = [precision.device.index or 0] if precision.cuda else []
    negative = text.batch([parsed.negative])
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
    generator = torch.Generator().manual_seed(
        parsed.seed if parsed.seed is not None else seed + index
    )
    with torch.random.fork_rng(devices=devices), precision.autocast():
        latents = model.pipeline(
            num_inference_steps=parsed.steps or steps,
            guidance_scale=parsed.guidance if parsed.guidance is not None else GUIDANCE_SCALE,
            height=parsed.height or resolution,
            width=parsed.width or resolution,
            generator=generator,
            output_type="latent",
            **kwargs,
        ).images
    image = _decode(model, latents)
    path = folder / f"step-{step:08d}-{index:02d}.png"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return SampleImage(index, prompt, path)


@torch.no_grad()
def _decode(model: BaseModel, latents: torch.Tensor) -> Image.Image:
    # Outside autocast, in float32: SDXL's VAE overflows in fp16 and draws black images.
    vae = model.vae
    decoded = vae.decode(latents.to(torch.float32) / vae.config.scaling_factor).sample
    return model.pipeline.image_processor.postprocess(decoded, output_type="pil")[0]
