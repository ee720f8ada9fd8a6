"""``loragate bundle export``: one zip to train a project on a rented GPU.

Inside, under one folder: the kohya-layout dataset (the training folder Gate 2 checked),
the chosen backend's config twice (``config-dryrun/`` for a few steps, ``config/`` for
the run), a launch script, a README with the estimated time and cost on a named rented
GPU class, a manifest with Gates 1 and 2's fingerprints, loragate's own source (its
trainer, for the native backend) and, when asked, the base model.

Gates 1 and 2 must pass on the project as it is now: a bundle is a promise that the
dataset and the config were checked, and the manifest records what was checked.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from app.bundle import DRY_RUN_STEPS, FORMAT, MANIFEST, OUTPUT_DIR, PLACEHOLDER
from app.bundle.launch import LOCK_FILE, SOURCE_DIR, TRAINER_DIR, launch_script, pinned_words
from app.bundle.readme import readme
from app.bundle.rental import RENTAL_GPUS, RentalGpu, rental_gpu, smallest_fitting
from app.dataset.inventory import layout_dir
from app.gates.state import GateState, gate_state
from app.models.base import utcnow
from app.settings import PACKAGE_DIR, REPO_ROOT
from app.training.assessment import Assessment, assess
from app.training.backends import (
    BackendFiles,
    BackendUnsupported,
    RunPlan,
    Subset,
    generate,
    run_plan,
)
from app.training.estimates import TimeAndCost, estimate_speed, estimate_time_and_cost
from app.training.job import NativeJob
from app.training.project_config import current_config
from app.workspace import ProjectContext

EXPORT_GATES = ("dataset", "config")
# What the copy of loragate in the bundle leaves out: caches and the artist's own files.
SKIPPED_NAMES = {"__pycache__", ".pytest_cache"}


class ExportRefused(ValueError):
    """The bundle cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Exported:
    path: Path
    backend: str
    gpu: RentalGpu
    estimate: TimeAndCost
    files: int


def passing_gates(ctx: ProjectContext) -> dict[str, GateState]:
    """Gates 1 and 2 as they stand now, or ExportRefused naming what to do."""
    states = {name: gate_state(ctx, name) for name in EXPORT_GATES}
    problems = []
    for state in states.values():
        if state.status == "not_run":
            problems.append(f"{state.title} has not been run.")
        elif state.status == "block":
            problems.append(f"{state.title} blocks: fix its findings and check it again.")
        elif state.status == "stale":
            problems.append(
                f"{state.title} is out of date ({'; '.join(state.stale_reasons)}): check it again."
            )
    if problems:
        raise ExportRefused(
            "A bundle is made only from a checked dataset and config. " + " ".join(problems)
        )
    return states


def _in_bundle(*parts: str) -> Path:
    return Path(PLACEHOLDER, *parts)


def _bundle_files(ctx: ProjectContext, assessment: Assessment, model_name: str) -> dict[str, str]:
    """The backend's files for the run (``config/``) and for the dry run
    (``config-dryrun/``), every path pointing into the unpacked bundle."""
    backend = assessment.backend
    plan = _plan(ctx, assessment, model_name)
    files: dict[str, str] = {}
    real = generate(backend, plan)
    dry_config = plan.config.model_copy(
        update={"max_train_steps": min(DRY_RUN_STEPS, plan.config.max_train_steps or DRY_RUN_STEPS)}
    )
    dry = generate(
        backend,
        dataclasses.replace(
            plan,
            config=dry_config,
            output_dir=_in_bundle("dryrun"),
            files_dir=_in_bundle("config-dryrun"),
        ),
    )
    if backend == "native":
        real, dry = _native_cache(real), _native_cache(_native_dry_run(dry))
        # Its launch.sh runs this machine's Python in this checkout: the bundle's own
        # launch.sh runs the trainer instead, with the Python it installs.
        real, dry = _without_launch(real), _without_launch(dry)
    for folder, generated in (("config", real), ("config-dryrun", dry)):
        for name, text in generated.files.items():
            files[f"{folder}/{name}"] = text
    return files


def _native_cache(files: BackendFiles) -> BackendFiles:
    """One latent cache for the dry run and the run, outside output/ (which comes home)."""
    job = NativeJob.model_validate_json(files.files["job.json"])
    job = job.model_copy(update={"cache_dir": str(_in_bundle("cache"))})
    return dataclasses.replace(
        files, files=files.files | {"job.json": job.model_dump_json(indent=2) + "\n"}
    )


def _without_launch(files: BackendFiles) -> BackendFiles:
    return dataclasses.replace(
        files, files={name: text for name, text in files.files.items() if name != "launch.sh"}
    )


def _native_dry_run(files: BackendFiles) -> BackendFiles:
    job = NativeJob.model_validate_json(files.files["job.json"])
    job = job.model_copy(update={"dry_run_steps": job.config.max_train_steps})
    return dataclasses.replace(
        files, files=files.files | {"job.json": job.model_dump_json(indent=2) + "\n"}
    )


def _plan(ctx: ProjectContext, assessment: Assessment, model_name: str) -> RunPlan:
    detection = assessment.detection
    prediction = assessment.base_model.prediction_type
    if detection is not None and detection.prediction_type:
        prediction = detection.prediction_type
    plan = run_plan(
        ctx,
        assessment.config,
        assessment.plan,
        assessment.items,
        _in_bundle("model", model_name),
        _in_bundle("config"),
        backend=assessment.backend,
        variant=detection.variant if detection is not None else "",
        prediction_type=prediction,
        trainer_dir=str(_in_bundle(TRAINER_DIR))
        if assessment.backend in ("kohya", "ai-toolkit")
        else None,
    )
    dataset = _in_bundle("dataset")
    subsets = tuple(
        Subset(dataset / subset.folder.name, subset.concept, subset.repeats, subset.images)
        for subset in plan.subsets
    )
    return dataclasses.replace(
        plan,
        dataset_dir=dataset,
        subsets=subsets,
        output_dir=_in_bundle(OUTPUT_DIR),
        files_dir=_in_bundle("config"),
    )


