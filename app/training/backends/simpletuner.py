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
- aspect buckets with fewer samples than batch × GPUs × accumulation are dropped.
"""

from __future__ import annotations

import json
from typing import Any

from app.training.backends import (
    BackendFiles,
    RunPlan,
    accelerate_prefix,
    launch_script,
    quote,
)
from app.words import plural

CONFIG_FILE = "config.json"
BACKENDS_FILE = "multidatabackend.json"
PROMPT_LIBRARY_FILE = "prompt_library.json"
FAMILIES = {"sd15": "sd1x", "sd2": "sd2x", "sdxl": "sdxl", "flux": "flux"}
OPTIMIZERS = {
    "adamw": "torch-adamw",
    "adamw8bit": "bnb-adamw8bit",
    "prodigy": "prodigy",
    "lion": "optimi-lion",
    "adafactor": "torch-adafactor",
}


def training_config(run: RunPlan, notes: list[str]) -> dict[str, Any]:
    config = run.config
    values: dict[str, Any] = {
        "--model_type": "lora",
        "--lora_type": "standard",
        "--model_family": FAMILIES[run.family],
        "--pretrained_model_name_or_path": str(run.base_model),
        "--output_dir": str(run.output_dir),
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
    command = f"CONFIG_BACKEND=json CONFIG_PATH={quote(run.files_dir / CONFIG_FILE)} {train}"
    files["launch.sh"] = launch_script([command], run.trainer_dir)
    notes.append(
        "SimpleTuner resumes from the newest checkpoint in its output folder: clear "
        f"{run.output_dir} before a fresh run with other settings."
    )
    small = [
        bucket
        for bucket in run.plan.buckets
        if bucket.samples
        < config.train_batch_size * config.num_gpus * config.gradient_accumulation_steps
    ]
    if small:
        notes.append(
            f"SimpleTuner drops aspect buckets with fewer samples than batch × GPUs × "
            f"accumulation: {plural(len(small), 'bucket')} here would be skipped."
        )
    return BackendFiles(backend="simpletuner", files=files, command=command, notes=notes)
