"""Registering the recommended LoRA in the studio: the file copied into the studio's LoRA
folder (``lora_folder`` in studio.md, ``grimoire/loras`` when unset) and its entry in
studio.md written or updated by name, the rest of the file untouched
(``app.grimoire.register_lora``); journaled."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from app import journal
from app.dataset.inventory import inventory
from app.demo import is_demo
from app.evaluation.loras import find_lora
from app.evaluation.recommendation import read_recommendation
from app.evaluation.sheet import weight_label
from app.grimoire import GrimoireError, RegisteredLora, register_lora
from app.models.base import utcnow
from app.paths import UnsafePathError, user_path
from app.workspace import ProjectContext

DEFAULT_FOLDER = "loras"
DEMO_LORA_NOTE = "Demo: trained on the demo's noise model, it draws noise."
NAME = re.compile(r"[^A-Za-z0-9._-]+")


class RegistrationRefused(ValueError):
    """Nothing was registered; the message says why and what to do."""


def lora_folder(ctx: ProjectContext) -> Path:
    try:
        configured = ctx.workspace.studio().lora_folder
    except GrimoireError as exc:
        raise RegistrationRefused(f"studio.md cannot be read: {exc}") from None
    if not configured:
        return ctx.workspace.grimoire_dir / DEFAULT_FOLDER
    try:
        folder = user_path(configured)
    except UnsafePathError as exc:
        raise RegistrationRefused(f"lora_folder in studio.md cannot be used: {exc}") from None
    if not folder.is_absolute():
        raise RegistrationRefused(
            f"lora_folder in studio.md is “{configured}”: write the whole path of the folder "
            "your image tool reads LoRAs from (for example /home/me/ComfyUI/models/loras)."
        )
    return folder


def default_name(ctx: ProjectContext) -> str:
    return NAME.sub("-", ctx.project.slug).strip("-.") or "lora"


def _copy_into(source: Path, folder: Path, name: str) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    except OSError as exc:
        raise RegistrationRefused(
            f"The studio's LoRA folder {folder} cannot be written to "
            f"({exc.strerror or exc}). Set lora_folder in studio.md to a folder you can write."
        ) from None
    os.close(handle)
    target = folder / f"{name}.safetensors"
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise RegistrationRefused(f"Copying the LoRA into {folder} failed: {exc}") from None
    return target


def _notes(ctx: ProjectContext, notes: str) -> str:
    """The artist's notes, on one line; a demo LoRA says what it is first, so that nobody
    picks it from the studio's list (or the LoRA folder) for a picture."""
    notes = " ".join(notes.split())[:500]
    if is_demo(ctx.project):
        return f"{DEMO_LORA_NOTE} {notes}".strip()
    return notes


def register(ctx: ProjectContext, name: str = "", notes: str = "") -> RegisteredLora:
    recommendation = read_recommendation(ctx)
    if recommendation is None:
        raise RegistrationRefused(
            "Nothing is recommended yet: click the grid cell that looks right first."
        )
    name = NAME.sub("-", name.strip()).strip("-.") or default_name(ctx)
    lora = find_lora(ctx.dir, recommendation.lora)
    target = _copy_into(lora.path, lora_folder(ctx), name)
    project = ctx.project
    entry = RegisteredLora(
        name=name,
        path=str(target),
        trigger_word=project.trigger_word,
        family=project.model_family,
        weight=recommendation.weight,
        weight_range=[recommendation.low, recommendation.high],
        base_model=project.base_model,
        caption_format=project.caption_format,
        dataset_size=sum(1 for item in inventory(ctx) if item.included),
        project=project.slug,
        source=lora.id,
        registered_at=utcnow().date().isoformat(),
        notes=_notes(ctx, notes),
    )
    try:
        register_lora(ctx.workspace.grimoire_dir, entry)
    except GrimoireError as exc:
        raise RegistrationRefused(f"studio.md cannot be updated: {exc}") from None
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "lora.registered",
            f"Registered {name} in the studio: {recommendation.label} at weight "
            f"{weight_label(recommendation.weight)}, copied to {target}.",
            {**entry.model_dump(), "run": lora.run},
        )
    return entry


def registered_by_project(
    ctx_studio_loras: list[RegisteredLora],
) -> dict[str, list[RegisteredLora]]:
    """The studio's LoRAs grouped by the project that registered them (projects list)."""
    grouped: dict[str, list[RegisteredLora]] = {}
    for lora in ctx_studio_loras:
        if lora.project:
            grouped.setdefault(lora.project, []).append(lora)
    return grouped