def _estimate(assessment: Assessment, gpu: RentalGpu, price: float | None) -> TimeAndCost:
    config = assessment.config
    speed = estimate_speed(config, assessment.family, gpu.title)
    hourly = gpu.hourly_usd if price is None else price
    return estimate_time_and_cost(assessment.plan.total_steps, speed, hourly, "USD")


def _source_files() -> list[tuple[Path, str]]:
    """loragate's own package, its build file and its lock, for ``pip install -c
    requirements.lock ./loragate``."""
    found = [
        (REPO_ROOT / "pyproject.toml", "pyproject.toml"),
        (REPO_ROOT / "README.md", "README.md"),
        (REPO_ROOT / LOCK_FILE, LOCK_FILE),
    ]
    for directory, names, files in os.walk(PACKAGE_DIR):
        names[:] = sorted(name for name in names if name not in SKIPPED_NAMES)
        for name in sorted(files):
            path = Path(directory, name)
            if name.endswith(".pyc") or not path.is_file() or path.is_symlink():
                continue
            found.append((path, "app/" + path.relative_to(PACKAGE_DIR).as_posix()))
    return [(path, arcname) for path, arcname in found if path.is_file()]


def _dataset_files(ctx: ProjectContext) -> list[tuple[Path, str]]:
    layout = layout_dir(ctx)
    found = []
    for directory, names, files in os.walk(layout):
        names.sort()
        for name in sorted(files):
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                found.append((path, "dataset/" + path.relative_to(layout).as_posix()))
    return found


def _model_files(model: Path) -> list[tuple[Path, str]]:
    if model.is_file():
        return [(model, f"model/{model.name}")]
    found = []
    for directory, names, files in os.walk(model):
        names.sort()
        for name in sorted(files):
            path = Path(directory, name)
            found.append((path, f"model/{model.name}/" + path.relative_to(model).as_posix()))
    return found


def export_bundle(
    ctx: ProjectContext,
    out: Path,
    *,
    gpu_title: str | None = None,
    price_per_hour: float | None = None,
    include_model: bool = False,
) -> Exported:
    """Write the bundle to ``out`` (a .zip), or raise ExportRefused with the reason."""
    states = passing_gates(ctx)
    if gpu_title is not None and rental_gpu(gpu_title) is None:
        names = ", ".join(f"“{g.title}”" for g in RENTAL_GPUS)
        raise ExportRefused(f"loragate has no estimate for “{gpu_title}”: choose {names}.")
    config = current_config(ctx)
    assessment = assess(ctx, config)
    model = assessment.base_model.path
    if model is None:
        raise ExportRefused(
            f"The base model cannot be found: {assessment.base_model.problem or 'no path'}"
        )
    try:
        backend_files = _bundle_files(ctx, assessment, model.name)
    except BackendUnsupported as exc:
        raise ExportRefused(str(exc)) from None
    gpu = rental_gpu(gpu_title) if gpu_title else smallest_fitting(assessment.vram.total_gb)
    assert gpu is not None
    estimate = _estimate(assessment, gpu, price_per_hour)
    top = f"{ctx.project.slug}-bundle"
    manifest = {
        "format": FORMAT,
        "project": ctx.project.slug,
        "name": ctx.project.name,
        "backend": assessment.backend,
        "trainer": pinned_words(assessment.backend),
        # What the run trains with: recorded on the imported run, as a local run's.
        "config": assessment.config.model_dump(mode="json"),
        "created_at": utcnow().isoformat(),
        "gates": {
            name: {
                "status": state.status,
                "fingerprint": state.record.fingerprint if state.record else None,
                "fingerprint_parts": state.record.fingerprint_parts if state.record else None,
                "checked_at": state.record.created_at.isoformat() if state.record else None,
            }
            for name, state in states.items()
        },
        "base_model": {
            "reference": ctx.project.base_model,
            "file": model.name,
            "included": include_model,
        },
        "steps": assessment.plan.total_steps,
        "dry_run_steps": min(DRY_RUN_STEPS, assessment.plan.total_steps or DRY_RUN_STEPS),
        "gpu": {"title": gpu.title, "vram_gb": gpu.vram_gb},
        "estimate": estimate.to_json(),
        "vram_gb": round(assessment.vram.total_gb, 1),
    }
    texts = backend_files | {
        MANIFEST: json.dumps(manifest, indent=2) + "\n",
        "launch.sh": launch_script(
            assessment.backend, ctx.project.slug, model.name, assessment.config.optimizer
        ),
        "README.md": readme(ctx.project, assessment, gpu, estimate, manifest),
    }
    copies = _dataset_files(ctx)
    if assessment.backend == "native":
        copies += [(path, f"{SOURCE_DIR}/{name}") for path, name in _source_files()]
    if include_model:
        copies += _model_files(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: a failed export leaves no half archive.
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in sorted(texts.items()):
                info = zipfile.ZipInfo(f"{top}/{name}")
                info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, text)
            for path, name in copies:
                # Images barely compress: stored, not deflated, saves minutes on a big set.
                stored = path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".safetensors")
                archive.write(
                    path,
                    f"{top}/{name}",
                    compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
                )
        os.replace(temporary, out)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return Exported(out, assessment.backend, gpu, estimate, len(texts) + len(copies))
