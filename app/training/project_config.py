"""A project's training config over time: the current one (or the Standard preset for its
type and family when none is saved yet), saving changes with a journal line that names
every field that changed (old → new), applying a preset, and confirming the estimate.

The config lives in ``<project>/training.json``; the journal (SQLite events and
journal.md) is its history. No table of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app import journal
from app.dataset.inventory import inventory
from app.fsutil import atomic_write_text
from app.models.base import utcnow
from app.training.config import (
    ConfigFileError,
    TrainingConfig,
    config_path,
    load_config,
    save_config,
)
from app.training.machine import average_repeats, machine_device
from app.training.presets import PRESET_TITLES, Preset, build_preset
from app.words import plural
from app.workspace import ProjectContext

CONFIRMATION_FILE = "estimate-confirmed.json"
DEFAULT_PRESET = "standard"


def project_preset(ctx: ProjectContext, key: str) -> Preset:
    """The preset ``key`` for this project: its type and family, its dataset's repeats
    and this machine's device (app/training/machine.py)."""
    return build_preset(
        key,
        ctx.project.training_type,
        ctx.project.model_family,
        repeats=average_repeats(inventory(ctx)),
        device=machine_device(ctx),
    )


def default_config(ctx: ProjectContext) -> TrainingConfig:
    return project_preset(ctx, DEFAULT_PRESET).config(ctx.project.slug)


def current_config(ctx: ProjectContext) -> TrainingConfig:
    """The saved config, or the Standard preset when nothing is saved yet (raises
    ConfigFileError when training.json exists but cannot be used)."""
    return load_config(ctx.dir) or default_config(ctx)


def _words(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return plural(len(value), "item")
    return str(value)


def describe_changes(changes: dict[str, tuple[Any, Any]]) -> str:
    return "; ".join(
        f"{field} {_words(old)} → {_words(new)}" for field, (old, new) in changes.items()
    )


def save_changes(ctx: ProjectContext, new: TrainingConfig) -> dict[str, tuple[Any, Any]]:
    """Save the config and journal what changed; a change away from a preset's values
    makes the config "custom". Returns the changes (empty: nothing was written)."""
    saved = load_config(ctx.dir)
    old = saved or default_config(ctx)
    changes = new.changes_from(old)
    changes.pop("preset", None)
    if saved is not None and not changes:
        return {}
    if changes and new.preset == old.preset and new.preset != "custom":
        new = new.model_copy(update={"preset": "custom"})
    save_config(ctx.dir, new)
    message = (
        f"Training config changed: {describe_changes(changes)}."
        if changes
        else f"Training config saved ({PRESET_TITLES.get(new.preset, new.preset)} preset)."
    )
    data = {
        field: {"old": old_value, "new": new_value}
        for field, (old_value, new_value) in changes.items()
    }
    with ctx.workspace.db.writing() as session:
        journal.record(session, ctx.project, ctx.dir, "config.changed", message, {"changes": data})
    return changes


def start_over_hint(ctx: ProjectContext) -> str:
    """How to get out of an unreadable training.json from the command line."""
    return (
        f"To start over from a preset, run `loragate config {ctx.project.slug} --preset "
        "standard --out DIR` or apply a preset on the Config page; the unreadable file is "
        "kept beside it as training-unreadable-<time>.json."
    )


def _set_aside_broken(ctx: ProjectContext) -> tuple[TrainingConfig | None, str | None]:
    """The saved config; or, when training.json cannot be used, None and the name it was
    moved to (so a preset can replace it without losing what was there)."""
    try:
        return load_config(ctx.dir), None
    except ConfigFileError:
        path = config_path(ctx.dir)
        kept = path.with_name(f"training-unreadable-{utcnow():%Y%m%dT%H%M%S%f}.json")
        path.replace(kept)
        return None, kept.name


def apply_preset(ctx: ProjectContext, key: str) -> TrainingConfig:
    """Replace the config by a preset (keeping the sample prompts, seed, output name and
    hardware the artist set) and journal it with the values it changed. An unreadable
    training.json is set aside (renamed, never deleted) and the preset starts over from
    the project's defaults: this is the way out of a broken file."""
    saved, set_aside = _set_aside_broken(ctx)
    base = saved or default_config(ctx)
    fresh = project_preset(ctx, key).config()
    kept = {
        field: getattr(base, field)
        for field in (
            "sample_prompts",
            "sample_every_n_steps",
            "seed",
            "output_name",
            "device",
            "num_gpus",
        )
    }
    new = fresh.model_copy(update=kept)
    changes = new.changes_from(base) if saved is not None else {}
    save_config(ctx.dir, new)
    message = f"{PRESET_TITLES[key]} preset applied"
    message += f": {describe_changes(changes)}." if changes else "."
    if set_aside:
        message += f" training.json could not be read; it was kept as {set_aside}."
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "config.preset",
            message,
            {
                "preset": key,
                "changes": {f: {"old": o, "new": n} for f, (o, n) in changes.items()},
                "set_aside": set_aside,
            },
        )
    return new


@dataclass(frozen=True)
class Confirmation:
    config_digest: str
    steps: int
    summary: str
    # The figures confirmed (app/runs/cost.py): training starts only when they
    # are the figures of the estimate now.
    figures: dict[str, Any] = field(default_factory=dict)


def read_confirmation(ctx: ProjectContext) -> Confirmation | None:
    try:
        data = json.loads((ctx.dir / CONFIRMATION_FILE).read_text("utf-8"))
        figures = data.get("figures") or {}
        return Confirmation(
            str(data["config_digest"]),
            int(data["steps"]),
            str(data["summary"]),
            figures if isinstance(figures, dict) else {},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def confirm_estimate(
    ctx: ProjectContext,
    config_digest: str,
    steps: int,
    summary: str,
    figures: dict[str, Any] | None = None,
) -> None:
    """Record that the artist accepted the time and cost shown for this config."""
    record = {"config_digest": config_digest, "steps": steps, "summary": summary}
    if figures is not None:
        record["figures"] = figures
    atomic_write_text(ctx.dir / CONFIRMATION_FILE, json.dumps(record, indent=2) + "\n")
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "config.estimate_confirmed",
            f"You confirmed the estimate: {summary}.",
            {"config_digest": config_digest, "steps": steps, "figures": figures or {}},
        )
