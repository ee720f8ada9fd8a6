"""How long a LoRA training step takes on a CPU, per model family: what an artist
without a GPU is told a run would cost in time.

Measured with ``bench/cpu_step_time.py`` on loragate's 2-core development machine
(torch 2.13 CPU build): SD 1.5 for real (real-size UNet and text encoder, random
weights, rank-16 LoRA, 512 px, batch 1, gradient checkpointing, AdamW: 21.6 s a step);
the other families are that time scaled by their denoiser's forward FLOPs at native
resolution (SD 2.x 2.15, SDXL 6.76, Flux 74.4 TFLOP against SD 1.5's 0.80), counted on
the published architectures. A desktop CPU with more cores is a few times faster; a
GPU is hundreds of times faster, which is the point of the message.
"""

from __future__ import annotations

CPU_SECONDS_PER_STEP: dict[str, float] = {
    "sd15": 22.0,
    "sd2": 58.0,
    "sdxl": 182.0,
    "flux": 2000.0,
}
MEASURED_ON = "a 2-core test machine"


def cpu_seconds(family: str, steps: int, batch: int = 1) -> float | None:
    per_step = CPU_SECONDS_PER_STEP.get(family)
    if per_step is None:
        return None
    # A larger batch costs about proportionally more compute per step on a CPU.
    return per_step * steps * max(1, batch)


def human_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:.0f} days"
