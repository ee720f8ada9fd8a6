"""Creating the demo project through the same functions the interview and the import
use: ``create_project`` with the demo's answers, a config saved (and journaled) like any
other, and the photos handed to the import job from a staging folder, as an upload is.

``loragate demo`` and the projects page's button both call ``start_demo``; what is slow
(building the tiny model, importing, auditing) runs in the demo job's child process.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from app.curation.tasks import import_params
from app.dataset.staging import StagingFolder
from app.demo import (
    DEMO_MODEL_NAME,
    DEMO_PROJECT_NAME,
    DEMO_RESOLUTION,
    DEMO_TRIGGER,
    DemoRefused,
    is_demo,
)
from app.demo.model import register_demo_model
from app.demo.samples import samples_dir, write_demo_photos
from app.grimoire import GrimoireError
from app.models import Job, Project
from app.projects import Intent, create_project, slugify
from app.training.config import TrainingConfig
from app.training.presets import build_preset
from app.training.project_config import save_changes
from app.worker import Worker
from app.workspace import Workspace

DEMO_JOB = "demo.setup"
DEMO_JOB_TITLE = "Building the demo model, importing and auditing the sample photos"
PHOTOS_LABEL = "scikit-image's sample photos"
# The most demo projects one workspace makes before asking to delete some.
MAX_DEMOS = 20


class DemoExists(RuntimeError):
    """A demo project exists already; ``project`` is it."""

    def __init__(self, project: Project) -> None:
        super().__init__(
            f"The demo project “{project.name}” exists already (folder {project.slug}). "
            "Open it, or make another with `loragate demo --fresh`."
        )
        self.project = project


@dataclass(frozen=True)
class DemoStarted:
    project: Project
    job: Job


def demo_projects(workspace: Workspace) -> list[Project]:
    """The demo projects that are not archived, oldest first."""
    with workspace.db.reading() as session:
        projects = session.exec(select(Project).order_by(Project.id)).all()  # type: ignore[arg-type]
    return [p for p in projects if is_demo(p) and p.archived_at is None]


def _free_name(workspace: Workspace) -> str:
    with workspace.db.reading() as session:
        taken = {p.name for p in session.exec(select(Project))}
    for number in range(1, MAX_DEMOS + 1):
        name = DEMO_PROJECT_NAME if number == 1 else f"{DEMO_PROJECT_NAME} {number}"
        if name not in taken and not workspace.project_dir(slugify(name)).exists():
            return name
    raise RuntimeError(
        f"There are {MAX_DEMOS} demo projects already: delete some before making another."
    )


def demo_config(slug: str) -> TrainingConfig:
    """The Quick preset sized for a CPU and the tiny model: 128-pixel images, a small
    rank, full precision (CPUs have no fast half precision)."""
    quick = build_preset("quick", "style", "sd15", device="cpu").config(slug)
    return quick.model_copy(
        update={
            "resolution": DEMO_RESOLUTION,
            "min_bucket_reso": DEMO_RESOLUTION // 2,
            "max_bucket_reso": DEMO_RESOLUTION * 2,
            "bucket_reso_steps": 64,
            "network_rank": 4,
            "network_alpha": 2.0,
            "train_batch_size": 2,
            "epochs": 4,
            "mixed_precision": "no",
            "gradient_checkpointing": False,
            "save_every_n_epochs": 1,
            "sample_every_n_steps": None,
            "device": "cpu",
            "num_gpus": 1,
        }
    )


def start_demo(workspace: Workspace, worker: Worker, *, fresh: bool = False) -> DemoStarted:
    """Create a demo project and start its job with ``worker``. Raises DemoExists when
    one exists and ``fresh`` is not asked for (then a new one gets the next free name)."""
    existing = demo_projects(workspace)
    if existing and not fresh:
        raise DemoExists(existing[0])
    samples_dir()  # SamplesMissing before anything is created
    try:
        register_demo_model(workspace.settings)
    except GrimoireError as exc:
        raise DemoRefused(
            f"{exc} The demo lists its model there: fix the file, then try again."
        ) from None
    project, _ = create_project(
        workspace,
        Intent(
            name=_free_name(workspace),
            training_type="style",
            trigger_word=DEMO_TRIGGER,
            base_model=DEMO_MODEL_NAME,
            model_family="sd15",
            caption_format="booru",
            # A style LoRA's subjects vary by nature; naming them here would only make
            # the caption lint look for words the demo's tags do not use.
            must_vary="",
            backend="native",
        ),
    )
    ctx = workspace.context(project)
    # Validated again: model_copy skips the config's own checks.
    config = TrainingConfig.model_validate(demo_config(project.slug).model_dump())
    save_changes(ctx, config)
    with StagingFolder(workspace.settings) as staging:
        write_demo_photos(staging.path)
        params = import_params(staging.path, label=PHOTOS_LABEL, staging=staging.path)
        job = worker.start(DEMO_JOB, project.id, params, title=DEMO_JOB_TITLE)
        staging.hand_over()
    return DemoStarted(project, job)
