"""The project's recommendation: the checkpoint and weight the artist picked on the grid
(the cell that looked right), with the range of weights around it. One small JSON file,
``<project>/evaluation/recommendation.json``; the journal is its history."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from app import journal
from app.evaluation.loras import find_lora
from app.evaluation.sheet import evaluation_dir, read_sheet, weight_label
from app.fsutil import atomic_write_text
from app.models.base import utcnow
from app.workspace import ProjectContext

RECOMMENDATION_FILE = "recommendation.json"


class RecommendationRefused(ValueError):
    pass


@dataclass(frozen=True)
class Recommendation:
    lora: str  # the LoRA's id (its path in the project)
    label: str  # "runs/1 step 400"
    weight: float
    low: float
    high: float
    chosen_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def weight_range(weights: list[float], chosen: float) -> tuple[float, float]:
    """The measured weights on either side of the chosen one (0 excluded: it is the
    base model): what the artist can still try when a prompt needs more or less."""
    useful = sorted(w for w in weights if w > 0)
    if chosen not in useful:
        return chosen, chosen
    index = useful.index(chosen)
    return useful[max(0, index - 1)], useful[min(len(useful) - 1, index + 1)]


def read_recommendation(ctx: ProjectContext) -> Recommendation | None:
    try:
        data = json.loads((evaluation_dir(ctx.dir) / RECOMMENDATION_FILE).read_text("utf-8"))
        return Recommendation(
            str(data["lora"]),
            str(data["label"]),
            float(data["weight"]),
            float(data["low"]),
            float(data["high"]),
            str(data["chosen_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def recommend(ctx: ProjectContext, lora_id: str, weight: float) -> Recommendation:
    """Make a cell of a LoRA's grid the project's recommendation, and journal it."""
    lora = find_lora(ctx.dir, lora_id)
    sheet = read_sheet(ctx.dir, lora_id)
    if sheet is None:
        raise RecommendationRefused(f"{lora.group} {lora.label} has no grid yet: make one first.")
    weights = [float(w) for w in sheet["weights"]]
    if weight not in weights or weight == 0:
        raise RecommendationRefused(
            f"Weight {weight_label(weight)} is not a column of this grid with the LoRA on."
        )
    low, high = weight_range(weights, weight)
    chosen = Recommendation(
        lora.id,
        f"{lora.group} {lora.label}",
        weight,
        low,
        high,
        utcnow().isoformat(timespec="seconds"),
    )
    atomic_write_text(
        evaluation_dir(ctx.dir) / RECOMMENDATION_FILE, json.dumps(chosen.to_json(), indent=2) + "\n"
    )
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "evaluation.recommended",
            f"Recommended {chosen.label} at weight {weight_label(weight)} "
            f"(range {weight_label(low)}–{weight_label(high)}).",
            {**chosen.to_json(), "run": lora.run},
        )
    return chosen
