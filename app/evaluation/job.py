"""The "evaluation.grid" job: the grid of one or more LoRA files of a project (a run's
checkpoints side by side), in the worker's child process. The base model is loaded
once for the whole job; each LoRA's sheet is written and journaled as soon as it is
done, so a cancelled job keeps the sheets it finished.

``grid_params`` checks what the artist asked for before a job starts (the page and
``loragate eval-grid`` both call it) and returns the job's JSON parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app import journal
from app.demo import DEMO_GRID_SEEDS, DEMO_GRID_STEPS, DEMO_GRID_WEIGHTS, is_demo
from app.evaluation.loras import LoraFile, LoraNotFound, find_lora
from app.models import Project
from app.words import plural
from app.workspace import ProjectContext

GRID_JOB = "evaluation.grid"
DEFAULT_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25)
DEFAULT_SEEDS = (1, 2)
DEFAULT_STEPS = 20
PROMPTS_PER_KIND = 2
MAX_WEIGHTS, MAX_SEEDS, MAX_LORAS = 12, 8, 8
MAX_WEIGHT = 3.0
MAX_SEED = 2**32 - 1
GPU_BATCH = 4


@dataclass(frozen=True)
class GridDefaults:
    weights: tuple[float, ...]
    seeds: tuple[int, ...]
    steps: int

    def weights_text(self) -> str:
        return ", ".join(f"{weight:g}" for weight in self.weights)

    def seeds_text(self) -> str:
        return ", ".join(str(seed) for seed in self.seeds)


def grid_defaults(project: Project) -> GridDefaults:
    """What a grid is made of when the artist does not say: the demo's is small, so its
    CPU makes it in about a minute."""
    if is_demo(project):
        return GridDefaults(DEMO_GRID_WEIGHTS, DEMO_GRID_SEEDS, DEMO_GRID_STEPS)
    return GridDefaults(DEFAULT_WEIGHTS, DEFAULT_SEEDS, DEFAULT_STEPS)


class GridRefused(ValueError):
    """What was asked for cannot be a grid; the message says what to change."""


def parse_numbers(text: str, what: str) -> list[float]:
    """ "0, 0.5 1" → [0.0, 0.5, 1.0]: commas or spaces between numbers."""
    values = []
    for part in text.replace(",", " ").split():
        try:
            value = float(part)
        except ValueError:
            raise GridRefused(f"“{part[:40]}” in the {what} is not a number.") from None
        if not math.isfinite(value):
            raise GridRefused(f"“{part[:40]}” in the {what} is not a number.")
        values.append(value)
    return values


@dataclass(frozen=True)
class GridRequest:
    loras: list[LoraFile]
    weights: list[float]
    seeds: list[int]
    steps: int
    resolution: int | None

    def params(self) -> dict[str, Any]:
        return {
            "loras": [lora.id for lora in self.loras],
            "weights": self.weights,
            "seeds": self.seeds,
            "steps": self.steps,
            "resolution": self.resolution,
        }

    def title(self) -> str:
        names = ", ".join(f"{lora.group} {lora.label}" for lora in self.loras)
        return f"Evaluation grid: {names}"


def grid_request(
    ctx: ProjectContext,
    lora_ids: list[str],
    weights: list[float] | None = None,
    seeds: list[float] | None = None,
    steps: int | None = None,
    resolution: int | None = None,
) -> GridRequest:
    if not lora_ids:
        raise GridRefused("Choose a LoRA to evaluate.")
    if len(lora_ids) > MAX_LORAS:
        raise GridRefused(f"At most {MAX_LORAS} LoRA files go in one grid job.")
    try:
        loras = [find_lora(ctx.dir, lora_id) for lora_id in dict.fromkeys(lora_ids)]
    except LoraNotFound as exc:
        raise GridRefused(str(exc)) from None
    defaults = grid_defaults(ctx.project)
    weights = sorted(set(defaults.weights if weights is None else weights))
    if not weights or len(weights) > MAX_WEIGHTS:
        raise GridRefused(f"Give between 1 and {MAX_WEIGHTS} weights.")
    if any(not 0 <= weight <= MAX_WEIGHT for weight in weights):
        raise GridRefused(f"Weights go from 0 to {MAX_WEIGHT:g}.")
    raw_seeds = list(defaults.seeds if seeds is None else seeds)
    if not raw_seeds or len(raw_seeds) > MAX_SEEDS:
        raise GridRefused(f"Give between 1 and {MAX_SEEDS} seeds.")
    if any(seed != int(seed) or not 0 <= seed <= MAX_SEED for seed in raw_seeds):
        raise GridRefused(f"Seeds are whole numbers from 0 to {MAX_SEED}.")
    steps = defaults.steps if steps is None else steps
    if not 1 <= steps <= 150:
        raise GridRefused("Denoising steps go from 1 to 150.")
    if resolution is not None and not 64 <= resolution <= 2048:
        raise GridRefused("The grid's image size goes from 64 to 2048 pixels.")
    seeds_int = list(dict.fromkeys(int(seed) for seed in raw_seeds))
    return GridRequest(loras, [float(w) for w in weights], seeds_int, steps, resolution)


def training_captions(ctx: ProjectContext) -> list[str]:
    """The project's captions, approved ones first, in image order."""
    from app.captions.store import load_captions

    captions = sorted(
        load_captions(ctx).values(), key=lambda c: (c.status != "approved", c.image_id)
    )
    return [caption.text for caption in captions if caption.status != "rejected"]


