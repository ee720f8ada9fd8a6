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

from app.findings import digest
from app.gates.state import current_parts
from app.workspace import ProjectContext

GATE = "dryrun"


def fingerprint(ctx: ProjectContext) -> dict[str, str]:
    return {
        "config_gate": digest(current_parts(ctx, "config")),
        "environment_gate": digest(current_parts(ctx, "environment")),
    }
