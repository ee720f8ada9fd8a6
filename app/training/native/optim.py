"""Optimizers and learning-rate schedules, spelled as TrainingConfig spells them.

UNet and text-encoder adapters are separate parameter groups so each gets its own
learning rate. Settings beyond the learning rate follow the common LoRA recipes:
weight decay 0.01 for the Adam family and Lion; Prodigy with bias correction and, when
there is a warmup, its safeguard (the settings its authors recommend for diffusion
fine-tuning, github.com/konstmish/prodigy); Adafactor with a fixed learning rate
instead of its relative step (as sd-scripts' docs suggest for LoRA).
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
from diffusers.optimization import get_scheduler

from app.training.config import TrainingConfig
from app.training.native.events import log

WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0  # sd-scripts' and diffusers' training scripts' default clip


def parameter_groups(
    config: TrainingConfig, unet: list[torch.nn.Parameter], text: list[torch.nn.Parameter]
) -> list[dict[str, Any]]:
    groups = [{"params": unet, "lr": config.unet_lr}]
    if text:
        groups.append({"params": text, "lr": config.text_encoder_lr})
    return groups


def build_optimizer(config: TrainingConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    name = config.optimizer
    if name == "adamw":
        return torch.optim.AdamW(groups, weight_decay=WEIGHT_DECAY)
    if name == "adamw8bit":
        bnb = importlib.import_module("bitsandbytes")
        return bnb.optim.AdamW8bit(groups, weight_decay=WEIGHT_DECAY)
    if name == "prodigy":
        if config.unet_lr < 0.1:
            log(
                f"Prodigy finds its own step size and expects a learning rate near 1.0; "
                f"{config.unet_lr:g} will scale its steps down by that much"
            )
        prodigy = importlib.import_module("prodigyopt")
        return prodigy.Prodigy(
            groups,
            weight_decay=WEIGHT_DECAY,
            use_bias_correction=True,
            safeguard_warmup=config.lr_warmup_steps > 0,
        )
    if name == "lion":
        lion = importlib.import_module("lion_pytorch")
        return lion.Lion(groups, weight_decay=WEIGHT_DECAY)
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(groups, scale_parameter=False, relative_step=False, warmup_init=False)
    raise ValueError(f"unknown optimizer {name}")


def build_lr_scheduler(
    config: TrainingConfig, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    name = config.lr_scheduler
    warmup = min(config.lr_warmup_steps, total_steps)
    if name == "constant" and warmup:
        # diffusers' "constant" ignores warmup (and sd-scripts refuses the pair); the
        # artist asked for warmup, so warm up and then hold.
        log(f"'constant' with {warmup} warmup steps: using constant_with_warmup")
        name = "constant_with_warmup"
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)
