"""SimpleTuner: ``config.json`` (every key becomes a ``--key=value`` argument) and
``multidatabackend.json`` (one local dataset per kohya folder, plus the text-embed cache).

Read from SimpleTuner 4.8.0 (commit bc8e6ab7, 2026-08-22); the accepted keys with the type
argparse parses them as are in app/data/backend_keys/simpletuner.json. What matters:
- unknown keys are rejected, and a numeric option parses as an integer unless the
  registry gives it a float default: ``--text_encoder_lr`` and ``--snr_gamma`` take only
  whole numbers there, so fractional values cannot be written;
- optimizer names are SimpleTuner's own (``bnb-adamw8bit``, ``optimi-lion``,
  ``torch-adafactor``, ``prodigy``); ``adamw8bit`` is rejected;
- ``--max_train_steps`` requires ``--num_train_epochs 0`` (cmd_args.py);
- ``repeats`` counts extra passes (kohya's 1 is SimpleTuner's 0, DATALOADER.md);
- aspect buckets with fewer samples than batch × GPUs × accumulation are dropped or
  refused (``skipped_buckets``; Gate 2 blocks them).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.dataset.buckets import Size, count_batches
from app.dataset.inventory import DatasetItem
from app.training.backends import (
    BackendFiles,
    RunPlan,
    accelerate_prefix,
    launch_script,
    quote,
)
from app.training.config import TrainingConfig, bucket_spec
from app.words import plural

CONFIG_FILE = "config.json"
BACKENDS_FILE = "multidatabackend.json"
PROMPT_LIBRARY_FILE = "prompt_library.json"
FAMILIES = {"sd15": "sd1x", "sd2": "sd2x", "sdxl": "sdxl", "flux": "flux"}
# --base_model_precision values (quantisation of the base model; helpers/training/quantisation).
BASE_PRECISION = {"fp8": "fp8-quanto", "nf4": "nf4-bnb"}
OPTIMIZERS = {
    "adamw": "torch-adamw",
    "adamw8bit": "bnb-adamw8bit",
    "prodigy": "prodigy",
    "lion": "optimi-lion",
    "adafactor": "torch-adafactor",
}


@dataclass(frozen=True)
class SkippedBucket:
    folder: str  # the data backend it belongs to: one per kohya folder, {repeats}_{concept}
    bucket: Size
    images: int
    samples: int  # images × repeats


def effective_batch(config: TrainingConfig) -> int:
    return config.train_batch_size * config.num_gpus * config.gradient_accumulation_steps


def skipped_buckets(items: Iterable[DatasetItem], config: TrainingConfig) -> list[SkippedBucket]:
    """The aspect buckets SimpleTuner will not train: per data backend, every bucket whose
    images × repeats fall short of batch × GPUs × accumulation. SimpleTuner 4.8
    (helpers/metadata/backends/base.py) removes a bucket below the batch size with a log
    warning (``_prune_small_buckets``) and refuses one below batch × GPUs × accumulation
    with "Dataset configuration will produce zero usable batches"
    (``split_buckets_between_processes``). The buckets are loragate's (sd-scripts' rule);
    SimpleTuner's own pixel-area buckets are close to them, so the count is an estimate."""
    folders: dict[tuple[str, int], list[DatasetItem]] = defaultdict(list)
    for item in items:
        if item.included:
            folders[(item.concept, item.repeats)].append(item)
    spec, needed = bucket_spec(config), effective_batch(config)
    skipped = []
    for (concept, repeats), group in sorted(folders.items()):
        sizes = ((item.width, item.height, item.repeats) for item in group)
        for bucket in count_batches(sizes, spec, config.train_batch_size):
            if bucket.samples < needed:
                skipped.append(
                    SkippedBucket(
                        f"{repeats}_{concept}", bucket.bucket, bucket.images, bucket.samples
                    )
                )
    return skipped


def skipped_words(skipped: list[SkippedBucket]) -> str:
    """ "5 images in 3 aspect buckets": what SimpleTuner would leave out."""
    images = sum(bucket.images for bucket in skipped)
    return f"{plural(images, 'image')} in {plural(len(skipped), 'aspect bucket')}"


