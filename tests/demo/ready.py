"""A demo project made the way ``loragate demo`` makes it (its job run here, in-process
through the same functions), then walked to passing Gates 1 and 2 the way an artist
would: the planted flaws excluded, every caption approved, the training folder written."""

from __future__ import annotations

from sqlmodel import select

from app.curation.importer import import_folder
from app.curation.layout import write_layout
from app.curation.project_audit import run_project_audit
from app.dataset.decisions import set_included
from app.dataset.inventory import dataset_dir
from app.demo import DEMO_MODEL_NAME, DEMO_TRIGGER
from app.demo.create import demo_config
from app.demo.model import ensure_demo_model, register_demo_model
from app.demo.samples import DUPLICATE, TOO_SMALL, write_demo_photos
from app.gate_records import record_result
from app.gates import config as gate2
from app.models import DatasetImage
from app.projects import Intent, create_project
from app.training.config import TrainingConfig
from app.training.project_config import save_changes
from app.workspace import ProjectContext, Workspace
from tests.captions.approve import approve_all


def demo_intent(name: str) -> Intent:
    """The demo's answers to the interview (its model listed in studio.md first)."""
    return Intent(
        name=name,
        training_type="style",
        trigger_word=DEMO_TRIGGER,
        base_model=DEMO_MODEL_NAME,
        model_family="sd15",
        caption_format="booru",
    )


def ready_demo(workspace: Workspace, **config: object) -> ProjectContext:
    register_demo_model(workspace.settings)
    ensure_demo_model(workspace.settings)
    project, _ = create_project(workspace, demo_intent("Demo ready"))
    ctx = workspace.context(project)
    save_changes(
        ctx,
        TrainingConfig.model_validate(demo_config(project.slug).model_dump() | config),
    )
    photos = ctx.dir.parent / f"{project.slug}-photos"
    write_demo_photos(photos)
    import_folder(photos, dataset_dir(ctx), max_pixels=ctx.settings.max_image_pixels)
    run_project_audit(ctx)
    with workspace.db.reading() as session:
        images = session.exec(select(DatasetImage).where(DatasetImage.project_id == project.id))
        flawed = [i.id for i in images if i.path in (DUPLICATE[1], TOO_SMALL[1])]
    for image_id in flawed:
        set_included(ctx, image_id, False)
    approve_all(ctx)
    run_project_audit(ctx)
    write_layout(ctx)
    record_result(ctx, gate2.evaluate(ctx))
    return ctx
