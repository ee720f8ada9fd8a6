"""An image as the VAE takes it: EXIF-rotated, RGB (transparency over white), resized
to cover its bucket, centre-cropped to it, scaled to [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps

from app.training.native.dataset import Sample
from app.training.native.errors import TrainingError


def load_pixels(sample: Sample) -> tuple[torch.Tensor, tuple[int, int]]:
    """(C×H×W tensor in [-1, 1], (crop_top, crop_left)) for the sample's bucket."""
    try:
        with Image.open(sample.path) as opened:
            image = ImageOps.exif_transpose(opened)
            image = _to_rgb(image)
    except OSError as exc:
        raise TrainingError(
            "missing_file", f"The training image {sample.relative} cannot be read: {exc}."
        ) from exc
    if image.size != sample.placement.resized:
        image = image.resize(sample.placement.resized, Image.Resampling.LANCZOS)
    top, left = crop_top_left(sample)
    bucket_w, bucket_h = sample.bucket
    image = image.crop((left, top, left + bucket_w, top + bucket_h))
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous(), (top, left)


def crop_top_left(sample: Sample) -> tuple[int, int]:
    """Where the centre crop starts in the resized image (SDXL conditions on it)."""
    resized_w, resized_h = sample.placement.resized
    bucket_w, bucket_h = sample.bucket
    return (resized_h - bucket_h) // 2, (resized_w - bucket_w) // 2


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
