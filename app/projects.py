"""Projects: create one from the intent interview's answers, list them, find one.

The wizard, the CLI and the tests all go through ``create_project``, so the rules are
the same everywhere: everything is validated first, and a refused project leaves no
row, no folder and no journal behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import unicodedata
from pathlib import Path

from pydantic import BaseModel, Field
from sqlmodel import select

from app import journal
from app.fsutil import atomic_write_text
from app.grimoire import GrimoireError
from app.intent import (
    BACKENDS,
    CAPTION_FORMATS,
    MODEL_FAMILIES,
    TRAINING_TYPES,
    check_trigger_word,
)
from app.models import Project
from app.models.base import utcnow
from app.paths import UnsafePathError, user_path
from app.workspace import Workspace

PROJECT_FILE = "project.json"
NAME_MAX_LENGTH = 80
# Extensions of single-file checkpoints artists download. Pickled ones are accepted as
# references here; Gate 2 explains why they are never unpickled and how to convert.
CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")


class Intent(BaseModel):
    """The interview's answers, as typed."""

    name: str = ""
    training_type: str = ""
    trigger_word: str = ""
    base_model: str = ""
    model_family: str = ""
    caption_format: str = ""
    must_vary: str = ""
    must_stay: str = ""
    backend: str = "native"


class IntentErrors(ValueError):
    """Field name → plain-language message, for every answer that cannot be used."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class ValidatedIntent(BaseModel):
    intent: Intent
    slug: str
    warnings: dict[str, list[str]] = Field(default_factory=dict)


def slugify(name: str) -> str:
    """The folder name: ASCII letters, digits and hyphens. A name written in a script
    without Latin letters (水墨) gets a stable name derived from its text instead."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60]
    if not slug and any(character.isalnum() for character in name):
        slug = "project-" + hashlib.sha256(name.strip().encode("utf-8")).hexdigest()[:8]
    return slug


def validate_intent(workspace: Workspace, intent: Intent) -> ValidatedIntent:
    errors: dict[str, str] = {}
    warnings: dict[str, list[str]] = {}
    intent = intent.model_copy(
        update={
            field: getattr(intent, field).strip()
            for field in ("name", "trigger_word", "base_model", "must_vary", "must_stay")
        }
    )

    slug = slugify(intent.name)
    if not intent.name:
        errors["name"] = "Give the project a name, for example “ink-wash style”."
    elif len(intent.name) > NAME_MAX_LENGTH:
        errors["name"] = f"Keep the name under {NAME_MAX_LENGTH} characters."
    elif not slug:
        errors["name"] = "Use at least one letter or digit in the name: it names the folder."
    else:
        with workspace.db.reading() as session:
            if session.exec(select(Project).where(Project.slug == slug)).first():
                errors["name"] = (
                    f"A project called “{intent.name}” already exists (folder “{slug}”). "
                    "Pick another name or open that project."
                )
        if "name" not in errors and workspace.project_dir(slug).exists():
            errors["name"] = (
                f"The folder grimoire/training/{slug} already exists but no project uses "
                "it. Move it away or pick another name; loragate will not write into it."
            )

    trigger = check_trigger_word(intent.trigger_word)
    if trigger.errors:
        errors["trigger_word"] = " ".join(trigger.errors)
    trigger_warnings = trigger.warnings + (
        [] if trigger.errors else _trigger_in_use(workspace, intent.trigger_word)
    )
    if trigger_warnings:
        warnings["trigger_word"] = trigger_warnings

    answer_errors, answer_warnings = check_answers(workspace, intent)
    errors |= answer_errors
    for field, messages in answer_warnings.items():
        warnings.setdefault(field, []).extend(messages)

    if intent.backend not in BACKENDS:
        errors["backend"] = f"Unknown trainer. Choose {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}."

    if errors:
        raise IntentErrors(errors)
    return ValidatedIntent(intent=intent, slug=slug, warnings=warnings)


