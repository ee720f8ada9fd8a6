"""``models.pull``: a catalogue model downloaded (or found in the cache) by the worker
in a child process, its bytes as the job's progress, then written into studio.md — a
base model as a named entry (name, path, family, source, revision, and the parts a
trainer needs beside it), a captioner as the folder ``captioners: wd14:`` or
``natural:`` points at and as a named entry of ``captioner_models`` (name, kind, path,
source, revision)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.grimoire import (
    BaseModelEntry,
    CaptionerModelEntry,
    record_base_model,
    record_captioner,
    set_captioner_folder,
)
from app.hub.catalogue import CatalogueEntry, find_entry
from app.hub.pull import PullCancelled, Pulled, pull
from app.settings import Settings
from app.training.model_detect import ModelFileError, detect
from app.words import human_bytes
from app.worker import JobCancelled, JobHandle

PULL_JOB = "models.pull"


def pull_title(entry: CatalogueEntry) -> str:
    return f"Getting {entry.title}"


def pull_params(settings: Settings, name: str) -> dict[str, Any]:
    """The job's parameters; CatalogueError at once for a name the catalogue lacks."""
    entry = find_entry(settings, name)
    return {
        "name": entry.name,
        "grimoire_dir": str(settings.grimoire_dir),
        "models_catalogue": str(settings.models_catalogue) if settings.models_catalogue else None,
    }


def _family(pulled: Pulled) -> str:
    try:
        found = detect(pulled.path).family
    except (ModelFileError, OSError):
        found = None
    return found or pulled.entry.family


def record(grimoire_dir: Path, pulled: Pulled) -> dict[str, Any]:
    """Write the pulled model into studio.md; what was written."""
    entry = pulled.entry
    if entry.kind == "captioner":
        record_captioner(
            grimoire_dir,
            CaptionerModelEntry(
                name=entry.name,
                kind=entry.captioner,
                path=str(pulled.path),
                source=entry.repo,
                revision=pulled.commit,
            ),
        )
        set_captioner_folder(grimoire_dir, entry.captioner, pulled.path)
        return {"captioner": entry.captioner, "family": ""}
    family = _family(pulled)
    model = BaseModelEntry(
        name=entry.name,
        path=str(pulled.path),
        family=family,
        source=entry.repo,
        revision=pulled.commit,
    )
    parts = {role: str(path) for role, path in pulled.parts.items()}
    if parts:
        model.parts = parts
    record_base_model(grimoire_dir, model)
    return {"captioner": "", "family": family, "parts": parts}


def pull_job(handle: JobHandle) -> dict[str, Any]:
    params = handle.params
    settings = Settings(
        grimoire_dir=params["grimoire_dir"], models_catalogue=params.get("models_catalogue")
    )
    entry = find_entry(settings, params["name"])
    try:
        pulled = pull(entry, handle.progress, lambda: handle.cancelled)
    except PullCancelled:
        raise JobCancelled() from None
    written = record(settings.grimoire_dir, pulled)
    how = (
        f"downloaded {human_bytes(pulled.downloaded)}"
        if pulled.downloaded
        else "found in the Hugging Face cache"
    )
    where = f"captioners: {entry.captioner}" if entry.kind == "captioner" else "its base models"
    return {
        "name": entry.name,
        "kind": entry.kind,
        "path": str(pulled.path),
        "commit": pulled.commit,
        "downloaded": pulled.downloaded,
        **written,
        "message": f"{entry.title}: {how}; studio.md lists it under {where}.",
    }
