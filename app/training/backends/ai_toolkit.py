"""ai-toolkit: one YAML job (``job: extension`` with an ``sd_trainer`` process), run with
``python run.py job.yaml`` from the ai-toolkit clone.

Read from ai-toolkit commit 27a03a91 (2026-08-21); the keys each config class reads are in
app/data/backend_keys/ai_toolkit.json. What matters:
- every key is read with ``dict.get``: a misplaced or misspelled key is silently ignored,
  so keys are written only where the class that reads them looks (``lr`` under
  ``train``, ``linear`` under ``network``);
- the device: ``sd_trainer`` (jobs/process/BaseSDTrainProcess.py) never reads a
  ``device`` key; it trains on ``Accelerator().device`` (toolkit/accelerator.py), which
  is CUDA whenever a GPU is visible. Only the job level has a ``device`` key
  (jobs/ExtensionJob.py ``get_conf('device', 'cpu')``), and nothing in sd_trainer uses
  it. So ``config.device`` is written for the record, and a CPU run is launched with
  ``ACCELERATE_USE_CPU=1``, the switch accelerate reads (state.py AcceleratorState);
- ``train.steps`` is the run length; epochs are not a concept there;
- schedulers: ``cosine`` and ``cosine_with_restarts`` anneal over ``steps`` without
  warmup; ``constant_with_warmup`` takes ``num_warmup_steps``; ``linear`` is
  torch's LinearLR, so loragate sets it to decay from 1 to 0 (toolkit/scheduler.py);
- optimizer names: ``adamw``, ``adamw8bit``, ``prodigy``, ``lion``, ``adafactor``
  (toolkit/optimizer.py, lower-cased).
"""

from __future__ import annotations

from typing import Any

# PyYAML, not ruamel.yaml (which app/grimoire.py uses to keep the artist's comments):
# ai-toolkit reads its job with PyYAML, a YAML 1.1 parser, and ruamel writes 5e-05, a
# float in YAML 1.2 that PyYAML reads back as the string '5e-05'.
import yaml

from app.training.backends import (
    BackendFiles,
    RunPlan,
    accelerate_prefix,
    launch_script,
    quote,
)

JOB_FILE = "job.yaml"
ARCH = {"sd15": "sd1", "sd2": "sd2", "sdxl": "sdxl", "flux": "flux"}
FLAGS = {"sd2": "is_v2", "sdxl": "is_xl", "flux": "is_flux"}
DTYPES = {"no": "fp32", "fp16": "fp16", "bf16": "bf16"}
# What decides sd_trainer's device: accelerate's own switch (see the module docstring).
CPU_ENVIRONMENT = "ACCELERATE_USE_CPU=1"


def _scheduler(run: RunPlan, notes: list[str]) -> tuple[str, dict[str, Any]]:
    config = run.config
    name = config.lr_scheduler
    if name == "constant_with_warmup":
        return name, {"num_warmup_steps": config.lr_warmup_steps}
    if name == "linear":
        return name, {"start_factor": 1.0, "end_factor": 0.0}
    if name == "polynomial":
        notes.append("ai-toolkit has no polynomial schedule: a linear decay is written.")
        return "linear", {"start_factor": 1.0, "end_factor": 0.0}
    if config.lr_warmup_steps:
        notes.append(
            f"ai-toolkit's {name} schedule has no warmup: the {config.lr_warmup_steps} "
            "warmup steps are not used."
        )
    return name, {}


