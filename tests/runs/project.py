"""A project ready to train on the tiny SD 1.5: real images, the training folder, a tiny
CPU config, the four gates passed on the inputs as they are (planted with each gate's
current fingerprint: Gate 4's real dry run is not what these tests are about) and,
unless asked otherwise, the estimated cost confirmed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.findings import make_result
from app.gate_records import record_result
from app.gates import GATE_NAMES
from app.gates.state import current_parts
from app.models import Project
from app.projects import Intent, create_project
from app.runs.cost import confirm_cost, current_estimate
from app.training.config import TrainingConfig, save_config
from app.workspace import ProjectContext, Workspace
from tests.training.helpers import make_images, set_gpu, write_training_folder
from tests.training.native.conftest import BASE_CONFIG

# The native trainer's tests' tiny CPU config, three epochs with a checkpoint every 2 steps.
TINY_CONFIG: dict[str, Any] = BASE_CONFIG | {
    "optimizer": "adamw",
    "epochs": 3,
    "save_every_n_steps": 2,
    "cache_text_encoder_outputs": False,
}


def training_project(
    workspace: Workspace,
    base_model: Path,
    *,
    name: str = "Ink wash",
    confirmed: bool = True,
    backend: str = "native",
    family: str = "sd15",
    image_side: int = 64,
    **config: Any,
) -> ProjectContext:
    """4 images at 64 px, batch 2: 2 steps an epoch, 6 steps in all, a checkpoint every 2."""
    set_gpu(workspace, "NVIDIA GeForce RTX 4090", 24.0, 0.69)
    project, _ = create_project(
        workspace,
        Intent(
            name=name,
            training_type="style",
            trigger_word="zktrig",
            base_model=str(base_model),
            model_family=family,
            caption_format="natural",
            backend=backend,
        ),
    )
    ctx = workspace.context(project)
    make_images(ctx.dir / "dataset", {"1_ink": [(image_side, image_side)] * 4})
    write_training_folder(ctx.dir)
    save_config(ctx.dir, TrainingConfig(**(TINY_CONFIG | config)))
    pass_gates(ctx)
    if confirmed:
        confirm_cost(ctx, current_estimate(ctx), "in the test's setup")
    return ctx


def pass_gates(ctx: ProjectContext) -> None:
    """Record a pass for every gate on the inputs as they are now."""
    for name in GATE_NAMES:
        parts = current_parts(ctx, name)
        assert parts is not None, name
        record_result(ctx, make_result(name, [], parts))


def project_of(workspace: Workspace, slug: str) -> Project:
    from app.projects import get_project

    project = get_project(workspace, slug)
    assert project is not None
    return project
