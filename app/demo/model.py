"""The demo's base model: a tiny random SD-1.5-shaped diffusers folder under loragate's
data folder, listed in studio.md under a name that says it is not a real model."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from app.demo import DEMO_MODEL_NAME
from app.grimoire import BaseModelEntry, record_base_model
from app.settings import Settings

MODEL_DIRNAME = "demo-noise"
NOTES = (
    "Not a real model: random weights, built by loragate for the demo on this computer. "
    "It draws noise. Delete this entry and the folder when you no longer need the demo."
)


def model_dir(settings: Settings) -> Path:
    return settings.data_dir / "models" / MODEL_DIRNAME


def register_demo_model(settings: Settings) -> None:
    """List the demo model in studio.md (replacing an older entry of the same name), so
    the interview's base-model check and every page find it by name."""
    entry = BaseModelEntry(
        name=DEMO_MODEL_NAME,
        path=str(model_dir(settings)),
        family="sd15",
        prediction="epsilon",
        notes=NOTES,
    )
    record_base_model(settings.grimoire_dir, entry)


def ensure_demo_model(settings: Settings) -> Path:
    """Build the model unless it is there. Built in a folder beside it and renamed into
    place, so a build that is interrupted never leaves half a model under the name."""
    target = model_dir(settings)
    if (target / "model_index.json").is_file():
        return target
    from app.demo.tiny_model import build_tiny_sd15  # torch and diffusers: only when building

    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{MODEL_DIRNAME}-{uuid.uuid4().hex}")
    try:
        build_tiny_sd15(building)
        if target.exists():  # a stale half-built folder from before this rule, or a race
            shutil.rmtree(target, ignore_errors=True)
        building.rename(target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target
