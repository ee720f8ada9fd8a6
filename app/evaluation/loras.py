"""The LoRA files of a project that can be evaluated, found on disk (not in a table):

- ``runs/<n>/``: a training run's folder (app/run_folders.py), trained here or imported
  from a rented GPU. Its final LoRA (``*.safetensors`` in the run
  folder itself), the native trainer's checkpoints (``checkpoints/step-NNNNNNNN/
  lora.safetensors``, complete ones only) and an external trainer's intermediate saves
  beside the final one (sd-scripts names them ``name-000004.safetensors``).
- ``output/<name>/``: the folder a training launched outside loragate writes to.
- ``loras/``: LoRA files the artist copied into the project, from anywhere.

A LoRA is named by its path relative to the project folder (its ``id``), which every
page, job and command passes around and ``find_lora`` checks against this list: a
request can only ever name one of these files.

``run_number`` is the one link to a Run record (``run_of`` in run_numbers.py reads it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.run_folders import RUNS_DIRNAME as RUNS_DIR

OUTPUT_DIR, IMPORTED_DIR = "output", "loras"
SUFFIX = ".safetensors"
# app/training/native/checkpoint.py: a checkpoint folder counts once its marker exists.
CHECKPOINT_FOLDER = re.compile(r"^step-(\d{8})$")
CHECKPOINT_MARKER = "COMPLETE"
CHECKPOINT_LORA = "lora.safetensors"
# sd-scripts' and ai-toolkit's intermediate saves: "name-000004" (epoch or step).
NUMBERED_SAVE = re.compile(r"^(.+)[-_](\d{6,9})$")


class LoraNotFound(ValueError):
    """The named LoRA is not one of the project's evaluable files."""


@dataclass(frozen=True)
class LoraFile:
    id: str  # the path relative to the project folder, POSIX separators
    path: Path
    group: str  # "runs/3", "output/ink", "loras": files evaluated and compared together
    label: str  # "final", "step 400", "save 4", or the file name for imported ones
    step: int | None  # training step or save number when the name says it
    final: bool

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
    project_dir: Path, path: Path, group: str, label: str, step: int | None, final: bool
) -> LoraFile:
    return LoraFile(path.relative_to(project_dir).as_posix(), path, group, label, step, final)


def _training_folder(project_dir: Path, folder: Path) -> list[LoraFile]:
    """A run's or an output folder's files: checkpoints by step, then the final one."""
    group = folder.relative_to(project_dir).as_posix()
    found: list[LoraFile] = []
    checkpoints = folder / "checkpoints"
    if checkpoints.is_dir() and not checkpoints.is_symlink():
        for child in sorted(checkpoints.iterdir()):
            match = CHECKPOINT_FOLDER.match(child.name)
            lora = child / CHECKPOINT_LORA
            if match and (child / CHECKPOINT_MARKER).is_file() and _is_file(lora):
                step = int(match.group(1))
                found.append(_lora(project_dir, lora, group, f"step {step}", step, False))
    finals = []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        if not _is_file(path):
            continue
        numbered = NUMBERED_SAVE.match(path.stem)
        if numbered:
            number = int(numbered.group(2))
            found.append(_lora(project_dir, path, group, f"save {number}", number, False))
        else:
            finals.append(_lora(project_dir, path, group, "final", None, True))
    found.sort(key=lambda lora: lora.step or 0)
    return found + finals


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


def loras_of_run(project_dir: Path, run: int) -> list[LoraFile]:
    group = f"{RUNS_DIR}/{run}"
    found = [lora for lora in list_loras(project_dir) if lora.group == group]
    if not found:
        raise LoraNotFound(f"Run {run} has no LoRA file yet (nothing in {group}/).")
    return found


def final_of_run(project_dir: Path, run: int) -> LoraFile:
    """The run's final LoRA (its newest save when it has none yet); LoraNotFound."""
    files = loras_of_run(project_dir, run)
    return next((lora for lora in files if lora.final), files[-1])


def default_lora(loras: list[LoraFile]) -> LoraFile | None:
    """The newest run's final LoRA, else the first file listed."""
    return next((lora for lora in loras if lora.final), loras[0] if loras else None)
