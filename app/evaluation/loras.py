"""The LoRA files of a project that can be evaluated, found on disk (not in a table):

- ``runs/<n>/``: a training run's folder (app/run_folders.py), trained here or imported
  from a rented GPU, laid out as each trainer writes it (app/runs/launch.py):
  native: ``name.safetensors`` and ``checkpoints/step-NNNNNNNN/lora.safetensors``
  (complete ones only); sd-scripts: ``name.safetensors`` beside its saves
  ``name-step00000500.safetensors`` (by step) and ``name-000004.safetensors`` (by
  epoch); SimpleTuner: ``pytorch_lora_weights.safetensors`` in the folder and in each
  ``checkpoint-500/`` (never in a ``checkpoint-500-tmp/`` it is still writing);
  ai-toolkit: ``name/name.safetensors`` beside ``name/name_000000500.safetensors``.
- ``output/<name>/``: the folder a training launched outside loragate writes to.
- ``loras/``: LoRA files the artist copied into the project, from anywhere.

A LoRA is named by its path relative to the project folder (its ``id``), which every
page, job and command passes around and ``find_lora`` checks against this list: a
request can only ever name one of these files.

``run_number`` is the one link to a Run record (``run_of`` in run_numbers.py reads it).
"""

from __future__ import annotations

import glob
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.run_folders import RUNS_DIRNAME as RUNS_DIR

OUTPUT_DIR, IMPORTED_DIR = "output", "loras"
SUFFIX = ".safetensors"
# app/training/native/checkpoint.py: a checkpoint folder counts once its marker exists.
CHECKPOINT_FOLDER = re.compile(r"^step-(\d{8})$")
CHECKPOINT_MARKER = "COMPLETE"
CHECKPOINT_LORA = "lora.safetensors"
# The external trainers' intermediate saves, by the names their sources give them:
# sd-scripts' STEP_FILE_NAME "{}-step{:08d}" and EPOCH_FILE_NAME "{}-{:06d}"
# (library/train_util.py), ai-toolkit's "{name}_{step:09d}" (BaseSDTrainProcess.save).
STEP_SAVE = re.compile(r"^.+(?:-step(\d{8})|_(\d{9}))$")
EPOCH_SAVE = re.compile(r"^.+-(\d{6})$")
# SimpleTuner: checkpoint-<step> (and -rolling ones); "-tmp" is one still being written.
SIMPLETUNER_CHECKPOINT = re.compile(r"^checkpoint-(\d+)(?:-rolling)?$")
SIMPLETUNER_LORA = "pytorch_lora_weights.safetensors"


class LoraNotFound(ValueError):
    """The named LoRA is not one of the project's evaluable files."""


@dataclass(frozen=True)
class LoraFile:
    id: str  # the path relative to the project folder, POSIX separators
    path: Path
    group: str  # "runs/3", "output/ink", "loras": files evaluated and compared together
    label: str  # "final", "step 400", "epoch 4", or the file name for imported ones
    step: int | None  # the training step when the name says it
    final: bool
    epoch: int | None = None  # the epoch of an epoch save (its step is not in its name)

    @property
    def run(self) -> int | None:
        return run_number(self)


def run_number(lora: LoraFile) -> int | None:
    """The run a LoRA belongs to (the number of its ``runs/<n>`` folder), or None for
    files from elsewhere. The one place a file is tied to a Run record."""
    parts = lora.group.split("/")
    if len(parts) == 2 and parts[0] == RUNS_DIR and parts[1].isdigit():
        return int(parts[1])
    return None


def _is_file(path: Path) -> bool:
    # Links are not followed: a file must live inside the project to be evaluated.
    return path.is_file() and not path.is_symlink()


def _lora(
    project_dir: Path,
    path: Path,
    group: str,
    label: str,
    step: int | None,
    final: bool,
    epoch: int | None = None,
) -> LoraFile:
    relative = path.relative_to(project_dir).as_posix()
    return LoraFile(relative, path, group, label, step, final, epoch)


def _named(project_dir: Path, path: Path, group: str) -> LoraFile:
    """A file in a training folder, labelled by what its name says: a step save, an
    epoch save, or the final LoRA."""
    step_save = STEP_SAVE.match(path.stem)
    if step_save:
        step = int(step_save.group(1) or step_save.group(2))
        return _lora(project_dir, path, group, f"step {step}", step, False)
    epoch_save = EPOCH_SAVE.match(path.stem)
    if epoch_save:
        epoch = int(epoch_save.group(1))
        return _lora(project_dir, path, group, f"epoch {epoch}", None, False, epoch)
    return _lora(project_dir, path, group, "final", None, True)


def _checkpoint_files(folder: Path) -> list[tuple[int, Path]]:
    """(step, LoRA file) of the complete checkpoint folders: the native trainer's
    ``checkpoints/step-N/`` (once its marker exists) and SimpleTuner's ``checkpoint-N/``
    (renamed from ``-tmp`` once written)."""
    found = []
    checkpoints = folder / "checkpoints"
    for child in _subfolders(checkpoints):
        match = CHECKPOINT_FOLDER.match(child.name)
        if match and (child / CHECKPOINT_MARKER).is_file() and _is_file(child / CHECKPOINT_LORA):
            found.append((int(match.group(1)), child / CHECKPOINT_LORA))
    for child in _subfolders(folder):
        match = SIMPLETUNER_CHECKPOINT.match(child.name)
        if match and _is_file(child / SIMPLETUNER_LORA):
            found.append((int(match.group(1)), child / SIMPLETUNER_LORA))
    return found


