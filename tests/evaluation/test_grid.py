"""The grid on the tiny model: cells and labels, the weight-0 column equal to the base
model's own image, the sheet saved, two checkpoints of a run side by side, and a LoRA
written in kohya format by another tool evaluated like loragate's own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from app.evaluation.job import GridRefused, grid_request
from app.evaluation.loras import list_loras
from app.evaluation.sheet import SHEET_PNG, read_sheet, sheet_dir
from app.workspace import ProjectContext
from tests.evaluation.conftest import run_grid
from tests.evaluation.lora_files import write_kohya_lora

WEIGHTS = [0.0, 0.5, 1.0]
SEEDS = [1, 2]
PARAMS = {"weights": WEIGHTS, "seeds": SEEDS, "steps": 2, "resolution": 64}


def _base_image(pipeline_dir: Path, prompt: str, seed: int) -> np.ndarray:
    pipeline = StableDiffusionPipeline.from_pretrained(
        pipeline_dir, safety_checker=None, feature_extractor=None, requires_safety_checker=False
    )
    pipeline.set_progress_bar_config(disable=True)
    with torch.no_grad():
        image = pipeline(
            prompt=prompt,
            num_inference_steps=2,
            height=64,
            width=64,
            generator=torch.Generator("cpu").manual_seed(seed),
        ).images[0]
    return np.asarray(image, dtype=np.int16)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_a_foreign_kohya_lora_gets_a_labelled_sheet(
    eval_ctx: ProjectContext, tiny_sd15: Path, tmp_path: Path
) -> None:
    write_kohya_lora(tiny_sd15, eval_ctx.dir / "loras" / "from-elsewhere.safetensors")
    [lora] = list_loras(eval_ctx.dir)
    assert (lora.id, lora.group, lora.run) == ("loras/from-elsewhere.safetensors", "loras", None)

    result = run_grid(eval_ctx, {"loras": [lora.id], **PARAMS}, tmp_path)

    assert result == {"loras": [lora.id]}
    sheet = read_sheet(eval_ctx.dir, lora.id)
    assert sheet is not None
    kinds = [prompt["kind"] for prompt in sheet["prompts"]]
    assert kinds == ["caption", "caption", "new", "new", "leak", "leak"]
    assert all("zkmira" in p["text"] for p in sheet["prompts"] if p["kind"] != "leak")
    assert all("zkmira" not in p["text"] for p in sheet["prompts"] if p["kind"] == "leak")
    rows = len(kinds) * len(SEEDS)
    assert len(sheet["cells"]) == rows * len(WEIGHTS)
    assert {(c["weight"], c["seed"], c["kind"]) for c in sheet["cells"]} == {
        (w, s, k) for w in WEIGHTS for s in SEEDS for k in set(kinds)
    }
    with Image.open(sheet_dir(eval_ctx.dir, lora.id) / SHEET_PNG) as png:
        size = png.size
    right = max(c["box"][0] + c["box"][2] for c in sheet["cells"])
    bottom = max(c["box"][1] + c["box"][3] for c in sheet["cells"])
    assert size[0] == right and size[1] >= bottom

    # The weight-0 cell is the base model's own image for that prompt and seed.
    cell = next(c for c in sheet["cells"] if c["weight"] == 0.0 and c["seed"] == 2)
    ours = _pixels(sheet_dir(eval_ctx.dir, lora.id) / cell["file"])
    assert np.array_equal(ours, _base_image(tiny_sd15, cell["prompt"], 2))
    # ... and the LoRA changes the picture at weight 1.
    moved = next(c for c in sheet["cells"] if c["weight"] == 1.0 and c["row"] == cell["row"])
    changed = _pixels(sheet_dir(eval_ctx.dir, lora.id) / moved["file"])
    assert np.abs(changed - ours).max() > 10

    curves = sheet["curves"]
    assert curves["effect"][0] == curves["leak"][0] == 0.0
    assert curves["effect"][0] < curves["effect"][1] < curves["effect"][2]


def test_an_untrained_lora_has_flat_curves(
    eval_ctx: ProjectContext, tiny_sd15: Path, tmp_path: Path
) -> None:
    write_kohya_lora(tiny_sd15, eval_ctx.dir / "loras" / "untrained.safetensors", zero_up=True)
    run_grid(eval_ctx, {"loras": ["loras/untrained.safetensors"], **PARAMS}, tmp_path)
    sheet = read_sheet(eval_ctx.dir, "loras/untrained.safetensors")
    assert sheet is not None
    assert sheet["curves"]["effect"] == sheet["curves"]["leak"] == [0.0, 0.0, 0.0]


def _checkpoint(run_dir: Path, step: int) -> Path:
    folder = run_dir / "checkpoints" / f"step-{step:08d}"
    folder.mkdir(parents=True)
    (folder / "COMPLETE").write_text("ok\n")
    return folder / "lora.safetensors"


def test_two_checkpoints_of_a_run_are_compared(
    eval_ctx: ProjectContext, tiny_sd15: Path, tmp_path: Path
) -> None:
    run_dir = eval_ctx.dir / "runs" / "1"
    write_kohya_lora(tiny_sd15, _checkpoint(run_dir, 2), scale=0.05)
    write_kohya_lora(tiny_sd15, run_dir / "mira.safetensors", scale=0.5)
    # A checkpoint still being written (no marker) is not offered.
    (run_dir / "checkpoints" / "step-00000004.tmp").mkdir()
    loras = list_loras(eval_ctx.dir)
    assert [(lora.label, lora.run, lora.final) for lora in loras] == [
        ("step 2", 1, False),
        ("final", 1, True),
    ]

    run_grid(eval_ctx, {"loras": [lora.id for lora in loras], **PARAMS}, tmp_path)

    early, final = (read_sheet(eval_ctx.dir, lora.id) for lora in loras)
    assert early is not None and final is not None
    assert early["label"] == "step 2" and final["label"] == "final"
    assert final["curves"]["effect"][-1] > early["curves"]["effect"][-1] > 0
    # Both sheets share the base model's column: the same images at weight 0.
    zero = [c["file"] for c in early["cells"] if c["weight"] == 0.0]
    for name in zero:
        a = _pixels(sheet_dir(eval_ctx.dir, loras[0].id) / name)
        assert np.array_equal(a, _pixels(sheet_dir(eval_ctx.dir, loras[1].id) / name))
    assert json.loads(json.dumps(final))["base_model"] == str(tiny_sd15)


def test_requests_outside_the_project_or_the_limits_are_refused(
    eval_ctx: ProjectContext, tiny_sd15: Path
) -> None:
    write_kohya_lora(tiny_sd15, eval_ctx.dir / "loras" / "a.safetensors")
    with pytest.raises(GridRefused, match="not a LoRA of this project"):
        grid_request(eval_ctx, ["../../studio.md"])
    with pytest.raises(GridRefused, match="Weights go from 0"):
        grid_request(eval_ctx, ["loras/a.safetensors"], weights=[-1.0])
    with pytest.raises(GridRefused, match="whole numbers"):
        grid_request(eval_ctx, ["loras/a.safetensors"], seeds=[1.5])
    request = grid_request(eval_ctx, ["loras/a.safetensors"])
    assert request.weights == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25] and request.seeds == [1, 2]
