"""Where and in what precision the run computes.

On CUDA with fp16 or bf16 the frozen base weights are stored in that type and the
forward pass runs under autocast, while the LoRA weights and the optimizer stay in
float32; fp16 also scales the loss (GradScaler) so small gradients do not underflow
to zero. The VAE always runs in float32: SDXL's VAE overflows in fp16. On the CPU
everything is float32.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from app.training.config import TrainingConfig
from app.training.native.events import log

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Precision:
    device: torch.device
    weight_dtype: torch.dtype
    scaler: torch.amp.GradScaler | None

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.weight_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.weight_dtype)


def choose_precision(config: TrainingConfig, local_rank: int = 0) -> Precision:
    if config.device == "cuda":
        device = torch.device("cuda", local_rank)
        dtype = DTYPES.get(config.mixed_precision, torch.float32)
        scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
        return Precision(device, dtype, scaler)
    if config.mixed_precision != "no":
        log(
            f"mixed precision {config.mixed_precision} applies to CUDA only; the CPU trains in float32"
        )
    return Precision(torch.device("cpu"), torch.float32, None)


def peak_vram_gb(precision: Precision) -> tuple[float | None, float | None]:
    """(peak allocated, total) in GiB on CUDA; (None, None) elsewhere."""
    if not precision.cuda:
        return None, None
    peak = torch.cuda.max_memory_allocated(precision.device) / 2**30
    total = torch.cuda.get_device_properties(precision.device).total_memory / 2**30
    return round(peak, 3), round(total, 3)


def reset_peak_vram(precision: Precision) -> None:
    """Forget the peak so far (loading the model, caching latents), so that the peak
    the steps report is what training itself needs."""
    if precision.cuda and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(precision.device)
