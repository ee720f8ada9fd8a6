"""The effect and leak curves (eval-methodology.md "The two curves"): for each weight,
the mean absolute difference of the final latents from the base model's (weight 0) on
the same prompts and seeds. ``effect`` averages the rows whose prompt has the trigger,
``leak`` the rows without it.

They measure how far the LoRA moves the picture, not whether the picture is good: a
LoRA that turns everything to noise has a large effect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

TRIGGER_KINDS = ("caption", "new")
LEAK_KINDS = ("leak",)


@dataclass(frozen=True)
class Curves:
    weights: list[float]
    effect: list[float]  # rows with the trigger
    leak: list[float]  # rows without it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Curves:
        return cls(
            [float(w) for w in data["weights"]],
            [float(v) for v in data["effect"]],
            [float(v) for v in data["leak"]],
        )

    def at(self, weight: float) -> tuple[float, float] | None:
        """(effect, leak) at ``weight`` when it was measured."""
        for index, measured in enumerate(self.weights):
            if measured == weight:
                return self.effect[index], self.leak[index]
        return None


def _mean_difference(latents: torch.Tensor, base: torch.Tensor, rows: list[int]) -> float:
    if not rows:
        return 0.0
    return float((latents[rows] - base[rows]).abs().mean())


def measure_curves(
    weights: list[float], latents: list[torch.Tensor], base: torch.Tensor, row_kinds: list[str]
) -> Curves:
    """``latents[i]``: the final latents of every row at ``weights[i]``; ``row_kinds``:
    the prompt kind of each row."""
    with_trigger = [i for i, kind in enumerate(row_kinds) if kind in TRIGGER_KINDS]
    without = [i for i, kind in enumerate(row_kinds) if kind in LEAK_KINDS]
    return Curves(
        list(weights),
        [round(_mean_difference(column, base, with_trigger), 6) for column in latents],
        [round(_mean_difference(column, base, without), 6) for column in latents],
    )