def job(run: RunPlan, notes: list[str]) -> dict[str, Any]:
    config = run.config
    scheduler, scheduler_params = _scheduler(run, notes)
    model: dict[str, Any] = {
        "name_or_path": str(run.base_model),
        "arch": ARCH[run.family],
        "is_v_pred": run.prediction_type == "v_prediction",
    }
    if run.family in FLAGS:
        model[FLAGS[run.family]] = True
    if config.quantize_base == "fp8":
        model["quantize"] = True  # optimum-quanto, qtype qfloat8 by default
    if config.cpu_offload:
        model["layer_offloading"] = True
    train: dict[str, Any] = {
        "batch_size": config.train_batch_size,
        "steps": config.max_train_steps,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "train_unet": True,
        "train_text_encoder": config.train_text_encoder,
        "gradient_checkpointing": config.gradient_checkpointing,
        "noise_scheduler": "flowmatch" if run.family == "flux" else "ddpm",
        "optimizer": config.optimizer,
        "lr": float(config.unet_lr),
        "unet_lr": float(config.unet_lr),
        "text_encoder_lr": float(config.text_encoder_lr),
        "lr_scheduler": scheduler,
        "lr_scheduler_params": scheduler_params,
        "dtype": DTYPES[config.mixed_precision],
        "noise_offset": float(config.noise_offset),
        "cache_text_embeddings": config.cache_text_encoder_outputs,
        "disable_sampling": not (config.sample_prompts and config.sample_every_n_steps),
    }
    if config.min_snr_gamma is not None and run.family != "flux":
        train["min_snr_gamma"] = float(config.min_snr_gamma)
    save_every = config.save_every_n_steps or max(
        1, (config.save_every_n_epochs or config.epochs) * run.plan.steps_per_epoch
    )
    datasets = [
        {
            "folder_path": str(subset.folder),
            "caption_ext": "txt",
            "caption_dropout_rate": float(config.caption_dropout_rate),
            "shuffle_tokens": config.shuffle_caption,
            "keep_tokens": config.keep_tokens,
            "num_repeats": subset.repeats,
            "cache_latents_to_disk": config.cache_latents,
            "resolution": [config.resolution],
            "buckets": config.enable_bucket,
            "bucket_tolerance": config.bucket_reso_steps,
        }
        for subset in run.subsets
    ]
    process: dict[str, Any] = {
        "type": "sd_trainer",
        "training_folder": str(run.output_dir),
        "trigger_word": run.trigger_word,
        "training_seed": config.seed,
        "network": {
            "type": "lora",
            "linear": config.network_rank,
            "linear_alpha": float(config.network_alpha),
        },
        "save": {
            "dtype": "float16" if config.mixed_precision == "fp16" else "bf16",
            "save_every": save_every,
            "max_step_saves_to_keep": config.save_last_n,
        },
        "datasets": datasets,
        "train": train,
        "model": model,
        "logging": {"log_every": 1, "use_wandb": False, "verbose": False},
    }
    prompts = [prompt.strip() for prompt in config.sample_prompts if prompt.strip()]
    if prompts and config.sample_every_n_steps:
        process["sample"] = {
            "sampler": "flowmatch" if run.family == "flux" else "ddpm",
            "sample_every": config.sample_every_n_steps,
            "width": config.resolution,
            "height": config.resolution,
            "prompts": prompts,
            "neg": "",
            "seed": config.seed,
            "walk_seed": True,
            "guidance_scale": 3.5 if run.family == "flux" else 7.0,
            "sample_steps": 28,
        }
    return {
        "job": "extension",
        "config": {"name": run.output_name, "device": config.device, "process": [process]},
        "meta": {"name": "[name]", "version": "1.0", "written_by": "loragate"},
    }


def generate(run: RunPlan) -> BackendFiles:
    notes: list[str] = []
    document = job(run, notes)
    job_path = run.files_dir / JOB_FILE
    if run.config.num_gpus > 1:
        command = " ".join([*accelerate_prefix(run.config), "run.py", quote(job_path)])
    else:
        command = f"python run.py {quote(job_path)}"
    if run.config.device == "cpu":
        command = f"{CPU_ENVIRONMENT} {command}"
        notes.append(
            "ai-toolkit takes its device from accelerate, not from the job file: the "
            f"command sets {CPU_ENVIRONMENT} so it trains on the CPU."
        )
    notes.append(
        "ai-toolkit resumes from the newest file in its output folder and skips up to "
        "three out-of-memory batches before failing."
    )
    if not run.trainer_dir:
        notes.append(
            "Run the command from your ai-toolkit folder (set backends.ai_toolkit in studio.md)."
        )
    return BackendFiles(
        backend="ai-toolkit",
        files={
            JOB_FILE: yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
            "launch.sh": launch_script(
                [command],
                run.trainer_dir,
                entry="run.py",
                trainer="ai-toolkit",
                studio_key="ai_toolkit",
            ),
        },
        command=command,
        notes=notes,
    )
