"""Everything a run needs before its first step, in the order that fails fastest: the
dataset (seconds) before the base model (minutes for a real SDXL), the model before the
caches that need its VAE and text encoders."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.training.config import bucket_spec
from app.training.job import NativeJob
from app.training.native.captions import CaptionMaker
from app.training.native.dataset import Sample, check_bucket_multiple, read_dataset
from app.training.native.distributed import Cluster, barrier
from app.training.native.events import log
from app.training.native.latents import Latents
from app.training.native.lora import LoraModule, attach_lora, lora_parameters, upcast_lora
from app.training.native.models import BaseModel, load_base_model
from app.training.native.optim import build_lr_scheduler, build_optimizer, parameter_groups
from app.training.native.order import steps_per_epoch
from app.training.native.precision import Precision, choose_precision
from app.training.native.samples import prompt_texts
from app.training.native.text import TextEncoding


@dataclass
class Run:
    job: NativeJob
    cluster: Cluster
    precision: Precision
    samples: list[Sample]
    model: BaseModel
    loras: list[LoraModule]
    captions: CaptionMaker
    text: TextEncoding
    latents: Latents
    optimizer: torch.optim.Optimizer
    lr_scheduler: torch.optim.lr_scheduler.LambdaLR
    steps_per_epoch: int
    total_steps: int
    order_fingerprint: str

    @property
    def cache_dir(self) -> Path:
        return cache_dir(self.job)

    @property
    def epochs(self) -> int:
        """The epochs the run really covers (the last one may be partial): what
        max_train_steps decides when it is set, not the config's epochs."""
        return -(-self.total_steps // self.steps_per_epoch)


def cache_dir(job: NativeJob) -> Path:
    return Path(job.cache_dir) if job.cache_dir else Path(job.output_dir) / "cache"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def total_steps(job: NativeJob, per_epoch: int) -> int:
    total = job.config.max_train_steps or job.config.epochs * per_epoch
    if job.dry_run_steps is not None:
        total = min(total, job.dry_run_steps)
    return total


def prepare(job: NativeJob, cluster: Cluster | None = None) -> Run:
    config = job.config
    cluster = cluster or Cluster()
    seed_everything(config.seed)
    precision = choose_precision(config, cluster.local_rank)
    samples = read_dataset(Path(job.dataset_dir), job.trigger_word, bucket_spec(job.config))
    per_epoch = steps_per_epoch(
        samples, config.train_batch_size, config.gradient_accumulation_steps, cluster.world
    )
    log(f"{len(samples)} images, {per_epoch} steps per epoch; loading {job.base_model.path}")
    # Loaded straight in the training precision: a real SDXL in float32 would need
    # 14 GB of host memory on its way to the GPU.
    model = load_base_model(job.base_model, cache_dir(job), precision.weight_dtype)
    check_bucket_multiple(samples, model.pipeline.vae_scale_factor)

    loras = attach_lora(
        model, config.network_rank, config.network_alpha, config.train_text_encoder, config.seed
    )
    _place(model, precision)
    upcast_lora(loras)
    if config.gradient_checkpointing:
        model.unet.enable_gradient_checkpointing()
        if config.train_text_encoder:
            for encoder in model.text_encoders:
                _checkpoint_text_encoder(encoder)
    model.unet.train()
    for encoder in model.text_encoders:
        encoder.train(config.train_text_encoder)

    # Each process draws its own caption variations (rank 0: the single-GPU stream).
    captions = CaptionMaker(
        config.shuffle_caption,
        config.keep_tokens,
        config.caption_dropout_rate,
        config.seed + cluster.rank,
    )
    text = TextEncoding(model, precision.device, trainable=config.train_text_encoder)
    _cache_text(job, samples, captions, text, model, precision)
    latents = _latents(job, samples, model, precision, cluster)

    groups = parameter_groups(
        config, lora_parameters(loras, "unet"), lora_parameters(loras, "text_encoder")
    )
    optimizer = build_optimizer(config, groups)
    total = total_steps(job, per_epoch)
    lr_scheduler = build_lr_scheduler(config, optimizer, total)
    return Run(
        job=job,
        cluster=cluster,
        precision=precision,
        samples=samples,
        model=model,
        loras=loras,
        captions=captions,
        text=text,
        latents=latents,
        optimizer=optimizer,
        lr_scheduler=lr_scheduler,
        steps_per_epoch=per_epoch,
        total_steps=total,
        order_fingerprint=order_fingerprint(job, samples),
    )


def _checkpoint_text_encoder(encoder: torch.nn.Module) -> None:
    # transformers 5.23 renamed gradient checkpointing to activation checkpointing.
    kwargs = {"use_reentrant": False}
    if hasattr(encoder, "activation_checkpointing_enable"):
        encoder.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def _place(model: BaseModel, precision: Precision) -> None:
    model.unet.to(precision.device, precision.weight_dtype)
    for encoder in model.text_encoders:
        encoder.to(precision.device, precision.weight_dtype)
    model.vae.to(precision.device, torch.float32)


def _cache_text(
    job: NativeJob,
    samples: list[Sample],
    captions: CaptionMaker,
    text: TextEncoding,
    model: BaseModel,
    precision: Precision,
) -> None:
    config = job.config
    if not config.cache_text_encoder_outputs or config.train_text_encoder:
        return
    if not captions.texts_are_known:
        log("text encoder outputs are not cached: shuffled captions differ at every step")
        return
    texts = {s.caption for s in samples} | {""} | prompt_texts(list(config.sample_prompts))
    with torch.no_grad(), precision.autocast():
        text.cache(texts)
    if precision.cuda:
        for encoder in model.text_encoders:
            encoder.to("cpu")
        torch.cuda.empty_cache()
    log(f"cached text encoder outputs for {len(texts)} caption(s)")


def _latents(
    job: NativeJob, samples: list[Sample], model: BaseModel, precision: Precision, cluster: Cluster
) -> Latents:
    folder = None
    if job.config.cache_latents:
        folder = cache_dir(job) / "latents" / _model_key(job, model)
    latents = Latents(model.vae, precision.device, folder)
    if cluster.main:  # one process encodes; the others read its files
        latents.fill_cache(samples)
    barrier(cluster)
    if latents.cached and precision.cuda:
        model.vae.to("cpu")  # back on the GPU only to decode samples
        torch.cuda.empty_cache()
    return latents


def _model_key(job: NativeJob, model: BaseModel) -> str:
    """Latents depend on the VAE: key the cache by the base model file and VAE config."""
    path = Path(job.base_model.path)
    stat = path.stat()
    identity = [str(path.resolve()), stat.st_size, stat.st_mtime_ns, dict(model.vae.config)]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


def order_fingerprint(job: NativeJob, samples: list[Sample]) -> str:
    """What an epoch's batch order depends on; a resumed run reuses the checkpoint's
    order only when this is unchanged."""
    config = job.config
    parts = [
        [(s.relative, s.repeats, s.bucket) for s in samples],
        config.train_batch_size,
        config.gradient_accumulation_steps,
        config.seed,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
