"""Whether the training folder every backend reads is there and matches the dataset.

Every config loragate writes (native job, kohya dataset.toml, SimpleTuner
multidatabackend.json, ai-toolkit job) points at ``layout_dir(ctx)``: ``{repeats}_{concept}``
folders holding the included images with their approved captions, written by
``loragate structure`` or the Curate page. The configs are only as good as that folder.

A pure look at the disk, cheap enough for every Gate 2 check and every fingerprint: one
walk of the training folder and one of the dataset folder, names, counts and
modification times only (no image is opened). Three things can be wrong:

- missing: the folder (or any image folder in it) does not exist;
- different: its ``{repeats}_{concept}`` folders or image counts are not what the dataset
  includes now (an image added, excluded or moved since it was written);
- older: an included image or its caption in the dataset changed after the folder was
  written. "Written" is the newest modification time of the caption files, which the
  writer writes afresh every time: images are hard-linked or copied with their own
  times, so they say nothing about when the folder was written.

The folders' own modification times are left out on purpose: trainers cache into them
(kohya's ``cache_latents_to_disk`` writes an ``.npz`` beside each image, ai-toolkit a
``_latent_cache`` folder), and a dry run doing so must not make Gate 2, and with it the
dry run itself, out of date.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from app.dataset.files import caption_path_for, scan_folder
from app.dataset.inventory import IMAGE_SUFFIXES, KOHYA_FOLDER, DatasetItem
from app.words import plural

State = Literal["missing", "different", "older", "current"]
EXAMPLES_SHOWN = 3


@dataclass(frozen=True)
class TrainingFolder:
    path: Path
    expected: dict[str, int]  # {repeats}_{concept} → included images in the dataset
    found: dict[str, int]  # the same, counted in the training folder
    images: tuple[tuple[str, int, int], ...]  # (path, size, mtime) of each image in it
    written_ns: int | None  # when it was last written (None: never)
    changed_since: tuple[str, ...]  # dataset files newer than that, relative, sorted

    @property
    def state(self) -> State:
        if not self.found:
            return "missing"
        if self.found != self.expected:
            return "different"
        if self.changed_since:
            return "older"
        return "current"

    def differences(self) -> list[str]:
        """One plain phrase per folder whose content differs from the dataset."""
        phrases = []
        for folder in sorted(set(self.expected) | set(self.found)):
            want, have = self.expected.get(folder, 0), self.found.get(folder, 0)
            if want == have:
                continue
            if not have:
                phrases.append(f"{folder} is missing ({plural(want, 'image')} in the dataset)")
            elif not want:
                phrases.append(f"{folder} holds {plural(have, 'image')} the dataset no longer has")
            else:
                phrases.append(f"{folder} holds {plural(have, 'image')}, the dataset {want}")
        return phrases

    def digest(self) -> str:
        """Changes whenever the folder is written again or falls behind the dataset."""
        payload = {
            "state": self.state,
            "found": self.found,
            "images": [list(image) for image in self.images],
            "written_ns": self.written_ns,
            "changed_since": list(self.changed_since),
        }
        encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def expected_folders(items: list[DatasetItem]) -> dict[str, int]:
    counts = Counter(f"{item.repeats}_{item.concept}" for item in items if item.included)
    return dict(sorted(counts.items()))


def _layout_contents(
    layout: Path,
) -> tuple[dict[str, int], tuple[tuple[str, int, int], ...], int | None]:
    """Images per ``{repeats}_{concept}`` folder, each image as (path, size, mtime), and
    the newest time of a caption file there."""
    if not layout.is_dir():
        return {}, (), None
    scan = scan_folder(layout)
    found: Counter[str] = Counter()
    images = []
    for entry in scan.files:
        parts = PurePosixPath(entry.path).parts
        is_image = PurePosixPath(entry.path).suffix.lower() in IMAGE_SUFFIXES
        if len(parts) == 2 and KOHYA_FOLDER.match(parts[0]) and is_image:
            found[parts[0]] += 1
            images.append((entry.path, entry.size, entry.mtime_ns))
    times = [entry.mtime_ns for entry in scan.captions.values()]
    return dict(sorted(found.items())), tuple(sorted(images)), max(times) if times else None


def _changed_since(dataset: Path, items: list[DatasetItem], written_ns: int) -> tuple[str, ...]:
    if not dataset.is_dir():
        return ()
    wanted = set()
    for item in items:
        if item.included:
            wanted.add(item.path)
            wanted.add(caption_path_for(item.path))
    scan = scan_folder(dataset)
    entries = [*scan.files, *scan.captions.values()]
    return tuple(sorted(e.path for e in entries if e.path in wanted and e.mtime_ns > written_ns))


def check_training_folder(layout: Path, dataset: Path, items: list[DatasetItem]) -> TrainingFolder:
    found, images, written_ns = _layout_contents(layout)
    expected = expected_folders(items)
    changed = _changed_since(dataset, items, written_ns) if written_ns is not None else ()
    return TrainingFolder(layout, expected, found, images, written_ns, changed)
