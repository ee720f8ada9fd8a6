"""The contact sheet: one PNG per LoRA (rows: prompt and seed; columns: weights; every
cell labelled), each cell also as its own PNG for the page, and ``sheet.json`` beside
them saying what every cell is and the curves measured on it.

Saved under ``<project>/evaluation/<key>/``, ``key`` made from the LoRA's id, so that a
checkpoint's sheet is found again from the file and a new grid replaces the old one.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from app.evaluation.curves import Curves
from app.evaluation.prompts import KIND_TITLES, GridPrompt
from app.fsutil import atomic_write_text

EVALUATION_DIR = "evaluation"
SHEET_PNG, SHEET_JSON, CELLS_DIR = "sheet.png", "sheet.json", "cells"
MIN_CELL = 160  # pixels: tiny images are enlarged so that the labels fit
LABEL_HEIGHT = 18
ROW_LABEL_WIDTH = 220
HEADER_HEIGHT = 24
BACKGROUND, INK = (255, 255, 255), (20, 20, 20)


def sheet_key(lora_id: str) -> str:
    """A folder name for a LoRA id: runs/3/checkpoints/step-00000400/lora.safetensors →
    runs_3_checkpoints_step-00000400_lora."""
    stem = lora_id.removesuffix(".safetensors")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "lora"


def evaluation_dir(project_dir: Path) -> Path:
    return project_dir / EVALUATION_DIR


def sheet_dir(project_dir: Path, lora_id: str) -> Path:
    return evaluation_dir(project_dir) / sheet_key(lora_id)


def weight_label(weight: float) -> str:
    return f"{weight:g}"


def cell_name(row: int, col: int) -> str:
    return f"r{row:02d}-c{col:02d}.png"


@dataclass(frozen=True)
class SheetInput:
    lora_id: str
    lora_label: str
    lora_size: int
    lora_mtime_ns: int
    base_model: str
    prompts: list[GridPrompt]
    seeds: list[int]
    weights: list[float]
    steps: int
    resolution: int
    images: list[list[Image.Image]]  # [col][row]
    curves: Curves
    created_at: str


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def _compose(data: SheetInput, rows: list[tuple[int, int]], cell: int) -> Image.Image:
    width = ROW_LABEL_WIDTH + cell * len(data.weights)
    height = HEADER_HEIGHT + (cell + LABEL_HEIGHT) * len(rows)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font()
    for col, weight in enumerate(data.weights):
        draw.text(
            (ROW_LABEL_WIDTH + col * cell + 4, 6), f"weight {weight_label(weight)}", INK, font
        )
    for row, (prompt_index, seed) in enumerate(rows):
        top = HEADER_HEIGHT + row * (cell + LABEL_HEIGHT)
        prompt = data.prompts[prompt_index]
        lines = [KIND_TITLES[prompt.kind] + f" · seed {seed}", *textwrap.wrap(prompt.text, 34)[:8]]
        draw.multiline_text((4, top + 4), "\n".join(lines), INK, font)
        for col, weight in enumerate(data.weights):
            image = (
                data.images[col][row].convert("RGB").resize((cell, cell), Image.Resampling.NEAREST)
            )
            left = ROW_LABEL_WIDTH + col * cell
            sheet.paste(image, (left, top))
            label = f"w {weight_label(weight)} · seed {seed} · {prompt.kind}"
            draw.text((left + 3, top + cell + 3), label, INK, font)
    return sheet


def write_sheet(project_dir: Path, data: SheetInput) -> Path:
    """Write the sheet, its cells and its JSON into a fresh folder, then swap it in: a
    page never sees half a sheet."""
    rows = [(p, seed) for p in range(len(data.prompts)) for seed in data.seeds]
    size = data.images[0][0].width if data.images and data.images[0] else data.resolution
    cell = max(MIN_CELL, size)
    target = sheet_dir(project_dir, data.lora_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _compose(data, rows, cell).save(staging / SHEET_PNG)
        (staging / CELLS_DIR).mkdir()
        cells = []
        for col, weight in enumerate(data.weights):
            for row, (prompt_index, seed) in enumerate(rows):
                name = cell_name(row, col)
                data.images[col][row].save(staging / CELLS_DIR / name)
                prompt = data.prompts[prompt_index]
                cells.append(
                    {
                        "row": row,
                        "col": col,
                        "weight": weight,
                        "seed": seed,
                        "kind": prompt.kind,
                        "prompt": prompt.text,
                        "file": f"{CELLS_DIR}/{name}",
                        "box": [
                            ROW_LABEL_WIDTH + col * cell,
                            HEADER_HEIGHT + row * (cell + LABEL_HEIGHT),
                            cell,
                            cell,
                        ],
                    }
                )
        record = {
            "lora": data.lora_id,
            "label": data.lora_label,
            "lora_size": data.lora_size,
            "lora_mtime_ns": data.lora_mtime_ns,
            "base_model": data.base_model,
            "created_at": data.created_at,
            "weights": data.weights,
            "seeds": data.seeds,
            "steps": data.steps,
            "resolution": data.resolution,
            "prompts": [prompt.to_json() for prompt in data.prompts],
            "rows": [{"prompt": p, "seed": seed} for p, seed in rows],
            "cells": cells,
            "curves": data.curves.to_json(),
        }
        atomic_write_text(staging / SHEET_JSON, json.dumps(record, indent=2) + "\n")
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_sheet(project_dir: Path, lora_id: str) -> dict[str, Any] | None:
    """The sheet.json of a LoRA's last grid, or None when it has none (or it cannot be
    read: a grid can always be made again)."""
    try:
        data = json.loads((sheet_dir(project_dir, lora_id) / SHEET_JSON).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("lora") == lora_id else None


def sheet_is_current(sheet: dict[str, Any], path: Path) -> bool:
    """False when the LoRA file changed after its grid was made (a resumed run wrote a
    new final file under the same name)."""
    try:
        stat = path.stat()
    except OSError:
        return False
    return sheet.get("lora_size") == stat.st_size and sheet.get("lora_mtime_ns") == stat.st_mtime_ns
