"""A project the dry run can really train: the tiny SD 1.5 (a diffusers folder) as its
base model, ten photos with approved captions, its training folder written and a config
small enough for the CPU (loragate's own trainer, 64 px, rank 4). ``pass_gates`` then
brings Gates 1-3 up to date, as the Dry run page wants before it starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.captions.batch import approve_shown
from app.captions.store import load_captions
from app.captions.sync import sync_captions
from app.curation.layout import write_layout
from app.dataset.inventory import dataset_dir
from app.gate_records import record_result
from app.gates import config as gate2
from app.gates import environment as gate3
from app.projects import Intent, create_project
from app.training.project_config import default_config, save_changes
from app.workspace import ProjectContext, Workspace
from tests.cli.photos import TRIGGER, photo_folder
from tests.training.native.conftest import BASE_CONFIG

# The native trainer's test settings, on the project; epochs and buckets as Gate 2 wants.
TINY_CONFIG: dict[str, Any] = BASE_CONFIG | {
    "optimizer": "adamw",
    "lr_warmup_steps": 0,
    "gradient_accumulation_steps": 1,
    "cache_text_encoder_outputs": False,
    "train_text_encoder": False,
    "sample_prompts": [f"{TRIGGER}, a teapot on a table"],
}
# What Gate 2 passes on the tiny SD 1.5 (64 px is no size it was trained at, and sd-scripts
# wants bucket steps of 64): for tests that need Gates 1-3 to pass, as the Dry run page
# and `loragate dry-run` do before they start.
GATE_PASSING: dict[str, Any] = {
    "resolution": 256,
    "bucket_reso_steps": 64,
    "min_bucket_reso": 128,
    "max_bucket_reso": 512,
}


def tiny_project(
    workspace: Workspace, model_dir: Path, backend: str = "native", **config: Any
) -> ProjectContext:
    intent = Intent(
        name="Teapot",
        training_type="object",
        trigger_word=TRIGGER,
        base_model=str(model_dir),
        model_family="sd15",
        caption_format="mixed",
        must_vary="",
        must_stay="",
        backend=backend,
    )
    project, _ = create_project(workspace, intent)
    ctx = workspace.context(project)
    photo_folder(dataset_dir(ctx))
    sync_captions(ctx)
    approve_shown(ctx, [(c.image_id, c.version) for c in load_captions(ctx).values()])
    set_config(ctx, **config)
    write_layout(ctx)
    return ctx


def set_config(ctx: ProjectContext, **config: Any) -> None:
    save_changes(ctx, default_config(ctx).model_copy(update=TINY_CONFIG | config))


def pass_gates(ctx: ProjectContext) -> None:
    """Gates 2 and 3 judged and recorded (Gate 1 was, by writing the training folder)."""
    record_result(ctx, gate2.evaluate(ctx))
    record_result(ctx, gate3.evaluate(ctx))


def with_backend_folder(studio: str, key: str, folder: Path | str) -> str:
    """studio.md's text with ``backends.<key>`` set to ``folder``."""
    changed = studio.replace(f"\n  {key}:", f"\n  {key}: {folder}", 1)
    assert changed != studio, f"no backends.{key} in studio.md"
    return changed
