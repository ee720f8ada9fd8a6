"""The denoising objective: noise the latents at random timesteps and score the UNet's
prediction of the noise (epsilon) or of the velocity (v-prediction, Salimans & Ho
2022, "Progressive Distillation", arXiv:2202.00512).

- Noise offset (Guttenberg 2023, "Diffusion with Offset Noise") adds a per-channel
  constant to the noise so the model learns to shift overall brightness.
- Min-SNR weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR
  Weighting Strategy", arXiv:2303.09556) caps the weight of low-noise timesteps at
  ``gamma / SNR``; for v-prediction the weight is ``min(SNR, gamma) / (SNR + 1)``.

All random draws come from one generator on the CPU, whose state the checkpoint keeps,
so the same run draws the same noise on any device and after a resume.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler


def draw_noise(
    latents: torch.Tensor, generator: torch.Generator, noise_offset: float, timesteps_count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    batch, channels = latents.shape[:2]
    noise = torch.randn(latents.shape, generator=generator)
    if noise_offset:
        noise = noise + noise_offset * torch.randn((batch, channels, 1, 1), generator=generator)
    timesteps = torch.randint(0, timesteps_count, (batch,), generator=generator)
    return noise.to(latents.device), timesteps.to(latents.device)


def snr(scheduler: DDPMScheduler, timesteps: torch.Tensor) -> torch.Tensor:
    alphas_cumprod = scheduler.alphas_cumprod.to(timesteps.device)[timesteps].float()
    return alphas_cumprod / (1.0 - alphas_cumprod)


def diffusion_loss(
    prediction: torch.Tensor,
    latents: torch.Tensor,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
    scheduler: DDPMScheduler,
    prediction_type: str,
    min_snr_gamma: float | None,
) -> torch.Tensor:
    if prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    else:
        target = noise
    per_sample = F.mse_loss(prediction.float(), target.float(), reduction="none")
    per_sample = per_sample.mean(dim=list(range(1, per_sample.ndim)))
    if min_snr_gamma:
        ratio = snr(scheduler, timesteps)
        capped = torch.clamp(ratio, max=min_snr_gamma)
        weight = capped / (ratio + 1) if prediction_type == "v_prediction" else capped / ratio
        per_sample = per_sample * weight
    return per_sample.mean()
