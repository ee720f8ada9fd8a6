"""Gate 4 · Dry run: a few real steps through the project's real trainer, with one
checkpoint save, its reload and one sample image, on the real training folder and
config. It judges what Gates 2 and 3 judged, but by running it.

Fingerprint parts: ``config_gate`` (Gate 2's inputs: the config, the base model file,
the dataset, the training folder, the trainer and the GPU in studio.md) and
``environment_gate`` (Gate 3's: the GPU and its driver, PyTorch, the trainer's
version). Any change to either makes this gate stale with Gate 2's or Gate 3's reason.

``evaluate`` runs the dry run; it takes minutes and a GPU, so it is only ever called
inside the worker's "training.dryrun" job, never in the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.findings import GateResult, digest, make_result
from app.gates.state import current_parts, gate_state
from app.workspace import ProjectContext

GATE = "dryrun"
# A dry run judges what these judged: on a config they block, it spends GPU time only
# to fail where they already said it would.
PREREQUISITES = ("dataset", "config", "environment")

if TYPE_CHECKING:
    from app.training.dryrun.run import Reporter


def fingerprint(ctx: ProjectContext) -> dict[str, str]:
    return {
        "config_gate": digest(current_parts(ctx, "config")),
        "environment_gate": digest(current_parts(ctx, "environment")),
    }


def may_start(ctx: ProjectContext) -> list[str]:
    """Why a dry run may not start now, in plain words (empty: it may). The one rule the
    Dry run page, its HTTP API and ``loragate dry-run`` all ask."""
    reasons = []
    for name in PREREQUISITES:
        state = gate_state(ctx, name)
        if state.status == "not_run":
            reasons.append(f"{state.title} has not run yet.")
        elif state.status == "block":
            reasons.append(f"{state.title} blocks: fix what it found first.")
        elif state.status == "stale":
            reasons.append(f"{state.title} is out of date ({'; '.join(state.stale_reasons)}).")
    return reasons


def evaluate(
    ctx: ProjectContext, steps: int, report: Reporter, timeout: float | None = None
) -> GateResult:
    """Run the dry run and judge it. The fingerprint is taken before it starts: the
    result is about the inputs the trainer actually ran on, even if they change while
    it runs (the gate is then stale at once, as it should be)."""
    from app.training.dryrun.run import dry_run

    parts = fingerprint(ctx)
    outcome = dry_run(ctx, steps, report, **({} if timeout is None else {"timeout": timeout}))
    return make_result(GATE, outcome.findings, parts, outcome.stats())
