"""Reading the job file and refusing, before any model is loaded, a job that cannot run:
a number that is not finite, a wrong family, a missing base model or dataset, CUDA
asked for on a machine without it, an optimizer whose package is not installed. A
refusal costs seconds here; the same mistake found after minutes of model loading is
what the gates exist to prevent.

Finiteness is checked on the file's raw JSON, before the job's own validation: Python's
JSON reader accepts ``Infinity`` and ``NaN``, and an older TrainingConfig (or a job
file written by one) lets them through, after which an infinite learning rate fails
steps later as a misleading "the loss became nan".
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from app.training.job import NativeJob
from app.training.native.errors import TrainingError
from app.training.optimizer_packages import NEEDS_CUDA, optimizer_package

# Keep in step with app.training.backends.native.SUPPORTED (a test checks): the trainer
# does not import the config writers.
SUPPORTED_FAMILIES = ("sd15", "sdxl")
PICKLED_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin"})


def load_job(path: Path) -> NativeJob:
    if not path.is_file():
        raise TrainingError("missing_file", f"The job file {path} does not exist.")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrainingError(
            "bad_config", f"The job file {path.name} is not valid JSON: {exc}."
        ) from None
    _check_finite(data, path.name)
    try:
        job = NativeJob.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise TrainingError(
            "bad_config", f"The job file {path.name} has values the trainer cannot use: {problems}."
        ) from None
    validate(job)
    return job


def validate(job: NativeJob) -> None:
    _check_family(job)
    _check_base_model(job)
    dataset = Path(job.dataset_dir)
    if not dataset.is_dir():
        raise TrainingError("missing_file", f"The dataset folder {dataset} does not exist.")
    _check_device(job)
    _check_optimizer(job)


def non_finite_fields(value: Any, where: str = "") -> list[str]:
    """Every field of ``value`` (nested dicts and lists) holding inf or NaN, by path."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [where or "(the whole file)"]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)  # type: ignore[assignment]
    else:
        return []
    found = []
    for key, item in items:
        found += non_finite_fields(item, f"{where}.{key}" if where else str(key))
    return found


def _check_finite(data: Any, name: str) -> None:
    bad = non_finite_fields(data)
    if bad:
        raise TrainingError(
            "bad_config",
            f"The job file {name} has values that are not finite numbers: {', '.join(bad)}. "
            "Every number in a job must be an ordinary number (not Infinity or NaN); "
            "write the config again on the Config page or with `loragate config`.",
            {"fields": bad},
        )


def _check_family(job: NativeJob) -> None:
    family = job.base_model.family
    if family not in SUPPORTED_FAMILIES:
        raise TrainingError(
            "bad_config",
            f"The native trainer trains SD 1.5 and SDXL LoRAs; {family} is not supported yet. "
            "Choose kohya sd-scripts, SimpleTuner or ai-toolkit for this base model.",
        )
    if family == "sdxl" and job.base_model.prediction_type != "epsilon":
        raise TrainingError(
            "bad_config",
            "SDXL base models predict noise (epsilon); v-prediction SDXL checkpoints are "
            "not supported by the native trainer.",
        )


def _check_base_model(job: NativeJob) -> None:
    path = Path(job.base_model.path)
    if not path.exists():
        raise TrainingError("missing_file", f"The base model {path} does not exist.")
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise TrainingError(
                "bad_config",
                f"{path} is a folder but not a diffusers model (it has no model_index.json).",
            )
    elif path.suffix.lower() in PICKLED_SUFFIXES:
        raise TrainingError(
            "bad_config",
            f"{path.name} is a pickled checkpoint, which can run code when loaded; loragate "
            "only reads .safetensors. Download the .safetensors version of this model.",
        )
    elif path.suffix.lower() != ".safetensors":
        raise TrainingError(
            "bad_config", f"{path.name} is neither a .safetensors file nor a diffusers folder."
        )
    config_dir = job.base_model.config_dir
    if config_dir is not None and not (Path(config_dir) / "model_index.json").is_file():
        raise TrainingError(
            "missing_file", f"The component config folder {config_dir} has no model_index.json."
        )


def _check_device(job: NativeJob) -> None:
    config = job.config
    if config.device != "cuda":
        return
    if not torch.cuda.is_available():
        raise TrainingError(
            "bad_config",
            "The config asks for a CUDA GPU but none is visible to PyTorch on this machine "
            f"(torch {torch.__version__}). Install a CUDA build of PyTorch or train on 'cpu'.",
        )
    if config.mixed_precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise TrainingError(
            "bad_config",
            f"{torch.cuda.get_device_name()} has no bf16 support; use fp16 mixed precision.",
        )


def _check_optimizer(job: NativeJob) -> None:
    optimizer = job.config.optimizer
    # The device first: on a CPU, installing bitsandbytes would not help.
    if optimizer in NEEDS_CUDA and job.config.device != "cuda":
        raise TrainingError(
            "bad_config",
            f"The {optimizer} optimizer (bitsandbytes) needs a CUDA GPU, and this job trains "
            f"on the {job.config.device}; choose the adamw optimizer.",
        )
    package = optimizer_package("native", optimizer)
    if package is None:
        return
    if importlib.util.find_spec(package.module) is None:
        raise TrainingError(
            "bad_config",
            f"The {optimizer} optimizer needs the {package.module} package, which is not "
            f"installed. Install it with: {package.install_command(sys.executable)}; or "
            "choose the adamw optimizer.",
        )
