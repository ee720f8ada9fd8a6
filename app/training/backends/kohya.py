"""kohya sd-scripts: ``config.toml`` for ``--config_file``, ``dataset.toml`` for
``--dataset_config``, ``prompts.txt`` for samples, and the ``accelerate launch`` command of
``train_network.py`` / ``sdxl_train_network.py`` / ``flux_train_network.py``.

Read from sd-scripts at commit 48d368fa (2026-02-16); the accepted options are in
app/data/backend_keys/kohya.json. What matters:
- ``--config_file`` is lenient (unknown keys kept, no type conversion), so every value
  is written with the option's own type;
- ``--dataset_config`` goes through a strict voluptuous schema (library/config_util.py):
  only known keys, floats as floats;
- ``max_train_steps`` defaults to 1600 and ``max_train_epochs`` overrides it when set
  (train_network.py lines 799–805): loragate writes the worked-out steps and never
  ``max_train_epochs``;
- the ``constant`` scheduler refuses warmup (train_util.get_scheduler_fix);
- only ``save_state`` makes a save resumable: with it every save also writes
  ``NAME-stepNNNNNNNN-state/`` (``NAME-NNNNNN-state/`` for epochs) through
  ``accelerator.save_state``, and ``resume = <that folder>`` continues from it
  (train_util.resume_from_local_or_hf_if_specified). Without
  ``skip_until_initial_step`` (which miscounts with gradient accumulation) it starts
  again at the beginning of the state's epoch and counts its steps from 0 again:
  app/runs/resume_points.py turns its numbers back into the run's.
"""

from __future__ import annotations

from typing import Any

import tomli_w

from app.training.backends import (
    BackendFiles,
    BackendUnsupported,
    RunPlan,
    accelerate_prefix,
    launch_script,
    quote,
)

CONFIG_FILE = "config.toml"
DATASET_FILE = "dataset.toml"
PROMPTS_FILE = "prompts.txt"
SCRIPTS = {
    "sd15": "train_network.py",
    "sd2": "train_network.py",
    "sdxl": "sdxl_train_network.py",
    "flux": "flux_train_network.py",
}
# Bucket steps each script accepts: train_network.py's NetworkTrainer.assert_extra_args
# checks ``verify_bucket_reso_steps(64)``; sdxl_train_network.py overrides it with 32;
# flux_train_network.py calls the base check first (64), then its own 32, so Flux on
# sd-scripts needs 64 although its model would take 32.
BUCKET_STEP_MULTIPLE = {"sd15": 64, "sd2": 64, "sdxl": 32, "flux": 64}
OPTIMIZERS = {
    "adamw": "AdamW",
    "adamw8bit": "AdamW8bit",
    "prodigy": "Prodigy",
    "lion": "Lion",
    "adafactor": "Adafactor",
}
# Flux needs its text encoders and autoencoder as separate files (flux_train_network.py
# --clip_l, --t5xxl, --ae); loragate takes them from the base model's ``parts`` in
# studio.md (written when Flux is downloaded by name), else looks beside the checkpoint.
FLUX_COMPONENTS = {
    "clip_l": ("clip_l",),
    "t5xxl": ("t5xxl", "t5_xxl"),
    "ae": ("ae", "flux_vae", "vae"),
}


def _flux_components(run: RunPlan) -> dict[str, str]:
    folder = run.base_model.parent
    found = {key: str(path) for key, path in run.base_parts.items() if key in FLUX_COMPONENTS}
    for key, stems in FLUX_COMPONENTS.items():
        if key in found:
            continue
        for candidate in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.sft")):
            if candidate != run.base_model and candidate.stem.lower().startswith(stems):
                found[key] = str(candidate)
                break
    missing = [key for key in FLUX_COMPONENTS if key not in found]
    if missing or run.base_model.is_dir():
        raise BackendUnsupported(
            "sd-scripts trains Flux from single files: the transformer checkpoint plus "
            "CLIP-L, T5-XXL and the autoencoder. Download Flux by name (`loragate models "
            "pull flux-dev`), which brings all four, or put clip_l*.safetensors, "
            f"t5xxl*.safetensors and ae.safetensors beside {run.base_model.name}, or name "
            "them under the model's `parts:` (clip_l, t5xxl, ae) in studio.md (missing: "
            f"{', '.join(missing) or 'a single-file checkpoint'})."
        )
    return found


