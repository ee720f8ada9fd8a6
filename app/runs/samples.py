"""Sample images of the external backends, which write them without a console line:
where each one writes them, the step a file's name carries, and a watcher that tells
the supervisor of new ones (it emits the same ``sample`` events as the native trainer's).

- kohya sd-scripts (library/train_util.py ``sample_image_inference``):
  ``OUTPUT/sample/NAME_NNNNNN_II_TIMESTAMP_SEED.png``, or ``eNNNNNN`` for an epoch's;
  after a resume its step numbers are behind the run's by the launch's offset.
- SimpleTuner (helpers/training/validation_images.py ``save_images``):
  ``OUTPUT/validation_images/step_N_SHORTNAME_I_WxH.png``.
- ai-toolkit (jobs/process/BaseSDTrainProcess.py ``sample``):
  ``OUTPUT/NAME/samples/TIME__NNNNNNNNN_I.jpg``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from app.paths import UnsafePathError, safe_join

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
# One part of a sample's path: what the trainers write (no blanks, nothing hidden).
_PART = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
_KOHYA = re.compile(r"_(e?)(\d{6})_\d{2}_\d{14}(?:_\d+)?\.png$")
_SIMPLETUNER = re.compile(r"^step_(\d+)_")
_AI_TOOLKIT = re.compile(r"__(\d{9})_\d+\.\w+$")


def sample_folders(backend: str, output_dir: Path, name: str) -> list[Path]:
    """Where ``backend`` writes its sample images (none for the native trainer, which
    reports its own)."""
    if backend == "kohya":
        return [output_dir / "sample"]
    if backend == "simpletuner":
        return [output_dir / "validation_images"]
    if backend == "ai-toolkit":
        return [output_dir / name / "samples"]
    return []


def sample_step(
    backend: str, filename: str, offset: int = 0, steps_per_epoch: int = 0
) -> int | None:
    """The run's step a sample file's name carries (None where it names none)."""
    if backend == "kohya":
        match = _KOHYA.search(filename)
        if match is None:
            return None
        if match[1]:  # an epoch's sample: epochs are counted as they are
            return int(match[2]) * steps_per_epoch if steps_per_epoch else None
        return int(match[2]) + offset
    pattern = _SIMPLETUNER if backend == "simpletuner" else _AI_TOOLKIT
    match = pattern.search(filename)
    return int(match[1]) if match else None


def sample_file(run_folder: Path, relative: str) -> Path | None:
    """The image file at ``relative`` inside ``run_folder``, or None: only image files,
    only under the run's folder (``safe_join``: no ``..``, no absolute path, no link out
    of it), only names of the plain characters trainers write."""
    parts = relative.split("/")
    if not all(_PART.match(part) for part in parts):
        return None
    if Path(relative).suffix.lower() not in IMAGE_TYPES:
        return None
    try:
        path = safe_join(run_folder, relative)
    except UnsafePathError:
        return None
    return path if path.is_file() else None


@dataclass
class SampleWatcher:
    """New image files in the sample folders. A file is reported once its size has
    stayed the same between two looks, so that a page never loads a half-written one;
    files there before the watcher started were reported by an earlier launch."""

    folders: list[Path]
    reported: set[Path] = field(default_factory=set)
    sizes: dict[Path, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reported = set(self._images())

    def _images(self) -> list[Path]:
        found = []
        for folder in self.folders:
            if folder.is_dir() and not folder.is_symlink():
                found += [
                    path
                    for path in folder.iterdir()
                    if path.suffix.lower() in IMAGE_TYPES
                    and path.is_file()
                    and not path.is_symlink()
                ]
        return found

    def new(self) -> list[Path]:
        """The images written since the last look, oldest first."""
        ready = []
        for path in self._images():
            if path in self.reported:
                continue
            size = path.stat().st_size
            if size and self.sizes.get(path) == size:
                ready.append(path)
                self.reported.add(path)
                self.sizes.pop(path, None)
            else:
                self.sizes[path] = size
        return sorted(ready, key=lambda path: (path.stat().st_mtime, path.name))