def training_config(run: RunPlan, notes: list[str]) -> dict[str, Any]:
    config = run.config
    values: dict[str, Any] = {
        "--model_type": "lora",
        "--lora_type": "standard",
        "--model_family": FAMILIES[run.family],
        "--pretrained_model_name_or_path": str(run.base_model),
        "--output_dir": str(run.output_dir),
        # Default "logs", under the folder it runs from: kept with the run's output.
        "--logging_dir": str(run.output_dir / "logs"),
        "--data_backend_config": str(run.files_dir / BACKENDS_FILE),
        "--lora_rank": config.network_rank,
        "--lora_alpha": float(config.network_alpha),
        "--learning_rate": float(config.unet_lr),
        "--optimizer": OPTIMIZERS[config.optimizer],
        "--lr_scheduler": config.lr_scheduler,
        "--lr_warmup_steps": config.lr_warmup_steps,
        # SimpleTuner refuses max_train_steps unless num_train_epochs is 0.
        "--max_train_steps": config.max_train_steps,
        "--num_train_epochs": 0,
        "--train_batch_size": config.train_batch_size,
        "--gradient_accumulation_steps": config.gradient_accumulation_steps,
        "--resolution": config.resolution,
        "--resolution_type": "pixel_area",
        "--minimum_image_size": 0,
        "--mixed_precision": config.mixed_precision,
        "--gradient_checkpointing": config.gradient_checkpointing,
        "--noise_offset": float(config.noise_offset),
        "--caption_dropout_probability": float(config.caption_dropout_rate),
        "--seed": config.seed,
        "--checkpoints_total_limit": config.save_last_n,
        "--report_to": "none",
        "--num_processes": config.num_gpus,
        # Its default, "latest", takes the highest checkpoint-N even when it is half
        # written (no .guard): loragate names the one to continue from, or none.
        "--resume_from_checkpoint": run.resume_from.name if run.resume_from else "",
    }
    if config.train_text_encoder:
        values["--train_text_encoder"] = True
        notes.append(
            "SimpleTuner 4.8 parses --text_encoder_lr as a whole number, so the text "
            "encoder trains at the main learning rate."
        )
    if config.min_snr_gamma is not None and run.family != "flux":
        gamma = round(config.min_snr_gamma)
        values["--snr_gamma"] = gamma
        if gamma != config.min_snr_gamma:
            notes.append(f"SimpleTuner takes a whole-number SNR gamma: {gamma} is written.")
    if run.prediction_type == "v_prediction":
        values["--prediction_type"] = "v_prediction"
    if not config.cache_latents:
        values["--vae_cache_ondemand"] = True
    if config.quantize_base in BASE_PRECISION:
        values["--base_model_precision"] = BASE_PRECISION[config.quantize_base]
    if config.cpu_offload:
        values["--enable_group_offload"] = True
    if config.save_every_n_steps:
        values["--checkpoint_step_interval"] = config.save_every_n_steps
    elif config.save_every_n_epochs:
        values["--checkpoint_step_interval"] = max(
            1, config.save_every_n_epochs * run.plan.steps_per_epoch
        )
    prompts = [prompt.strip() for prompt in config.sample_prompts if prompt.strip()]
    if prompts and config.sample_every_n_steps:
        values["--validation_prompt"] = prompts[0]
        values["--validation_step_interval"] = config.sample_every_n_steps
        values["--validation_resolution"] = f"{config.resolution}x{config.resolution}"
        values["--validation_seed"] = config.seed
        if len(prompts) > 1:
            values["--user_prompt_library"] = str(run.files_dir / PROMPT_LIBRARY_FILE)
    else:
        values["--validation_disable"] = True
    return values


def data_backends(run: RunPlan) -> list[dict[str, Any]]:
    config = run.config
    cache = run.output_dir / "cache"
    backends: list[dict[str, Any]] = []
    for subset in run.subsets:
        backend_id = f"{subset.repeats}_{subset.concept}"
        backends.append(
            {
                "id": backend_id,
                "type": "local",
                "instance_data_dir": str(subset.folder),
                "caption_strategy": "textfile",
                "resolution": config.resolution,
                "resolution_type": "pixel_area",
                "minimum_image_size": config.min_bucket_reso,
                "crop": False,
                # kohya counts every pass; SimpleTuner counts extra passes.
                "repeats": subset.repeats - 1,
                "cache_dir_vae": str(cache / "vae" / backend_id),
            }
        )
    backends.append(
        {
            "id": "text-embeds",
            "dataset_type": "text_embeds",
            "default": True,
            "type": "local",
            "cache_dir": str(cache / "text"),
        }
    )
    return backends


def generate(run: RunPlan) -> BackendFiles:
    notes: list[str] = []
    config = run.config
    training = training_config(run, notes)
    files = {
        CONFIG_FILE: json.dumps(training, indent=2) + "\n",
        BACKENDS_FILE: json.dumps(data_backends(run), indent=2) + "\n",
    }
    if "--user_prompt_library" in training:
        prompts = [prompt.strip() for prompt in config.sample_prompts if prompt.strip()]
        library = {f"prompt_{index}": prompt for index, prompt in enumerate(prompts[1:], 1)}
        files[PROMPT_LIBRARY_FILE] = json.dumps(library, indent=2) + "\n"
    if config.shuffle_caption:
        notes.append(
            "SimpleTuner has no kohya-style tag shuffle with keep-tokens: captions are used "
            "as written."
        )
    if config.num_gpus > 1:
        train = " ".join([*accelerate_prefix(config), "-m", "simpletuner.train"])
    else:
        train = "simpletuner-train"
    # SimpleTuner's console shows only errors unless SIMPLETUNER_LOG_LEVEL says otherwise
    # (helpers/log_format.py reads it from the environment, default ERROR), and its
    # "Training has completed." is an INFO line: without it no run could be seen to end.
    command = (
        f"CONFIG_BACKEND=json CONFIG_PATH={quote(run.files_dir / CONFIG_FILE)} "
        f"SIMPLETUNER_LOG_LEVEL=INFO {train}"
    )
    files["launch.sh"] = launch_script([command], run.trainer_dir)
    notes.append(
        "SimpleTuner resumes only from the checkpoint loragate names "
        "(--resume_from_checkpoint): a run started afresh starts from step 0."
    )
    skipped = skipped_buckets(run.items, config)
    if skipped:
        notes.append(
            f"SimpleTuner drops or refuses aspect buckets with fewer samples than batch × "
            f"GPUs × accumulation ({effective_batch(config)}): {skipped_words(skipped)} "
            "would not be trained on."
        )
    return BackendFiles(backend="simpletuner", files=files, command=command, notes=notes)
