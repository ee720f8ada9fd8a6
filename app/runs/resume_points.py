"""Where each backend's newest complete checkpoint is, in one place: what an OOM relaunch
or a Resume continues from, and the step it continues at.

Each trainer writes its resume state its own way, and a folder counts only once the
trainer finished writing it (a run killed mid-save leaves a half-written one, which is
skipped):
- native: ``checkpoints/step-NNNNNNNN/`` with its ``COMPLETE`` marker, written last
  (app/training/native/checkpoint.py). The trainer finds it itself.
- kohya sd-scripts (``save_state``): ``NAME-stepNNNNNNNN-state/``, ``NAME-NNNNNN-state/``
  (epochs) and ``NAME-state/`` (the end), each written by ``accelerator.save_state``:
  the pre-hook's ``train_state.json`` first, ``random_states_0.pkl`` last. A resumed
  sd-scripts starts again at the beginning of the state's epoch and counts from 0
  (train_network.py without ``--skip_until_initial_step``), so the step in its names
  and in ``train_state.json`` is the run's step less the launch's offset. Before every
  relaunch loragate moves the complete ones into ``states/step-NNNNNNNN/`` under the
  run's own step (the offset of the launch that wrote them is in ``states/launch.json``,
  written before that launch), so that no later save of sd-scripts can overwrite them.
- SimpleTuner: ``checkpoint-N/``, whose ``.guard`` is written last
  (helpers/training/trainer.py ``checkpoint_state_save``); a ``-tmp`` folder is one
  still being written. Its own "latest" takes the highest folder, guard or not, so
  loragate names the one to continue from.
- ai-toolkit: ``NAME/NAME_NNNNNNNNN.safetensors``, the step in its metadata
  (``training_info``). It resumes by itself from the newest ``NAME*`` file in that
  folder, which therefore stays the same for every launch; a file it could not load
  (cut off by a kill) is moved out of that folder first.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from app.fsutil import atomic_write_text
from app.training.lora_check import lora_problem
from app.training.model_detect import read_safetensors_header
from app.training.native.checkpoint import newest_complete

KOHYA_STATES = "states"
KOHYA_LAUNCH = "launch.json"
KOHYA_LAST_FILE = "random_states_0.pkl"  # accelerate's save_state writes it last
SIMPLETUNER_GUARD = ".guard"
SIMPLETUNER_FOLDER = re.compile(r"^checkpoint-(\d+)$")
STEP_FOLDER = re.compile(r"^step-(\d{8})$")
DAMAGED = "damaged"  # beside ai-toolkit's folder, where its unloadable saves are moved


@dataclass(frozen=True)
class ResumePoint:
    step: int  # the run's step the checkpoint holds
    path: Path  # the folder or file the trainer continues from
    # the step the relaunched trainer counts from (sd-scripts counts from 0 again, at
    # the start of the checkpoint's epoch); its numbers are this much behind the run's
    offset: int = 0


def newest_resume_point(
    backend: str, output_dir: Path, name: str, steps_per_epoch: int = 1
) -> ResumePoint | None:
    """The newest complete checkpoint of the run writing into ``output_dir`` (the LoRA's
    name ``name``), readied for its trainer to continue from; None when there is none."""
    if backend == "native":
        folder = newest_complete(output_dir / "checkpoints")
        return ResumePoint(int(folder.name.split("-")[1]), folder) if folder else None
    if backend == "kohya":
        return _kohya(output_dir, name, max(1, steps_per_epoch))
    if backend == "simpletuner":
        return _simpletuner(output_dir)
    if backend == "ai-toolkit":
        return _ai_toolkit(output_dir / name, name)
    raise ValueError(f"Unknown trainer “{backend}”.")


def launch_offset(output_dir: Path) -> int:
    """How far behind the run's step sd-scripts' own count is in the current launch."""
    path = output_dir / KOHYA_STATES / KOHYA_LAUNCH
    try:
        return int(json.loads(path.read_text("utf-8")).get("offset", 0))
    except (OSError, ValueError, AttributeError):
        return 0


def begin_kohya_launch(output_dir: Path, point: ResumePoint | None) -> None:
    """Record, before sd-scripts starts, the offset of its numbers in this launch."""
    folder = output_dir / KOHYA_STATES
    folder.mkdir(parents=True, exist_ok=True)
    offset = point.offset if point else 0
    atomic_write_text(folder / KOHYA_LAUNCH, json.dumps({"offset": offset}))


def _kohya_state_step(folder: Path) -> int | None:
    """The step sd-scripts counted when it saved ``folder``; None unless complete."""
    if not (folder / KOHYA_LAST_FILE).is_file():
        return None
    try:
        return int(json.loads((folder / "train_state.json").read_text("utf-8"))["current_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _kohya(output_dir: Path, name: str, steps_per_epoch: int) -> ResumePoint | None:
    states = output_dir / KOHYA_STATES
    offset = launch_offset(output_dir)
    for folder in sorted(output_dir.glob(f"{glob_escape(name)}*-state")):
        counted = _kohya_state_step(folder) if folder.is_dir() else None
        if counted is None:
            continue  # half written: sd-scripts may finish it or write it again later
        target = states / f"step-{offset + counted:08d}"
        states.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
    found = [
        (int(match[1]), path)
        for path in (states.iterdir() if states.is_dir() else [])
        if (match := STEP_FOLDER.match(path.name)) and _kohya_state_step(path) is not None
    ]
    if not found:
        return None
    step, path = max(found)
    return ResumePoint(step, path, step // steps_per_epoch * steps_per_epoch)


def _simpletuner(output_dir: Path) -> ResumePoint | None:
    found = [
        (int(match[1]), path)
        for path in (output_dir.iterdir() if output_dir.is_dir() else [])
        if (match := SIMPLETUNER_FOLDER.match(path.name)) and (path / SIMPLETUNER_GUARD).is_file()
    ]
    if not found:
        return None
    step, path = max(found)
    return ResumePoint(step, path)


def _ai_toolkit(save_root: Path, name: str) -> ResumePoint | None:
    """ai-toolkit picks the newest NAME* by creation time and fails on one it cannot
    load: damaged ones are moved aside until the newest loads."""
    if not save_root.is_dir():
        return None
    while True:
        candidates = [
            path for path in save_root.glob(f"{glob_escape(name)}*.safetensors") if path.is_file()
        ]
        if not candidates:
            return None
        newest = max(candidates, key=lambda path: path.stat().st_ctime)
        if lora_problem(newest) is None:
            return ResumePoint(_toolkit_step(newest), newest)
        damaged = save_root.parent / DAMAGED
        damaged.mkdir(exist_ok=True)
        newest.rename(damaged / newest.name)


def _toolkit_step(path: Path) -> int:
    try:
        metadata = read_safetensors_header(path).get("__metadata__") or {}
        return int(json.loads(metadata.get("training_info", "{}")).get("step", 0))
    except (OSError, ValueError, AttributeError, TypeError):
        return 0


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