def _job_folder_files(folder: Path) -> list[Path]:
    """ai-toolkit's files: its job's folder ``<name>/`` holds ``<name>.safetensors`` and
    ``<name>_<step>.safetensors``; other files in subfolders (a trainer's saved state)
    are not LoRAs to evaluate."""
    found = []
    for child in _subfolders(folder):
        for path in child.glob(f"{glob.escape(child.name)}*{SUFFIX}"):
            stem = path.stem.removeprefix(child.name)
            if _is_file(path) and (stem == "" or re.fullmatch(r"_\d{9}", stem)):
                found.append(path)
    return found


def _order(lora: LoraFile) -> tuple[int, int]:
    # Saves by step, epoch saves by epoch (before step saves: a trainer asked to save
    # both is rare, and their steps are not in their names); finals last.
    if lora.final:
        return (2, 0)
    return (1, lora.step) if lora.step is not None else (0, lora.epoch or 0)


def _training_folder(project_dir: Path, folder: Path) -> list[LoraFile]:
    """A run's or an output folder's files: epoch saves, saves and checkpoints by step,
    then the final one."""
    group = folder.relative_to(project_dir).as_posix()
    found = [
        _lora(project_dir, lora, group, f"step {step}", step, False)
        for step, lora in _checkpoint_files(folder)
    ]
    files = [path for path in folder.glob(f"*{SUFFIX}") if _is_file(path)]
    found += [_named(project_dir, path, group) for path in files + _job_folder_files(folder)]
    found.sort(key=lambda lora: (*_order(lora), lora.id))
    return found


def _subfolders(folder: Path) -> list[Path]:
    if not folder.is_dir() or folder.is_symlink():
        return []
    return [child for child in folder.iterdir() if child.is_dir() and not child.is_symlink()]


def list_loras(project_dir: Path) -> list[LoraFile]:
    """Every evaluable LoRA of the project: runs (newest first), output folders, then
    imported files."""
    found: list[LoraFile] = []
    runs = _subfolders(project_dir / RUNS_DIR)
    runs.sort(key=lambda p: (not p.name.isdigit(), -int(p.name) if p.name.isdigit() else 0, p.name))
    for folder in runs:
        found += _training_folder(project_dir, folder)
    for folder in sorted(_subfolders(project_dir / OUTPUT_DIR)):
        found += _training_folder(project_dir, folder)
    imported = project_dir / IMPORTED_DIR
    if imported.is_dir() and not imported.is_symlink():
        for path in sorted(imported.glob(f"*{SUFFIX}")):
            if _is_file(path):
                found.append(_lora(project_dir, path, IMPORTED_DIR, path.name, None, True))
    return found


def find_lora(project_dir: Path, lora_id: str) -> LoraFile:
    for lora in list_loras(project_dir):
        if lora.id == lora_id:
            return lora
    raise LoraNotFound(
        f"“{lora_id[:200]}” is not a LoRA of this project. LoRAs are read from its runs "
        f"folder, its output folder and its {IMPORTED_DIR}/ folder."
    )


def loras_of_run(project_dir: Path, run: int, recorded: Sequence[str] = ()) -> list[LoraFile]:
    """The run's files. ``recorded``: the run record's output files (paths in the run's
    folder, ``Run.output_files``), which are the run's final LoRA whatever their names
    look like (an output name that ends in six digits reads as an epoch save)."""
    group = f"{RUNS_DIR}/{run}"
    found = [lora for lora in list_loras(project_dir) if lora.group == group]
    if not found:
        raise LoraNotFound(f"Run {run} has no LoRA file yet (nothing in {group}/).")
    outputs = {f"{group}/{path}" for path in recorded}
    if not any(lora.id in outputs for lora in found):
        return found
    marked = [_as_recorded(lora, lora.id in outputs) for lora in found]
    marked.sort(key=lambda lora: (*_order(lora), lora.id))
    return marked


def _as_recorded(lora: LoraFile, final: bool) -> LoraFile:
    if final:
        return replace(lora, label="final", step=None, epoch=None, final=True)
    # Named like a final LoRA, yet not the one the run recorded: its file name says which.
    return replace(lora, label=lora.path.name, final=False) if lora.final else lora


def final_of_run(project_dir: Path, run: int, recorded: Sequence[str] = ()) -> LoraFile:
    """The run's final LoRA: the run record's output file where it names one that is
    there, else the file named as a final one, else its newest save; LoraNotFound."""
    files = loras_of_run(project_dir, run, recorded)
    return next((lora for lora in files if lora.final), files[-1])


def default_lora(loras: list[LoraFile]) -> LoraFile | None:
    """The newest run's final LoRA, else the first file listed."""
    return next((lora for lora in loras if lora.final), loras[0] if loras else None)
