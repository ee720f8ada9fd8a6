"""The demo: a project made from sample photos that scikit-image ships and a tiny base
model with random weights, built on this computer, so that a newcomer can walk every
phase on a CPU in minutes before owning a GPU or downloading a model.

What marks a project as the demo is its base model's name in studio.md: one rule,
``is_demo``, that every page and gate asks.
"""

from __future__ import annotations

from app.models import Project

DEMO_MODEL_NAME = "demo-noise (not a real model)"
DEMO_PROJECT_NAME = "Demo · sample photos"
DEMO_TRIGGER = "dmxq"
# The side the demo trains at: small enough for a CPU, large enough that its aspect
# buckets work at the 64-pixel step every SD 1.5 trainer needs (the tiny model itself
# takes any multiple of 16).
DEMO_RESOLUTION = 128
# The demo's evaluation grid: three strengths, one seed and fewer denoising steps, so
# that its tiny model's grid is made in about a minute on a laptop's CPU (the default
# grid, 72 images of 20 steps, takes several minutes there). Its pictures are noise
# whatever the steps: what the demo shows is the sheet and the curves.
DEMO_GRID_WEIGHTS = (0.0, 0.5, 1.0)
DEMO_GRID_SEEDS = (1,)
DEMO_GRID_STEPS = 8
# Said wherever the demo's model is named: the overview, the config page, the studio.
DEMO_MODEL_WORDS = (
    "a tiny model with random weights, built on this computer for the demo: it trains on "
    "a CPU in minutes and draws noise, never a picture. Use a real base model for a real LoRA."
)


class DemoRefused(RuntimeError):
    """The demo cannot be made here; the message says why and what to do."""


def is_demo_model(reference: str) -> bool:
    return reference == DEMO_MODEL_NAME


def is_demo(project: Project) -> bool:
    return is_demo_model(project.base_model)
