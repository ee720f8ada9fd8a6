"""Tiny SD 1.5- and SDXL-shaped pipelines (built by ``app.demo.tiny_model``), their
single-file checkpoints, and small kohya-layout datasets, for tests and benchmarks (no
hub, no downloads)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from diffusers import AutoencoderKL, UNet2DConditionModel
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTextModelWithProjection

# The builders live in the app (the demo's base model is built with them); tests and
# benchmarks keep importing them from here.
from app.demo.tiny_model import (
    SCHEDULER_ARGS,
    TINY_RESOLUTION,
    TINY_UNET,
    build_tiny_sd15,
    build_tiny_sdxl,
)
from tests.ldm_layout import (
    SD15_TEXT_PREFIX,
    SDXL_TEXT1_PREFIX,
    SDXL_TEXT2_PREFIX,
    clip_to_ldm,
    open_clip_to_ldm,
    unet_to_ldm,
    vae_to_ldm,
)

__all__ = [
    "SCHEDULER_ARGS",
    "TINY_RESOLUTION",
    "TINY_UNET",
    "build_tiny_sd15",
    "build_tiny_sdxl",
    "export_config_dir",
    "export_single_file",
    "make_kohya_dataset",
]


def export_single_file(pipeline_dir: Path, target: Path) -> Path:
    """Write the pipeline at ``pipeline_dir`` as one ``.safetensors`` in the original
    LDM (SD 1.x) or sgm (SDXL) key layout: what an artist downloads."""
    index = json.loads((pipeline_dir / "model_index.json").read_text("utf-8"))
    unet = UNet2DConditionModel.from_pretrained(pipeline_dir / "unet")
    vae = AutoencoderKL.from_pretrained(pipeline_dir / "vae")
    tensors = unet_to_ldm(unet.state_dict(), unet.config.layers_per_block)
    tensors |= vae_to_ldm(vae.state_dict(), len(vae.config.up_block_types))
    if "text_encoder_2" in index:
        text_1 = CLIPTextModel.from_pretrained(pipeline_dir / "text_encoder")
        text_2 = CLIPTextModelWithProjection.from_pretrained(pipeline_dir / "text_encoder_2")
        tensors |= clip_to_ldm(text_1.state_dict(), SDXL_TEXT1_PREFIX)
        tensors |= open_clip_to_ldm(text_2.state_dict(), SDXL_TEXT2_PREFIX)
    else:
        text = CLIPTextModel.from_pretrained(pipeline_dir / "text_encoder")
        tensors |= clip_to_ldm(text.state_dict(), SD15_TEXT_PREFIX)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, target)
    return target


def export_config_dir(pipeline_dir: Path, target: Path) -> Path:
    """The pipeline's component configs and tokenizers without any weights: the
    ``config_dir`` a single-file checkpoint of this architecture is loaded with."""
    for path in pipeline_dir.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".txt"}:
            destination = target / path.relative_to(pipeline_dir)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    return target


def make_kohya_dataset(
    root: Path,
    trigger: str = "zkstyle",
    concepts: dict[str, tuple[int, list[tuple[int, int]]]] | None = None,
    seed: int = 0,
) -> Path:
    """A kohya layout under ``root``: ``{repeats}_{concept}/`` folders of PNGs with
    ``.txt`` captions "trigger, tag, tag". ``concepts`` maps a concept name to
    (repeats, image sizes); by default eight 64×64 images repeated twice."""
    concepts = concepts or {"ink": (2, [(TINY_RESOLUTION, TINY_RESOLUTION)] * 8)}
    rng = random.Random(seed)
    tags = ["brush", "paper", "mountain", "river", "moon", "tree", "bird", "mist"]
    for concept, (repeats, sizes) in concepts.items():
        folder = root / f"{repeats}_{concept}"
        folder.mkdir(parents=True, exist_ok=True)
        for index, (width, height) in enumerate(sizes):
            image = Image.new("RGB", (width, height), _colour(rng))
            draw = ImageDraw.Draw(image)
            for _ in range(4):
                x0, y0 = rng.randrange(width), rng.randrange(height)
                x1, y1 = (
                    x0 + rng.randrange(4, width // 2 + 5),
                    y0 + rng.randrange(4, height // 2 + 5),
                )
                draw.ellipse((x0, y0, x1, y1), fill=_colour(rng))
            stem = f"{concept}_{index:03d}"
            image.save(folder / f"{stem}.png")
            caption = ", ".join([trigger, *rng.sample(tags, 2)])
            (folder / f"{stem}.txt").write_text(caption + "\n", "utf-8")
    return root


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)
