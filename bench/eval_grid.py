"""Seconds per grid cell of loragate's evaluation grid (``GridRunner.evaluate`` and the
curves measured on it, as the "evaluation.grid" job runs them) against a plain diffusers
loop making the same cells: the pipeline loaded once, the same kohya LoRA file loaded
with ``load_lora_weights``, ``set_adapters`` per weight, one pipeline call per prompt and
seed. Same tiny SD 1.5-shaped model, prompts, seeds, weights, steps and size, in one run.

Loading the base model is outside both timings (each side loads it once, before the
clock starts); loading the LoRA is inside both. loragate makes the weight-0 column once
with no adapter (the base model's own images, shared by every LoRA of a job); the plain
loop makes it like any other column, at strength 0. Each round loads both sides'
pipelines afresh (a fresh GridRunner never reuses a previous round's base images), after
one untimed round that pays this process's first-call costs; rounds alternate which
side goes first. Medians are reported, in wall time and in this process's CPU time
(which other programs on a shared machine barely disturb).

Goal: no slower than the plain loop. Two timings of the same work on a shared CPU differ
by a few percent, so the goal counts as met up to 5% over the plain loop's figure.

    .venv/bin/python bench/eval_grid.py [--steps 4] [--seeds 2] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.evaluation.curves import measure_curves
from app.evaluation.grid import GridRunner, GridSpec
from app.evaluation.job import DEFAULT_WEIGHTS, PROMPTS_PER_KIND
from app.evaluation.prompts import build_prompts
from app.training.job import BaseModelRef
from app.training.native.models import quiet_libraries
from tests.evaluation.lora_files import write_kohya_lora
from tests.tiny_models import build_tiny_sd15

TRIGGER = "zkmira"
CAPTIONS = [f"{TRIGGER}, 1girl, red scarf", f"{TRIGGER}, 1girl, blue coat, smiling"]
RESOLUTION = 64
NOISE_MARGIN = 0.05


@dataclass(frozen=True)
class PerCell:
    wall: float
    cpu: float


def clocked(work: Callable[[], object], cells: int) -> PerCell:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return PerCell((time.perf_counter() - wall) / cells, (time.process_time() - cpu) / cells)


def loragate_grid(model: Path, lora: Path, spec: GridSpec, work_dir: Path) -> PerCell:
    runner = GridRunner(BaseModelRef(path=str(model), family="sd15"), work_dir, "cpu")  # untimed
    kinds = [spec.prompts[p].kind for p, _ in spec.rows]

    def work() -> None:
        grid = runner.evaluate(lora, spec)
        measure_curves(spec.weights, grid.latents, grid.base_latents, kinds)

    return clocked(work, spec.cells)


def plain_loop(model: Path, lora: Path, spec: GridSpec) -> PerCell:
    pipeline = StableDiffusionPipeline.from_pretrained(  # untimed, like GridRunner's
        model, safety_checker=None, feature_extractor=None, requires_safety_checker=False
    )
    pipeline.set_progress_bar_config(disable=True)

    def work() -> None:
        pipeline.load_lora_weights(str(lora), adapter_name="plain")
        for weight in spec.weights:
            pipeline.set_adapters(["plain"], [weight])
            for prompt, seed in spec.rows:
                with torch.no_grad():
                    pipeline(
                        prompt=spec.prompts[prompt].text,
                        generator=torch.Generator("cpu").manual_seed(seed),
                        num_inference_steps=spec.steps,
                        height=spec.resolution,
                        width=spec.resolution,
                    )

    return clocked(work, spec.cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per image")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: stable on a shared CPU)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_libraries()
    prompts = build_prompts(TRIGGER, CAPTIONS, "character", PROMPTS_PER_KIND)
    seeds = list(range(1, args.seeds + 1))
    # batch 1: what the job uses on the CPU, one image per call like the plain loop.
    spec = GridSpec(prompts, list(DEFAULT_WEIGHTS), seeds, args.steps, RESOLUTION, batch=1)
    figures: dict[str, list[PerCell]] = {"loragate": [], "plain": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_sd15(root / "model")
        lora = write_kohya_lora(model, root / "lora.safetensors")
        sides = {
            "loragate": lambda grid: loragate_grid(model, lora, grid, root / "work"),
            "plain": lambda grid: plain_loop(model, lora, grid),
        }
        warm_up = GridSpec(prompts[:1], [0.0, 1.0], seeds[:1], 1, RESOLUTION, batch=1)
        for side in sides.values():
            side(warm_up)
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for who in order:
                figures[who].append(sides[who](spec))
            print(
                f"round {round_ + 1}: loragate {figures['loragate'][-1].wall:.4f} s/cell, "
                f"plain loop {figures['plain'][-1].wall:.4f} s/cell"
            )
    median = {
        who: PerCell(
            statistics.median(f.wall for f in runs), statistics.median(f.cpu for f in runs)
        )
        for who, runs in figures.items()
    }
    ours, plain = median["loragate"], median["plain"]
    print(
        f"tiny SD 1.5, {RESOLUTION}x{RESOLUTION}, {len(prompts)} prompts x {len(seeds)} seeds x "
        f"{len(spec.weights)} weights = {spec.cells} cells, {args.steps} steps, "
        f"{args.threads} thread(s); medians of {args.rounds} rounds, wall time (CPU time)"
    )
    print(f"  plain diffusers loop: {plain.wall:.4f} s/cell ({plain.cpu:.4f})")
    print(f"  loragate's grid:      {ours.wall:.4f} s/cell ({ours.cpu:.4f})")
    ratio, cpu_ratio = ours.wall / plain.wall, ours.cpu / plain.cpu
    verdict = "met" if ratio <= 1 + NOISE_MARGIN else "MISSED"
    print(
        f"  loragate / plain:     {ratio:.2f}x ({cpu_ratio:.2f}x): goal 'no slower than the "
        f"plain loop' {verdict} (up to {1 + NOISE_MARGIN:.2f}x counts as noise)"
    )


if __name__ == "__main__":
    main()
