"""Gate 2's rule on the training folder every backend's config points at (see
app/training/training_folder.py for what is checked and why it is only a look at the
disk)."""

from __future__ import annotations

from app.findings import Finding
from app.training.assessment import Assessment
from app.training.backends import BACKEND_TITLES
from app.words import plural

EXAMPLES = 3  # files or folders named in one message, then "and N more"


def training_folder(a: Assessment) -> list[Finding]:
    folder = a.training_folder
    if folder is None or not folder.expected:
        return []  # no images: dataset_present says so
    state = folder.state
    if state == "current":
        return []
    command = f"`loragate structure {a.project or 'PROJECT'}`"
    title = BACKEND_TITLES.get(a.backend, a.backend)
    if state == "missing":
        message = f"The training folder {folder.path} has not been written yet."
        why = (
            f"The {title} config reads the images and captions from this folder, not from "
            "the dataset: without it the trainer stops at start-up with no images to train on."
        )
        fix = f"Write the training folder (Curate page, or {command})."
    elif state == "different":
        shown = folder.differences()
        message = "The training folder does not hold what the dataset includes now: " + (
            "; ".join(shown[:EXAMPLES])
            + (f"; and {len(shown) - EXAMPLES} more" if len(shown) > EXAMPLES else "")
            + "."
        )
        why = (
            "The trainer would train on other images than the ones the steps, time and cost "
            "here were worked out for."
        )
        fix = f"Write the training folder again (Curate page, or {command})."
    else:
        changed = folder.changed_since
        examples = ", ".join(changed[:EXAMPLES])
        more = f" and {len(changed) - EXAMPLES} more" if len(changed) > EXAMPLES else ""
        message = (
            f"{plural(len(changed), 'dataset file')} changed after the "
            f"training folder was written ({examples}{more})."
        )
        why = (
            "The trainer reads the training folder, not the dataset: it would train on the "
            "old captions or images."
        )
        fix = f"Write the training folder again (Curate page, or {command})."
    return [
        Finding(
            code=f"config.training_folder_{state}",
            severity="block",
            subject="training_folder",
            message=message,
            why=why,
            fix=fix,
            source="parameters-guide#the-training-folder",
        )
    ]
