"""Tiny SD 1.5- and SDXL-shaped pipelines, their single-file checkpoints, and small
kohya-layout datasets, built locally for tests and benchmarks (no hub, no downloads).

Shapes follow FIELD-FACTS "Tiny models": latents are /8 like SD (a 4-block VAE),
the UNet has two blocks of one layer, text encoders are 2-layer CLIPs over the real
CLIP vocabulary (``app.clip_tokenizer``). SDXL's two text encoders have different
widths (32 and 64), as the real ones do (768 and 1280): diffusers' single-file loader
tells them apart by that width.
"""

from __future__ import annotations

import json
import random
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
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

from app.training.native.models import write_tokenizer
from tests.ldm_layout import (
    SD15_TEXT_PREFIX,
    SDXL_TEXT1_PREFIX,
    SDXL_TEXT2_PREFIX,
    clip_to_ldm,
    open_clip_to_ldm,
    unet_to_ldm,
    vae_to_ldm,
)

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
