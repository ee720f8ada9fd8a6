"""Reading the job file and refusing, before any model is loaded, a job that cannot run:
a wrong family, a missing base model or dataset, CUDA asked for on a machine without
it, an optimizer whose package is not installed. A refusal costs seconds here; the
same mistake found after minutes of model loading is what the gates exist to prevent.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
from pydantic import ValidationError

from app.training.job import NativeJob
from app.training.native.errors import TrainingError

SUPPORTED_FAMILIES = ("sd15", "sdxl")
PICKLED_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin"})

# Optimizers that live in optional packages: (module to import, how to install it).
OPTIONAL_OPTIMIZERS = {
    "adamw8bit": ("bitsandbytes", "pip install bitsandbytes (or pip install 'loragate[cuda]')"),
    "prodigy": ("prodigyopt", "pip install prodigyopt"),
    "lion": ("lion_pytorch", "pip install lion-pytorch"),
}


def load_job(path: Path) -> NativeJob:
    if not path.is_file():
        raise TrainingError("missing_file", f"The job file {path} does not exist.")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrainingError(
            "bad_config", f"The job file {path.name} is not valid JSON: {exc}."
        ) from None
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
    if optimizer not in OPTIONAL_OPTIMIZERS:
        return
    module, install = OPTIONAL_OPTIMIZERS[optimizer]
    if importlib.util.find_spec(module) is None:
        raise TrainingError(
            "bad_config",
            f"The {optimizer} optimizer needs the {module} package, which is not installed. "
            f"Install it with: {install}; or choose the adamw optimizer.",
        )
    if optimizer == "adamw8bit" and job.config.device != "cuda":
        raise TrainingError(
            "bad_config", "The adamw8bit optimizer (bitsandbytes) needs a CUDA GPU; use adamw."
        )
