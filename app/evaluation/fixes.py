"""Applying a diagnosis's fix: the advice is found again from the run's numbers (never
taken from a form), its change is written as a new version of the project's config
through ``save_changes`` (journaled), which makes Gates 2 and 4 stale."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.evaluation.diagnosis import find_advice
from app.evaluation.run_numbers import RunNumbers
from app.training.config import TrainingConfig
from app.training.project_config import current_config, save_changes
from app.workspace import ProjectContext


class FixRefused(ValueError):
    pass


def apply_fix(ctx: ProjectContext, numbers: RunNumbers, code: str) -> dict[str, tuple[Any, Any]]:
    advice = find_advice(numbers, code)
    if advice is None or not advice.change:
        raise FixRefused("That fix does not apply to this run's numbers any more: reload the page.")
    config = current_config(ctx)
    try:
        new = TrainingConfig.model_validate(config.model_dump() | advice.change)
    except ValidationError as exc:
        raise FixRefused(
            f"The fix gives a config loragate cannot use: {exc.errors()[0]['msg']}"
        ) from None
    return save_changes(ctx, new)
