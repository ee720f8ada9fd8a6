"""VAE latents of the training images, encoded each step or cached on disk.

The cache is keyed by the image file's SHA-256, its bucket and resize, under a folder
per base model, so an edited image, a new bucket setting or another base model never
reuses a stale latent. Latents are the mean of the VAE's distribution (not a sample),
so a run with the cache and one without train on the same inputs (up to the float
rounding of encoding images one by one rather than a batch at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from app.fsutil import atomic_write_bytes
from app.training.native.dataset import Sample, file_digest
from app.training.native.events import log
from app.training.native.pixels import load_pixels


class Latents:
    def __init__(self, vae: torch.nn.Module, device: torch.device, cache_dir: Path | None) -> None:
        self.vae = vae
        self.device = device
        self.cache_dir = cache_dir
        self.scaling_factor = float(vae.config.scaling_factor)
        self._digests: dict[Path, str] = {}

    @property
    def cached(self) -> bool:
        return self.cache_dir is not None

    def fill_cache(self, samples: Sequence[Sample]) -> None:
        """Encode every image not in the cache yet, one bucket at a time."""
        if self.cache_dir is None:
            return
        missing = [s for s in samples if not self._cache_file(s).is_file()]
        if missing:
            log(f"caching latents of {len(missing)} image(s) in {self.cache_dir}")
        for sample in missing:
            latent = self._encode([sample])[0]
            atomic_write_bytes(self._cache_file(sample), save({"latent": latent.cpu()}))

    def batch(self, samples: Sequence[Sample]) -> torch.Tensor:
        """Latents (float32, on the device) for a batch of one bucket."""
        if self.cache_dir is None:
            return self._encode(samples)
        return torch.stack([self._load(s) for s in samples]).to(self.device)

    def _load(self, sample: Sample) -> torch.Tensor:
        path = self._cache_file(sample)
        try:
            return load_file(path)["latent"]
        except (OSError, SafetensorError, KeyError):
            # A cache file from a killed run: encode again rather than fail.
            latent = self._encode([sample])[0].cpu()
            atomic_write_bytes(path, save({"latent": latent}))
            return latent

    @torch.no_grad()
    def _encode(self, samples: Sequence[Sample]) -> torch.Tensor:
        pixels = torch.stack([load_pixels(s)[0] for s in samples])
        vae_dtype = next(self.vae.parameters()).dtype
        posterior = self.vae.encode(pixels.to(self.device, vae_dtype)).latent_dist
        return posterior.mode().float() * self.scaling_factor

    def _cache_file(self, sample: Sample) -> Path:
        assert self.cache_dir is not None
        digest = self._digests.get(sample.path)
        if digest is None:
            digest = self._digests[sample.path] = file_digest(sample.path)
        (bw, bh), (rw, rh) = sample.bucket, sample.placement.resized
        return self.cache_dir / f"{digest}_{bw}x{bh}_{rw}x{rh}.safetensors"
