"""The LoRA file's metadata: sd-scripts' ``ss_*`` keys (``train_network.py``), which
AUTOMATIC1111's extra-networks page reads (tag frequency, base model, rank), and the
Stability AI model spec's ``modelspec.*`` keys (github.com/Stability-AI/ModelSpec)."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.training.job import NativeJob
from app.training.native.dataset import Sample, dataset_dirs, tag_frequency

BASE_MODEL_VERSION = {"sd15": "sd_v1", "sdxl": "sdxl_base_v1-0"}
ARCHITECTURE = {"sd15": "stable-diffusion-v1/lora", "sdxl": "stable-diffusion-xl-v1-base/lora"}
IMPLEMENTATION = "https://github.com/Stability-AI/generative-models"


@dataclass(frozen=True)
class RunFacts:
    """What the metadata reports that the job file alone does not say."""

    samples: list[Sample]
    total_steps: int
    epochs: int  # the epochs the run covers: max_train_steps may end it before config.epochs
    started_at: float  # Unix seconds
    session_id: str


def lora_metadata(
    job: NativeJob, facts: RunFacts, step: int, epoch: int, tensor_sha256: str
) -> dict[str, str]:
    config = job.config
    family = job.base_model.family
    name = config.output_name or job.project
    resolution = config.resolution
    buckets = Counter(s.bucket for s in facts.samples for _ in range(s.repeats))
    metadata = {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(config.network_rank),
        "ss_network_alpha": _number(config.network_alpha),
        "ss_network_args": json.dumps({}),
        "ss_base_model_version": BASE_MODEL_VERSION[family],
        "ss_v2": "False",
        "ss_v_parameterization": str(job.base_model.prediction_type == "v_prediction"),
        "ss_sd_model_name": Path(job.base_model.path).name,
        "ss_output_name": name,
        "ss_training_comment": f"trigger word: {job.trigger_word}; trained with loragate",
        "ss_session_id": facts.session_id,
        "ss_training_started_at": str(facts.started_at),
        "ss_training_finished_at": str(time.time()),
        "ss_resolution": f"({resolution}, {resolution})",
        "ss_num_train_images": str(sum(s.repeats for s in facts.samples)),
        "ss_num_reg_images": "0",
        "ss_num_batches_per_epoch": str(
            sum(-(-n // config.train_batch_size) for n in buckets.values())
        ),
        "ss_num_epochs": str(facts.epochs),
        "ss_epoch": str(epoch),
        "ss_steps": str(step),
        "ss_max_train_steps": str(facts.total_steps),
        "ss_batch_size_per_device": str(config.train_batch_size),
        "ss_gradient_accumulation_steps": str(config.gradient_accumulation_steps),
        "ss_learning_rate": _number(config.unet_lr),
        "ss_unet_lr": _number(config.unet_lr),
        "ss_text_encoder_lr": _number(config.text_encoder_lr),
        "ss_optimizer": config.optimizer,
        "ss_lr_scheduler": config.lr_scheduler,
        "ss_lr_warmup_steps": str(config.lr_warmup_steps),
        "ss_mixed_precision": config.mixed_precision,
        "ss_gradient_checkpointing": str(config.gradient_checkpointing),
        "ss_cache_latents": str(config.cache_latents),
        "ss_seed": str(config.seed),
        "ss_noise_offset": _number(config.noise_offset),
        "ss_min_snr_gamma": _number(config.min_snr_gamma) if config.min_snr_gamma else "None",
        "ss_caption_dropout_rate": _number(config.caption_dropout_rate),
        "ss_shuffle_caption": str(config.shuffle_caption),
        "ss_keep_tokens": str(config.keep_tokens),
        "ss_enable_bucket": str(config.enable_bucket),
        "ss_min_bucket_reso": str(config.min_bucket_reso),
        "ss_max_bucket_reso": str(config.max_bucket_reso),
        "ss_bucket_no_upscale": str(config.bucket_no_upscale),
        "ss_bucket_info": json.dumps(
            {
                "buckets": {
                    str(i): {"resolution": list(bucket), "count": count}
                    for i, (bucket, count) in enumerate(sorted(buckets.items()))
                },
            }
        ),
        "ss_tag_frequency": json.dumps(tag_frequency(facts.samples)),
        "ss_dataset_dirs": json.dumps(dataset_dirs(facts.samples)),
        "ss_text_encoder_trained": str(config.train_text_encoder),
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": ARCHITECTURE[family],
        "modelspec.implementation": IMPLEMENTATION,
        "modelspec.title": name,
        "modelspec.resolution": f"{resolution}x{resolution}",
        "modelspec.prediction_type": "v"
        if job.base_model.prediction_type == "v_prediction"
        else "epsilon",
        "modelspec.date": datetime.fromtimestamp(facts.started_at, UTC).isoformat(
            timespec="seconds"
        ),
        "modelspec.trigger_phrase": job.trigger_word,
        "modelspec.usage_hint": f"Trigger word: {job.trigger_word}",
        "modelspec.description": f"LoRA trained with loragate for the project {job.project}.",
        "modelspec.hash_sha256": tensor_sha256,
    }
    return metadata


def _number(value: float) -> str:
    return repr(float(value))
