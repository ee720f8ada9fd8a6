"""How many images a LoRA of each kind needs, per model family: the floor below which
Gate 1 blocks and the range the sources recommend. ``app/docs/dataset-sizes.md`` gives
the sources behind every number (they disagree; the ranges take the middle ground)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SizeAdvice:
    floor: int  # fewer images than this: block
    low: int  # recommended range
    high: int


# Keyed by (training type, family); sd2 follows sd15. Flux learns from fewer images.
_ADVICE = {
    ("style", "sd15"): SizeAdvice(10, 30, 150),
    ("style", "sdxl"): SizeAdvice(10, 30, 150),
    ("style", "flux"): SizeAdvice(8, 15, 60),
    ("character", "sd15"): SizeAdvice(5, 15, 60),
    ("character", "sdxl"): SizeAdvice(5, 20, 100),
    ("character", "flux"): SizeAdvice(5, 10, 40),
    ("concept", "sd15"): SizeAdvice(10, 20, 100),
    ("concept", "sdxl"): SizeAdvice(10, 20, 100),
    ("concept", "flux"): SizeAdvice(8, 15, 50),
    ("object", "sd15"): SizeAdvice(5, 10, 40),
    ("object", "sdxl"): SizeAdvice(5, 10, 40),
    ("object", "flux"): SizeAdvice(5, 8, 30),
}


def size_advice(training_type: str, family: str) -> SizeAdvice:
    family = "sd15" if family == "sd2" else family
    return _ADVICE.get((training_type, family)) or _ADVICE[("character", "sdxl")]
