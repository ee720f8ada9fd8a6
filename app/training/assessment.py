"""Everything known about a planned run, in one place: the config, the base model and its
detected family, the step maths, the VRAM estimate against the GPU, and the time and
cost. Gate 2, the Config page's live panel and ``loragate config`` all start here, so
they always agree."""

from __future__ import annotations

from dataclasses import dataclass

from app.dataset.inventory import DatasetItem, dataset_dir, inventory, layout_dir
from app.disk_space import DiskSpace, disk_space
from app.gate_records import latest
from app.grimoire import GpuEntry, GrimoireError
from app.training.base_model import BaseModelRefInfo, resolve_base_model
from app.training.calibration import (
    CPU_NAME,
    calibrated,
    calibrated_speed,
    gpu_key,
    speed_calibration,
    vram_calibration,
)
from app.training.config import TrainingConfig
from app.training.estimates import (
    DryRunMeasurement,
    SpeedEstimate,
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


# What studio.md's gpu.name may say to leave the GPU to detection.
DETECT_WORDS = ("", "detect", "auto")


def detected_gpu(ctx: ProjectContext) -> GpuEntry | None:
    """The GPU Gate 3 detected when it last ran (NVML, in its own job). Read from its
    record, never probed here: the pages that show an estimate do not touch the GPU."""
    with ctx.workspace.db.reading() as session:
        record = latest(session, ctx.project, "environment")
    found = record.stats.get("gpu") if record is not None else None
    if not isinstance(found, dict) or not isinstance(found.get("name"), str):
        return None
    vram = found.get("vram_gb")
    return GpuEntry(name=found["name"], vram_gb=vram if isinstance(vram, int | float) else None)


def project_gpu(ctx: ProjectContext) -> tuple[GpuEntry, str | None]:
    """The GPU estimates and Gate 2 judge against, and why studio.md cannot be read:
    studio.md's gpu, with what it leaves to detection (an empty or "detect" name, an
    empty memory for the GPU it names) taken from the GPU Gate 3 detected."""
    try:
        gpu = ctx.workspace.studio().gpu
    except GrimoireError as exc:
        return GpuEntry(), str(exc)
    detected = detected_gpu(ctx)
    if detected is None:
        return gpu, None
    if (gpu.name or "").strip().lower() in DETECT_WORDS:
        vram = gpu.vram_gb or detected.vram_gb
        return gpu.model_copy(update={"name": detected.name, "vram_gb": vram}), None
    if not gpu.vram_gb and gpu_key(gpu.name) == gpu_key(detected.name):
        return gpu.model_copy(update={"vram_gb": detected.vram_gb}), None
    return gpu, None


def measured_on(config: TrainingConfig, gpu: GpuEntry) -> str | None:
    """The name dry runs of ``config`` are stored under (app/training/dryrun/measure.py
    ``gpu_name``): the GPU's, or the CPU for a CPU run."""
    return gpu.name if config.device == "cuda" else CPU_NAME


def estimated_speed(
    ctx: ProjectContext, config: TrainingConfig, family: str, backend: str, gpu: GpuEntry
) -> tuple[SpeedEstimate, SpeedEstimate]:
    """The model's seconds per step for ``config``, and the same corrected by the dry
    runs measured on this GPU with this trainer (the one shown until a dry run of this
    very config measures it)."""
    model = estimate_speed(config, family, gpu.name)
    inputs = VramInputs.from_config(config, family, backend)
    where = measured_on(config, gpu)
    return model, calibrated_speed(
        model, speed_calibration(ctx.workspace.db, where, inputs, backend)
    )


def assess(ctx: ProjectContext, config: TrainingConfig, backend: str | None = None) -> Assessment:
    family = ctx.project.model_family
    backend = backend or ctx.project.backend
    items = inventory(ctx)
    plan = plan_steps(items, config)
    gpu, studio_problem = project_gpu(ctx)
    inputs = VramInputs.from_config(config, family, backend)
    where = measured_on(config, gpu)
    vram = calibrated(estimate_vram(inputs), vram_calibration(ctx.workspace.db, where, inputs))
    dryrun = read_dryrun_measurement(ctx.dir)
    speed = estimate_speed(config, family, gpu.name, dryrun, config.digest())
    if speed.source != "dry run":
        speed = estimated_speed(ctx, config, family, backend, gpu)[1]
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