def training_config(run: RunPlan) -> dict[str, Any]:
    config = run.config
    values: dict[str, Any] = {
        "pretrained_model_name_or_path": str(run.base_model),
        "output_dir": str(run.output_dir),
        "output_name": run.output_name,
        "save_model_as": "safetensors",
        "network_module": "networks.lora_flux" if run.family == "flux" else "networks.lora",
        "network_dim": config.network_rank,
        "network_alpha": float(config.network_alpha),
        "unet_lr": float(config.unet_lr),
        "learning_rate": float(config.unet_lr),
        "optimizer_type": OPTIMIZERS[config.optimizer],
        "lr_scheduler": config.lr_scheduler,
        "lr_warmup_steps": config.lr_warmup_steps,
        # Explicit, always: sd-scripts would otherwise train 1600 steps.
        "max_train_steps": config.max_train_steps,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "mixed_precision": config.mixed_precision,
        "save_precision": "fp16" if config.mixed_precision == "fp16" else "bf16",
        "gradient_checkpointing": config.gradient_checkpointing,
        "cache_latents": config.cache_latents,
        "cache_latents_to_disk": config.cache_latents,
        "seed": config.seed,
        "sdpa": True,
        "save_last_n_epochs": config.save_last_n,
        "max_data_loader_n_workers": 2,
        "persistent_data_loader_workers": True,
        "metadata_trigger_phrase": run.trigger_word,
    }
    if config.train_text_encoder:
        values["text_encoder_lr"] = float(config.text_encoder_lr)
    else:
        values["network_train_unet_only"] = True
    if config.optimizer == "adafactor":
        values["optimizer_args"] = [
            "scale_parameter=False",
            "relative_step=False",
            "warmup_init=False",
        ]
    if config.noise_offset > 0:
        values["noise_offset"] = float(config.noise_offset)
    if config.min_snr_gamma is not None and run.family != "flux":
        values["min_snr_gamma"] = float(config.min_snr_gamma)
    if config.save_every_n_epochs:
        values["save_every_n_epochs"] = config.save_every_n_epochs
    if config.save_every_n_steps:
        values["save_every_n_steps"] = config.save_every_n_steps
        values["save_last_n_steps"] = config.save_every_n_steps * config.save_last_n
    if config.save_every_n_epochs or config.save_every_n_steps:
        values["save_state"] = True  # the folders an OOM relaunch or a Resume continues from
    if run.resume_from is not None:
        values["resume"] = str(run.resume_from)
    if config.sample_prompts and config.sample_every_n_steps:
        values["sample_prompts"] = str(run.files_dir / PROMPTS_FILE)
        values["sample_every_n_steps"] = config.sample_every_n_steps
        values["sample_sampler"] = "euler_a" if run.family != "flux" else "euler"
    if config.quantize_base == "fp8":
        values["fp8_base"] = True
    if config.full_bf16:
        values["full_bf16"] = True
    if config.blocks_to_swap and run.family == "flux":
        values["blocks_to_swap"] = config.blocks_to_swap  # flux_train_network.py only
    if run.family == "sd2":
        values["v2"] = True
    if run.prediction_type == "v_prediction":
        values["v_parameterization"] = True
    if run.family in ("sdxl", "flux"):
        values["cache_text_encoder_outputs"] = config.cache_text_encoder_outputs
        values["cache_text_encoder_outputs_to_disk"] = config.cache_text_encoder_outputs
    if run.family == "flux":
        values.update(_flux_components(run))
        values.update(
            {
                "guidance_scale": 1.0,
                "timestep_sampling": "shift",
                "discrete_flow_shift": 3.1582,
                "model_prediction_type": "raw",
            }
        )
    return values


def dataset_config(run: RunPlan) -> dict[str, Any]:
    config = run.config
    general: dict[str, Any] = {
        "shuffle_caption": config.shuffle_caption,
        "keep_tokens": config.keep_tokens,
        "caption_extension": ".txt",
        "caption_dropout_rate": float(config.caption_dropout_rate),
    }
    dataset: dict[str, Any] = {
        "resolution": config.resolution,
        "batch_size": config.train_batch_size,
        "enable_bucket": config.enable_bucket,
        "min_bucket_reso": config.min_bucket_reso,
        "max_bucket_reso": config.max_bucket_reso,
        "bucket_reso_steps": config.bucket_reso_steps,
        "bucket_no_upscale": config.bucket_no_upscale,
        "subsets": [
            {"image_dir": str(subset.folder), "num_repeats": subset.repeats}
            for subset in run.subsets
        ],
    }
    return {"general": general, "datasets": [dataset]}


def prompts_file(run: RunPlan) -> str:
    side = run.config.resolution
    lines = [
        f"{prompt.strip()} --w {side} --h {side} --d {run.config.seed} --s 28"
        + (" --l 7" if run.family != "flux" else " --g 3.5")
        for prompt in run.config.sample_prompts
        if prompt.strip()
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def generate(run: RunPlan) -> BackendFiles:
    notes: list[str] = []
    config = run.config
    if config.lr_scheduler == "constant" and config.lr_warmup_steps:
        notes.append(
            "sd-scripts refuses warmup with the constant schedule: Gate 2 blocks this; "
            "choose constant_with_warmup or warmup 0."
        )
    training = training_config(run)
    if run.family in ("sd15", "sd2") and config.cache_text_encoder_outputs:
        notes.append(
            "train_network.py (SD 1.x/2.x) has no text-encoder output cache: the text "
            "encoder stays on the GPU."
        )
    if not run.subsets:
        notes.append("The dataset has no included images yet: the dataset config lists no subsets.")
    script = SCRIPTS[run.family]
    command = " ".join(
        [
            *accelerate_prefix(config),
            script,
            "--config_file",
            quote(run.files_dir / CONFIG_FILE),
            "--dataset_config",
            quote(run.files_dir / DATASET_FILE),
        ]
    )
    files = {
        CONFIG_FILE: tomli_w.dumps(training),
        DATASET_FILE: tomli_w.dumps(dataset_config(run)),
        "launch.sh": launch_script(
            [command], run.trainer_dir, entry=script, trainer="sd-scripts", studio_key="kohya"
        ),
    }
    if "sample_prompts" in training:
        files[PROMPTS_FILE] = prompts_file(run)
    if not run.trainer_dir:
        notes.append(
            "Run the command from your sd-scripts folder (set backends.kohya in studio.md)."
        )
    return BackendFiles(backend="kohya", files=files, command=command, notes=notes)
