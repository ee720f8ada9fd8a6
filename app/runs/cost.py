"""Cost protection (seed rule 5): before the first real step the artist confirms the
estimated time and cost of the run as it would start now, from the dry run's measured
seconds per step when there is one and the GPU's price per hour from studio.md. The
confirmation is stored with its figures and journaled; when any figure changes (the
config, the step count, a new dry run, the price) the old confirmation no longer
counts and the artist is asked again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from app.findings import digest
from app.fsutil import atomic_write_text
from app.training.assessment import assess
from app.training.project_config import (
    CONFIRMATION_FILE,
    confirm_estimate,
    current_config,
    read_confirmation,
)
from app.workspace import ProjectContext


@dataclass(frozen=True)
class CostEstimate:
    config_digest: str
    steps: int
    seconds_per_step: float
    seconds: float
    hourly_cost: float
    currency: str
    cost: float
    basis: str  # where the seconds per step come from, in plain words
    measured: bool  # the dry run measured them on this machine

    @property
    def digest(self) -> str:
        return digest(self.figures())

    def figures(self) -> dict[str, Any]:
        values = asdict(self)
        values["seconds_per_step"] = round(self.seconds_per_step, 4)
        values["seconds"] = round(self.seconds)
        values["cost"] = round(self.cost, 2)
        return values

    def words(self) -> str:
        from app.training.estimates import duration_words

        cost = (
            f"{self.cost:.2f} {self.currency} at {self.hourly_cost:g} {self.currency} per hour"
            if self.hourly_cost
            else "no cost counted (no price per hour in studio.md)"
        )
        duration = duration_words(self.seconds)
        about = duration if self.seconds < 60 else f"about {duration}"
        return (
            f"{self.steps} steps at {self.seconds_per_step:.2f} s per step ({self.basis}): "
            f"{about}, {cost}"
        )


def current_estimate(ctx: ProjectContext) -> CostEstimate:
    config = current_config(ctx)
    assessment = assess(ctx, config)
    time = assessment.time
    return CostEstimate(
        config_digest=config.digest(),
        steps=time.steps,
        seconds_per_step=time.seconds_per_step,
        seconds=time.seconds,
        hourly_cost=time.hourly_cost,
        currency=time.currency,
        cost=time.cost,
        basis=time.basis,
        measured=time.source == "dry run",
    )


def is_confirmed(ctx: ProjectContext, estimate: CostEstimate) -> bool:
    """The artist confirmed exactly these figures, and no run has started on that
    confirmation yet: every run's cost is confirmed before its first step."""
    confirmation = read_confirmation(ctx)
    return (
        confirmation is not None
        and confirmation.figures.get("digest") == estimate.digest
        and confirmation.figures.get("used_by_run") is None
    )


def use_confirmation(ctx: ProjectContext, run_number: int) -> None:
    """Mark the stored confirmation as spent on this run (not journaled: the run's
    start is)."""
    confirmation = read_confirmation(ctx)
    if confirmation is None:
        return
    figures = confirmation.figures | {"used_by_run": run_number}
    atomic_write_text(
        ctx.dir / CONFIRMATION_FILE,
        json.dumps(
            {
                "config_digest": confirmation.config_digest,
                "steps": confirmation.steps,
                "summary": confirmation.summary,
                "figures": figures,
            },
            indent=2,
        )
        + "\n",
    )


def confirm_cost(ctx: ProjectContext, estimate: CostEstimate, how: str) -> None:
    """Store and journal the artist's confirmation of exactly these figures; ``how``
    says where it was given ("on the Runs page", "with --yes-cost")."""
    figures = estimate.figures() | {"digest": estimate.digest, "how": how}
    confirm_estimate(
        ctx, estimate.config_digest, estimate.steps, f"{estimate.words()} ({how})", figures
    )
