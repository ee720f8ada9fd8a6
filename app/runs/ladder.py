"""The OOM ladder (DESIGN.md "OOM recovery"): after an out-of-memory failure the run
continues from its newest complete checkpoint with the next rung that changes
something. The first four keep the result the same (they trade speed for memory); the
fifth lowers the resolution, which changes the result, so it is only taken after the
artist agrees; after it, the run stops with a diagnosis.

A rung that would change nothing (gradient checkpointing already on) or cannot apply
here (an 8-bit optimizer needs bitsandbytes on a CUDA GPU; batch 1 cannot be halved)
is passed over, so each relaunch really differs from the attempt that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.training.config import RESOLUTION_MIN, TrainingConfig


@dataclass(frozen=True)
class Rung:
    key: str
    title: str  # plain words for the run page and the journal
    asks: bool = False  # changes the result: the artist must agree first


RUNGS = (
    Rung("gradient_checkpointing", "gradient checkpointing on"),
    Rung("cache", "latents and text-encoder outputs cached"),
    Rung("optimizer_8bit", "8-bit optimizer (AdamW8bit)"),
    Rung("batch", "half the batch size, twice the gradient accumulation"),
    Rung("resolution", "one resolution step lower", asks=True),
)
BY_KEY = {rung.key: rung for rung in RUNGS}


def _changes(key: str, config: TrainingConfig) -> dict[str, Any]:
    if key == "gradient_checkpointing":
        return {} if config.gradient_checkpointing else {"gradient_checkpointing": True}
    if key == "cache":
        return {
            name: True
            for name in ("cache_latents", "cache_text_encoder_outputs")
            if not getattr(config, name)
        }
    if key == "optimizer_8bit":
        if config.device != "cuda" or config.optimizer != "adamw":
            return {}
        return {"optimizer": "adamw8bit"}
    if key == "batch":
        if config.train_batch_size < 2:
            return {}
        return {
            "train_batch_size": config.train_batch_size // 2,
            "gradient_accumulation_steps": config.gradient_accumulation_steps * 2,
        }
    if key == "resolution":
        lower = config.resolution - config.bucket_reso_steps
        if lower < RESOLUTION_MIN:
            return {}
        changes: dict[str, Any] = {"resolution": lower}
        if config.min_bucket_reso > lower:
            changes["min_bucket_reso"] = lower
        return changes
    raise KeyError(key)


def next_rung(config: TrainingConfig, taken: list[str]) -> tuple[Rung, dict[str, Any]] | None:
    """The next rung after those ``taken`` that changes ``config``, with its changes;
    None when the ladder is exhausted."""
    done = {BY_KEY[key] for key in taken if key in BY_KEY}
    start = max((RUNGS.index(rung) + 1 for rung in done), default=0)
    for rung in RUNGS[start:]:
        changes = _changes(rung.key, config)
        if changes:
            return rung, changes
    return None


def apply(config: TrainingConfig, changes: dict[str, Any]) -> TrainingConfig:
    return TrainingConfig.model_validate(config.model_dump() | changes)


def with_rungs(config: TrainingConfig, rungs: list[dict[str, Any]]) -> TrainingConfig:
    """The run's config with every rung it took, in order: what the next attempt uses."""
    for rung in rungs:
        config = apply(config, {key: new for key, (_old, new) in rung["changes"].items()})
    return config


def described(changes: dict[str, Any], config: TrainingConfig) -> dict[str, list[Any]]:
    """{field: [old, new]} for the run record and the journal."""
    return {key: [getattr(config, key), value] for key, value in changes.items()}


def diagnosis(config: TrainingConfig, rungs: list[dict[str, Any]]) -> str:
    tried = ", ".join(rung["title"] for rung in rungs) or "nothing could be changed"
    return (
        "The GPU ran out of memory at every setting loragate could try "
        f"({tried}); the last attempt trained at {config.resolution} px with batch "
        f"{config.train_batch_size}, rank {config.network_rank}. Lower the network rank or "
        "the resolution on the Config page, turn off text-encoder training, or train on a "
        "GPU with more memory; the dry run (Gate 4) checks the new settings."
    )
