"""Rented GPU classes the bundle's README estimates time and cost for. The speed comes
from app/training/estimates.py (its published measurements, scaled); the price per hour
is a typical on-demand price in USD for the class at community GPU clouds in 2025, an
assumption that ``--price-per-hour`` replaces with the artist's own provider's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RentalGpu:
    title: str  # what the provider lists; also matched by estimates.gpu_class
    vram_gb: float
    hourly_usd: float


RENTAL_GPUS: tuple[RentalGpu, ...] = (
    RentalGpu("RTX 4090 24 GB", 24.0, 0.69),
    RentalGpu("A100 80 GB", 80.0, 1.64),
    RentalGpu("H100 80 GB", 80.0, 2.99),
)
# Headroom kept free on the rented card: the VRAM estimate is an estimate.
VRAM_HEADROOM = 1.1


def rental_gpu(title: str) -> RentalGpu | None:
    wanted = title.strip().lower()
    return next((gpu for gpu in RENTAL_GPUS if gpu.title.lower() == wanted), None)


def smallest_fitting(vram_needed_gb: float) -> RentalGpu:
    """The cheapest listed class whose memory holds the estimate with headroom (the
    largest when none does: the README then says it will not fit)."""
    for gpu in sorted(RENTAL_GPUS, key=lambda g: g.hourly_usd):
        if gpu.vram_gb >= vram_needed_gb * VRAM_HEADROOM:
            return gpu
    return max(RENTAL_GPUS, key=lambda g: g.vram_gb)
