"""Loading the base model: a diffusers folder, or a single-file ``.safetensors``
checkpoint (what artists download) built with component configs from a local folder,
never from the hub.

For a single file the configs come from ``BaseModelRef.config_dir`` when the job sets
it (a checkpoint whose architecture differs from the family's published one, such as
the tests' tiny models), otherwise from the configs loragate ships in
``app/training/model_configs/`` for SD 1.5 (epsilon or v-prediction) and SDXL base.
The tokenizer folders are written next to a copy of those configs from the CLIP
vocabulary that ships with loragate.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path

import torch
from diffusers import DDPMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline
from diffusers.utils import logging as diffusers_logging
from transformers.utils import logging as transformers_logging

from app.clip_tokenizer import write_tokenizer_files
from app.training.job import BaseModelRef
from app.training.native.errors import TrainingError, first_line

CONFIG_PACKAGE = "app.training"
CONFIG_FOLDER = "model_configs"
BIGG_PAD_TOKEN = "!"  # OpenCLIP ViT-bigG pads with "!" (id 0), not with EOS

Pipeline = StableDiffusionPipeline | StableDiffusionXLPipeline


@dataclass
class BaseModel:
    family: str
    prediction_type: str
    pipeline: Pipeline
    noise_scheduler: DDPMScheduler  # the training-time forward process

    @property
    def is_sdxl(self) -> bool:
        return self.family == "sdxl"

    @property
    def unet(self) -> torch.nn.Module:
        return self.pipeline.unet

    @property
    def vae(self) -> torch.nn.Module:
        return self.pipeline.vae

    @property
    def text_encoders(self) -> list[torch.nn.Module]:
        encoders = [self.pipeline.text_encoder]
        if self.is_sdxl:
            encoders.append(self.pipeline.text_encoder_2)
        return encoders

    @property
    def tokenizers(self) -> list:  # type: ignore[type-arg]
        tokenizers = [self.pipeline.tokenizer]
        if self.is_sdxl:
            tokenizers.append(self.pipeline.tokenizer_2)
        return tokenizers


def quiet_libraries() -> None:
    """No download/loading progress bars in the run's log."""
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()


def shipped_config_name(family: str, prediction_type: str) -> str:
    if family == "sdxl":
        return "sdxl"
    return "sd15_v" if prediction_type == "v_prediction" else "sd15"


def write_tokenizer(target: Path, pad_token: str | None = None) -> Path:
    """A diffusers tokenizer folder with the real CLIP vocabulary; ``pad_token`` "!"
    gives SDXL's second tokenizer."""
    write_tokenizer_files(target)
    if pad_token is not None:
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            data = json.loads((target / name).read_text("utf-8"))
            data["pad_token"] = pad_token
            (target / name).write_text(json.dumps(data, indent=2), "utf-8")
    return target


def materialise_shipped_configs(name: str, target: Path) -> Path:
    """Copy the shipped configs ``name`` to ``target`` and add the tokenizer folders."""
    if (target / "model_index.json").is_file() and (target / "tokenizer" / "vocab.json").is_file():
        return target
    source = importlib_resources.files(CONFIG_PACKAGE) / CONFIG_FOLDER / name
    target.parent.mkdir(parents=True, exist_ok=True)
    # A private staging folder renamed into place: several trainer processes (one per
    # GPU) may do this at once, and a reader must never see half a folder.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    with importlib_resources.as_file(source) as folder:
        shutil.copytree(folder, staging, dirs_exist_ok=True)
    index = json.loads((staging / "model_index.json").read_text("utf-8"))
    write_tokenizer(staging / "tokenizer")
    if "tokenizer_2" in index:
        write_tokenizer(staging / "tokenizer_2", pad_token=BIGG_PAD_TOKEN)
    try:
        staging.rename(target)
    except OSError:  # another process finished first (or a stale copy is in the way)
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "tokenizer" / "vocab.json").is_file():
            shutil.rmtree(target, ignore_errors=True)
            return materialise_shipped_configs(name, target)
    return target


def config_dir_for(ref: BaseModelRef, work_dir: Path) -> Path:
    if ref.config_dir is not None:
        return Path(ref.config_dir)
    name = shipped_config_name(ref.family, ref.prediction_type)
    return materialise_shipped_configs(name, work_dir / "model-configs" / name)


def load_pipeline(
    ref: BaseModelRef, work_dir: Path, dtype: torch.dtype = torch.float32
) -> Pipeline:
    """The base model's pipeline on the CPU, loaded without network access."""
    quiet_libraries()
    cls = StableDiffusionXLPipeline if ref.family == "sdxl" else StableDiffusionPipeline
    extra = (
        {}
        if ref.family == "sdxl"
        else {
            "safety_checker": None,
            "feature_extractor": None,
            "requires_safety_checker": False,
        }
    )
    path = Path(ref.path)
    try:
        if path.is_dir():
            pipeline = cls.from_pretrained(path, dtype=dtype, local_files_only=True, **extra)
        else:
            pipeline = cls.from_single_file(
                str(path),
                config=str(config_dir_for(ref, work_dir)),
                dtype=dtype,
                local_files_only=True,
                **extra,
            )
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingError(
            "bad_config",
            f"{path.name} could not be loaded as a {ref.family} model: {first_line(exc)}. "
            "Check that the file is a complete download of the family chosen in the intent.",
        ) from exc
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def load_base_model(
    ref: BaseModelRef, work_dir: Path, dtype: torch.dtype = torch.float32
) -> BaseModel:
    pipeline = load_pipeline(ref, work_dir, dtype)
    if pipeline.scheduler.config.get("prediction_type") != ref.prediction_type:
        # The job's prediction type wins: samples must denoise the way training does.
        pipeline.scheduler = type(pipeline.scheduler).from_config(
            pipeline.scheduler.config, prediction_type=ref.prediction_type
        )
    noise_scheduler = DDPMScheduler.from_config(
        pipeline.scheduler.config, prediction_type=ref.prediction_type
    )
    return BaseModel(ref.family, ref.prediction_type, pipeline, noise_scheduler)
