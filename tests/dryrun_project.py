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
from app.dataset.inventory import dataset_dir
from app.dataset.layout import write_layout
from app.gate_records import record_result
from app.gates import config as gate2
from app.gates import environment as gate3
from app.projects import Intent, create_project
from app.training.project_config import default_config, save_changes
from app.workspace import ProjectContext, Workspace
from tests.cli.photos import TRIGGER, photo_folder

# The native trainer's test settings (tests/training/native/conftest.py), on the project.
TINY_CONFIG: dict[str, Any] = {
    "device": "cpu",
    "mixed_precision": "no",
    "resolution": 64,
    "min_bucket_reso": 64,
    "max_bucket_reso": 128,
    "bucket_reso_steps": 16,
    "network_rank": 4,
    "network_alpha": 2.0,
    "unet_lr": 1e-3,
    "text_encoder_lr": 1e-3,
    "optimizer": "adamw",
    "lr_scheduler": "constant",
    "lr_warmup_steps": 0,
    "train_batch_size": 2,
    "gradient_accumulation_steps": 1,
    "epochs": 1,
    "cache_latents": False,
    "cache_text_encoder_outputs": False,
    "gradient_checkpointing": False,
    "min_snr_gamma": None,
    "train_text_encoder": False,
    "sample_prompts": [f"{TRIGGER}, a teapot on a table"],
    "seed": 7,
}


def tiny_project(workspace: Workspace, model_dir: Path, **config: Any) -> ProjectContext:
    intent = Intent(
        name="Teapot",
        training_type="object",
        trigger_word=TRIGGER,
        base_model=str(model_dir),
        model_family="sd15",
        caption_format="mixed",
        must_vary="",
        must_stay="",
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
