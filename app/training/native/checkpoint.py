"""Crash-safe checkpoints that resume exactly.

A checkpoint is written into ``step-NNNNNNNN.tmp/``; the completion marker is written
last (fsynced), then the folder is renamed to ``step-NNNNNNNN/``. Only renamed folders
with the marker count as complete, so a run killed at any moment leaves either a
complete checkpoint or a ``.tmp`` folder that resume ignores and rotation removes.
Older checkpoints are rotated away only after the new one is complete.

Each holds what an uninterrupted run would have in memory at that step: the LoRA
weights (float32), optimizer, learning-rate scheduler and grad-scaler states, the
step, epoch and position in the epoch, the epoch's batch order, and every random
state (Python, NumPy, torch CPU and CUDA, the noise generator, the caption RNG); plus
``lora.safetensors``, the kohya file of that step for evaluation.
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save

from app.fsutil import atomic_write_bytes, atomic_write_text, fsync_dir

MARKER = "COMPLETE"
FOLDER = re.compile(r"^step-(\d{8})$")


@dataclass
class TrainerState:
    step: int
    epoch: int
    group_in_epoch: int  # optimizer steps of this epoch already done
    order: list[list[int]] | None  # this epoch's batches (None: not drawn yet)
    order_fingerprint: str  # what the order depends on (dataset, batch size, seed)
    smoothed_loss: float | None
    total_steps: int


@dataclass
class Snapshot:
    state: TrainerState
    lora: dict[str, torch.Tensor]
    training: dict[str, Any]  # optimizer, lr_scheduler, scaler state dicts
    rng: dict[str, Any]


def folder_name(step: int) -> str:
    return f"step-{step:08d}"


def complete_checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [
        path
        for path in root.iterdir()
        if path.is_dir() and FOLDER.match(path.name) and (path / MARKER).is_file()
    ]
    return sorted(found, key=lambda path: int(FOLDER.match(path.name).group(1)))  # type: ignore[union-attr]


def newest_complete(root: Path) -> Path | None:
    found = complete_checkpoints(root)
    return found[-1] if found else None


def save_checkpoint(root: Path, snapshot: Snapshot, kohya_bytes: bytes) -> Path:
    step = snapshot.state.step
    staging = root / (folder_name(step) + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    atomic_write_bytes(staging / "adapter.safetensors", save(snapshot.lora))
    atomic_write_bytes(staging / "training.pt", _torch_bytes(snapshot.training))
    atomic_write_bytes(staging / "rng.pt", _torch_bytes(snapshot.rng))
    atomic_write_text(staging / "state.json", json.dumps(asdict(snapshot.state)))
    atomic_write_bytes(staging / "lora.safetensors", kohya_bytes)
    atomic_write_text(staging / MARKER, f"step {step}\n")
    final = root / folder_name(step)
    if final.exists():  # the same step saved again (an epoch end after a step save)
        shutil.rmtree(final)
    staging.rename(final)
    fsync_dir(root)
    return final


def _torch_bytes(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def load_checkpoint(path: Path) -> Snapshot:
    state = TrainerState(**json.loads((path / "state.json").read_text("utf-8")))
    lora = load_file(path / "adapter.safetensors")
    # weights_only: a checkpoint folder is data, never code (DESIGN "Model files").
    training = torch.load(path / "training.pt", weights_only=True)
    rng = torch.load(path / "rng.pt", weights_only=True)
    return Snapshot(state, lora, training, rng)


def rotate(root: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` complete checkpoints, and leftovers of killed
    saves. Call only after the newest save completed."""
    removed = complete_checkpoints(root)[:-keep] if keep > 0 else []
    removed += [p for p in root.glob("step-*.tmp") if p.is_dir()]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def capture_rng(noise: torch.Generator, captions: random.Random) -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "noise": noise.get_state(),
        "captions": captions.getstate(),
    }


def restore_rng(rng: dict[str, Any], noise: torch.Generator, captions: random.Random) -> None:
    random.setstate(_as_tuple(rng["python"]))
    kind, keys, position, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    noise.set_state(rng["noise"])
    captions.setstate(_as_tuple(rng["captions"]))


def _as_tuple(value: Any) -> Any:
    # Python's random state is nested tuples; a round trip may give lists.
    if isinstance(value, list | tuple):
        return tuple(_as_tuple(item) for item in value)
    return value