def check_answers(
    workspace: Workspace, intent: Intent
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Errors and warnings for the answers that can be changed after creation: the
    training type, the model family, the base model and the caption format."""
    errors: dict[str, str] = {}
    warnings: dict[str, list[str]] = {}
    if intent.training_type not in TRAINING_TYPES:
        errors["training_type"] = (
            "Choose what you are training: style, character, concept or object."
        )

    if intent.model_family not in MODEL_FAMILIES:
        errors["model_family"] = "Choose the base model's family (SD 1.5, SD 2.x, SDXL or Flux)."

    base_error = _check_base_model(workspace, intent)
    if base_error:
        errors["base_model"] = base_error

    if intent.caption_format not in CAPTION_FORMATS:
        errors["caption_format"] = "Choose a caption format: booru tags, natural language or mixed."
    elif intent.model_family in MODEL_FAMILIES:
        family = MODEL_FAMILIES[intent.model_family]
        if intent.caption_format != family.recommended_caption_format:
            warnings.setdefault("caption_format", []).append(
                f"For {family.title} loragate recommends "
                f"{CAPTION_FORMATS[family.recommended_caption_format].split(':')[0].lower()}: "
                f"{family.why_caption_format}"
            )
    return errors, warnings


def _trigger_in_use(workspace: Workspace, trigger: str) -> list[str]:
    """Two LoRAs with one trigger word fight in a prompt that loads both."""
    lowered = trigger.strip().lower()
    with workspace.db.reading() as session:
        projects = [
            p.name for p in session.exec(select(Project)) if p.trigger_word.lower() == lowered
        ]
    try:
        loras = [
            lora.name for lora in workspace.studio().loras if lora.trigger_word.lower() == lowered
        ]
    except GrimoireError:
        loras = []
    users = [f"project “{name}”" for name in projects] + [f"the LoRA “{name}”" for name in loras]
    if not users:
        return []
    return [
        f"“{trigger.strip()}” is already the trigger word of {', '.join(users)}. Loaded "
        "together, two LoRAs with one trigger cannot be told apart in a prompt; pick "
        "another word unless this is a new version of the same LoRA."
    ]


def _check_base_model(workspace: Workspace, intent: Intent) -> str | None:
    reference = intent.base_model
    if not reference:
        return "Choose a base model from your studio or give the path to a checkpoint."
    try:
        entry = workspace.studio().base_model(reference)
    except GrimoireError as exc:
        # An absolute path needs no studio.md: only a model named there is unknown.
        entry = None
        if not os.path.isabs(os.path.expanduser(reference)):
            return f"studio.md cannot be read, so its models are unknown: {exc}"
    if entry is not None:
        if intent.model_family and entry.family != intent.model_family:
            declared = MODEL_FAMILIES.get(intent.model_family)
            listed = MODEL_FAMILIES.get(entry.family)
            return (
                f"studio.md lists “{entry.name}” as {listed.title if listed else entry.family}, "
                f"but you chose {declared.title if declared else intent.model_family}. "
                "A LoRA only works on the family it was trained for."
            )
        return None
    try:
        path = user_path(reference)
    except UnsafePathError as exc:
        return str(exc)
    if not path.is_absolute():
        return (
            f"“{reference}” is neither a model listed in studio.md nor an absolute path. "
            "Give the full path, for example /models/sd_xl_base_1.0.safetensors."
        )
    if not path.exists():
        return f"Nothing exists at {path}. Check the path (it is read on this computer)."
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            return (
                f"{path} is a folder without model_index.json, so it is not a diffusers "
                "model. Point at the checkpoint file itself, or at the diffusers folder."
            )
        return None
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        return (
            f"{path.name} does not look like a model checkpoint (expected .safetensors, "
            "or a diffusers folder)."
        )
    return None


def create_project(workspace: Workspace, intent: Intent) -> tuple[Project, ValidatedIntent]:
    validated = validate_intent(workspace, intent)
    answers = validated.intent
    project_dir = workspace.project_dir(validated.slug)
    project = Project(
        slug=validated.slug,
        name=answers.name,
        training_type=answers.training_type,
        trigger_word=answers.trigger_word,
        base_model=answers.base_model,
        model_family=answers.model_family,
        caption_format=answers.caption_format,
        backend=answers.backend,
        must_vary=answers.must_vary,
        must_stay=answers.must_stay,
    )
    project_dir.mkdir(parents=True, exist_ok=False)
    try:
        with workspace.db.writing() as session:
            session.add(project)
            session.flush()
            journal.start_journal(project_dir, project.name)
            journal.record(
                session,
                project,
                project_dir,
                "project.created",
                f"Project “{project.name}” created.",
            )
            for message in _intent_lines(project, validated):
                journal.record(
                    session,
                    project,
                    project_dir,
                    "intent.answer",
                    message,
                    {"answers": answers.model_dump()},
                )
            write_project_file(project_dir, project)
    except BaseException:
        shutil.rmtree(project_dir, ignore_errors=True)
        raise
    return project, validated


def _intent_lines(project: Project, validated: ValidatedIntent) -> list[str]:
    training_type = TRAINING_TYPES[project.training_type]
    family = MODEL_FAMILIES[project.model_family]
    lines = [
        f"Training a {training_type.title.lower()} LoRA on {family.title} "
        f"(base model: {project.base_model}).",
        f"Trigger word: “{project.trigger_word}”. It starts every caption.",
        f"Caption format: {CAPTION_FORMATS[project.caption_format]}",
    ]
    if project.must_vary:
        lines.append(f"Must vary across images: {project.must_vary}")
    if project.must_stay:
        lines.append(f"Must stay fixed: {project.must_stay}")
    for field, messages in validated.warnings.items():
        for message in messages:
            lines.append(f"Noted warning ({field.replace('_', ' ')}): {message}")
    return lines


def project_record(project: Project) -> dict[str, object]:
    return {
        "name": project.name,
        "slug": project.slug,
        "training_type": project.training_type,
        "trigger_word": project.trigger_word,
        "base_model": project.base_model,
        "model_family": project.model_family,
        "caption_format": project.caption_format,
        "backend": project.backend,
        "must_vary": project.must_vary,
        "must_stay": project.must_stay,
        "created_at": project.created_at.isoformat(),
        "updated_at": project.updated_at.isoformat(),
        "archived_at": project.archived_at.isoformat() if project.archived_at else None,
    }


def write_project_file(project_dir: Path, project: Project) -> None:
    atomic_write_text(
        project_dir / PROJECT_FILE, json.dumps(project_record(project), indent=2) + "\n"
    )


def list_projects(workspace: Workspace, *, archived: bool = False) -> list[Project]:
    """The projects in the list (``archived``: the archived ones instead), newest first."""
    from sqlmodel import col

    shown = (
        col(Project.archived_at).is_not(None) if archived else col(Project.archived_at).is_(None)
    )
    with workspace.db.reading() as session:
        statement = select(Project).where(shown).order_by(col(Project.updated_at).desc())
        return list(session.exec(statement))


def count_archived(workspace: Workspace) -> int:
    return len(list_projects(workspace, archived=True))


def get_project(workspace: Workspace, slug: str) -> Project | None:
    with workspace.db.reading() as session:
        return session.exec(select(Project).where(Project.slug == slug)).first()


def touch(project: Project) -> None:
    project.updated_at = utcnow()
