"""Changing the interview's answers after the project exists: the training type, the
model family, the base model, the caption format and what must vary or stay fixed. (The
trigger word rewrites every caption, so it has its own change: app/captions/trigger_change.)

The answers are checked by the same rules as at creation. Nothing else is rewritten:
the gates that judged the old answers go out of date through their fingerprints (Gate 1
holds the intent, Gate 2 the base model file and Gate 1's fingerprint, Gate 3 the
family), and the change names them, in the journal and to the artist, by comparing each
gate's state before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app import journal
from app.gates.state import GateState, gate_states
from app.intent import CAPTION_FORMATS, MODEL_FAMILIES, TRAINING_TYPES
from app.models import Project
from app.models.base import utcnow
from app.projects import Intent, IntentErrors, check_answers, write_project_file
from app.training.config import ConfigFileError, load_config
from app.workspace import ProjectContext

# The answers this change edits, with their plain names.
FIELDS = {
    "training_type": "type",
    "model_family": "model family",
    "base_model": "base model",
    "caption_format": "caption format",
    "must_vary": "what must vary",
    "must_stay": "what must stay fixed",
}


@dataclass
class IntentChange:
    changes: dict[str, tuple[str, str]]
    stale: list[GateState]  # gates this change put out of date
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def message(self) -> str:
        if not self.changes:
            return "Nothing changed: the answers are the ones the project already had."
        lines = "; ".join(
            f"{FIELDS[key]} {_words(key, old)} → {_words(key, new)}"
            for key, (old, new) in self.changes.items()
        )
        text = f"Intent changed: {lines}."
        if self.stale:
            text += " Out of date now: " + "; ".join(
                f"{state.title} ({', '.join(state.stale_reasons)})" for state in self.stale
            )
            text += ": run them again."
        noted = [f"Noted warning: {warning}" for warning in self.warnings]
        return " ".join([text, *self.notes, *noted])


def _words(key: str, value: str) -> str:
    if not value:
        return "(none)"
    if key == "training_type" and value in TRAINING_TYPES:
        return TRAINING_TYPES[value].title.lower()
    if key == "model_family" and value in MODEL_FAMILIES:
        return MODEL_FAMILIES[value].title
    if key == "caption_format" and value in CAPTION_FORMATS:
        return CAPTION_FORMATS[value].split(":")[0].lower()
    return f"“{value}”"


def _config_note(ctx: ProjectContext, family: str) -> list[str]:
    """A saved training config keeps the old family's resolution: say so."""
    try:
        config = load_config(ctx.dir)
    except ConfigFileError:
        return []
    side = MODEL_FAMILIES[family].resolution
    if config is None or config.resolution == side:
        return []
    return [
        f"The saved training config trains at {config.resolution} pixels; "
        f"{MODEL_FAMILIES[family].title} was trained at {side}. Choose a preset again on "
        "the Config page, or set the resolution yourself."
    ]


def change_intent(ctx: ProjectContext, answers: dict[str, str]) -> IntentChange:
    """Check and save new answers (only the keys of ``FIELDS``; those not given keep
    their value). Raises IntentErrors, naming each answer that cannot be used."""
    unknown = set(answers) - set(FIELDS)
    if unknown:
        raise IntentErrors({key: "This answer cannot be changed here." for key in unknown})
    project = ctx.project
    new_values = {key: answers.get(key, getattr(project, key)).strip() for key in FIELDS}
    intent = Intent(
        name=project.name, trigger_word=project.trigger_word, backend=project.backend, **new_values
    )
    errors, warnings = check_answers(ctx.workspace, intent)
    if errors:
        raise IntentErrors(errors)
    changes = {
        key: (getattr(project, key), value)
        for key, value in new_values.items()
        if value != getattr(project, key)
    }
    if not changes:
        return IntentChange({}, [])
    before = {state.name: state.status for state in gate_states(ctx)}
    changed = Project(**(project.model_dump() | {key: new for key, (_, new) in changes.items()}))
    after = gate_states(ctx.workspace.context(changed))
    stale = [s for s in after if s.status == "stale" and before.get(s.name) != "stale"]
    notes = _config_note(ctx, changed.model_family) if "model_family" in changes else []
    result = IntentChange(changes, stale, [m for ms in warnings.values() for m in ms], notes)
    data: dict[str, Any] = {
        "changes": {key: {"old": old, "new": new} for key, (old, new) in changes.items()},
        "stale": [state.name for state in stale],
    }
    with ctx.workspace.db.writing() as session:
        row = session.get(Project, project.id)
        assert row is not None
        for key, (_, new) in changes.items():
            setattr(row, key, new)
        row.updated_at = utcnow()
        session.add(row)
        journal.record(session, row, ctx.dir, "intent.changed", result.message(), data)
    for key, (_, new) in changes.items():
        setattr(ctx.project, key, new)
    ctx.project.updated_at = row.updated_at
    write_project_file(ctx.dir, ctx.project)
    return result