def grid_job(handle: Any) -> dict[str, Any]:
    from app.evaluation.curves import measure_curves
    from app.evaluation.grid import EvaluationError, GridRunner, GridSpec, choose_device
    from app.evaluation.prompts import build_prompts
    from app.evaluation.sheet import SheetInput, write_sheet
    from app.models.base import utcnow
    from app.training.base_model import resolve_base_model
    from app.training.job import BaseModelRef
    from app.training.project_config import current_config

    ctx: ProjectContext = handle.ctx
    params = handle.params
    request = grid_request(
        ctx,
        params["loras"],
        params["weights"],
        params["seeds"],
        params["steps"],
        params["resolution"],
    )
    project = ctx.project
    base = resolve_base_model(ctx)
    if base.path is None:
        raise EvaluationError(f"The base model cannot be used: {base.problem}")
    resolution = request.resolution or current_config(ctx).resolution
    prompts = build_prompts(
        project.trigger_word, training_captions(ctx), project.training_type, PROMPTS_PER_KIND
    )
    device = choose_device()
    # A batch shares its convolutions, which changes the last bits of each image: on the
    # CPU (no speed to gain) each image is made alone, exactly as a plain call makes it.
    batch = GPU_BATCH if device.startswith("cuda") else 1
    spec = GridSpec(prompts, request.weights, request.seeds, request.steps, resolution, batch)
    # The base model's images (weight 0) are made once, whatever the number of LoRAs.
    moving = [weight for weight in spec.weights if weight != 0]
    total = len(spec.rows) * (1 + len(moving) * len(request.loras))
    done = 0

    def progress(count: int) -> None:
        nonlocal done
        done += count
        handle.progress(done, total, f"Generating {plural(total, 'image')}")

    handle.progress(0, total, "Loading the base model")
    ref = BaseModelRef(
        path=str(base.path),
        family=project.model_family,  # type: ignore[arg-type]
        prediction_type=base.prediction_type,  # type: ignore[arg-type]
    )
    runner = GridRunner(ref, ctx.settings.data_dir / "evaluation-work", device)
    row_kinds = [prompts[p].kind for p, _ in spec.rows]
    written = []
    for lora in request.loras:
        handle.progress(done, total, f"Generating the grid of {lora.group} {lora.label}")
        grid = runner.evaluate(lora.path, spec, progress, handle.raise_if_cancelled)
        curves = measure_curves(spec.weights, grid.latents, grid.base_latents, row_kinds)
        stat = lora.path.stat()
        write_sheet(
            ctx.dir,
            SheetInput(
                lora.id,
                lora.label,
                stat.st_size,
                stat.st_mtime_ns,
                project.base_model,
                prompts,
                spec.seeds,
                spec.weights,
                spec.steps,
                resolution,
                grid.images,
                curves,
                utcnow().isoformat(timespec="seconds"),
            ),
        )
        _journal(ctx, lora, spec.cells, curves)
        written.append(lora.id)
    handle.progress(total, total, "Done")
    return {"loras": written}


def _journal(ctx: ProjectContext, lora: LoraFile, cells: int, curves: Any) -> None:
    at_one = curves.at(1.0)
    measured = (
        f" Change from the base model at weight 1: {at_one[0]:.3f} with the trigger, "
        f"{at_one[1]:.3f} without it."
        if at_one
        else ""
    )
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "evaluation.grid",
            f"Evaluation grid of {lora.group} {lora.label}: {plural(cells, 'image')}.{measured}",
            {"lora": lora.id, "run": lora.run, "curves": curves.to_json()},
        )
