"""Everything known about a planned run, in one place: the config, the base model and its
detected family, the step maths, the VRAM estimate against the GPU, and the time and
cost. Gate 2, the Config page's live panel and ``loragate config`` all start here, so
they always agree."""

from __future__ import annotations

from dataclasses import dataclass

from app.dataset.inventory import DatasetItem, dataset_dir, inventory, layout_dir
from app.disk_space import DiskSpace, disk_space
from app.grimoire import GpuEntry, GrimoireError
from app.training.base_model import BaseModelRefInfo, resolve_base_model
from app.training.calibration import calibrated, vram_calibration
from app.training.config import TrainingConfig
from app.training.estimates import (
    DryRunMeasurement,
    TimeAndCost,
    estimate_speed,
    estimate_time_and_cost,
    read_dryrun_measurement,
)
from app.training.model_detect import Detection, ModelFileError, detect
from app.training.outputs import OutputEstimate, estimate_outputs
from app.training.steps import StepPlan, plan_steps
from app.training.training_folder import TrainingFolder, check_training_folder
from app.training.vram import VramEstimate, VramInputs, estimate_vram
from app.workspace import ProjectContext


@dataclass
class Assessment:
    family: str  # the project's declared family
    training_type: str
    backend: str
    config: TrainingConfig
    items: list[DatasetItem]
    plan: StepPlan
    vram: VramEstimate
    gpu: GpuEntry
    time: TimeAndCost
    base_model: BaseModelRefInfo
    detection: Detection | None
    detection_error: str | None
    dryrun: DryRunMeasurement | None
    studio_problem: str | None = None
    outputs: OutputEstimate | None = None  # what the run writes to disk
    disk: DiskSpace | None = None  # free space where it writes
    training_folder: TrainingFolder | None = None  # what every backend's config reads
    project: str = ""  # the project's folder name, for commands in findings

    @property
    def gpu_vram_gb(self) -> float | None:
        return self.gpu.vram_gb

    @property
    def vram_share(self) -> float | None:
        """The estimate as a share of the GPU's memory (1.0 = full)."""
        if not self.gpu.vram_gb:
            return None
        return self.vram.total_gb / self.gpu.vram_gb


def assess(ctx: ProjectContext, config: TrainingConfig, backend: str | None = None) -> Assessment:
    family = ctx.project.model_family
    backend = backend or ctx.project.backend
    items = inventory(ctx)
    plan = plan_steps(items, config)
    studio_problem = None
    try:
        gpu = ctx.workspace.studio().gpu
    except GrimoireError as exc:
        gpu, studio_problem = GpuEntry(), str(exc)
    inputs = VramInputs.from_config(config, family, backend)
    vram = calibrated(estimate_vram(inputs), vram_calibration(ctx.workspace.db, gpu.name, inputs))
    dryrun = read_dryrun_measurement(ctx.dir)
    speed = estimate_speed(config, family, gpu.name, dryrun, config.digest())
    time = estimate_time_and_cost(plan.total_steps, speed, gpu.hourly_cost, gpu.currency)
    base = resolve_base_model(ctx)
    detection, detection_error = None, None
    if base.path is not None:
        try:
            detection = detect(base.path)
        except ModelFileError as exc:
            detection_error = str(exc)
    return Assessment(
        family=family,
        training_type=ctx.project.training_type,
        backend=backend,
        config=config,
        items=items,
        plan=plan,
        vram=vram,
        gpu=gpu,
        time=time,
        base_model=base,
        detection=detection,
        detection_error=detection_error,
        dryrun=dryrun,
        studio_problem=studio_problem,
        outputs=estimate_outputs(config, family, plan.images, plan.total_steps),
        disk=disk_space(ctx.dir),
        training_folder=check_training_folder(layout_dir(ctx), dataset_dir(ctx), items),
        project=ctx.project.slug,
    )
