"""Values typed by a person (the Config page's form, ``loragate config --set KEY=VALUE``)
turned into a TrainingConfig: every field typed by the model's own annotations, every
problem a plain sentence at its field, naming what it accepts."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from app.training.config import TrainingConfig
from app.training.field_docs import FIELD_GROUPS

# Every field a person sets (the page shows them in these groups); ``preset`` follows
# from them and ``max_train_steps`` from the step maths.
SETTABLE_FIELDS = tuple(name for _, fields in FIELD_GROUPS for name in fields)
# Errors about the config as a whole (not one field) are kept under this key.
WHOLE_CONFIG = "form"
TRUE_WORDS = ("true", "on", "yes", "1")
FALSE_WORDS = ("false", "off", "no", "0", "")

# A value as typed: text; lines of text for a list; a tick for a checkbox.
Typed = str | Sequence[str] | bool


def field_type(name: str) -> tuple[type | None, bool, tuple[str, ...]]:
    """(base type, optional, literal choices) of a TrainingConfig field."""
    annotation = TrainingConfig.model_fields[name].annotation
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    if typing.get_origin(annotation) is Literal:
        return str, optional, tuple(str(choice) for choice in typing.get_args(annotation))
    if typing.get_origin(annotation) is list:
        return list, optional, ()
    return annotation if isinstance(annotation, type) else None, optional, ()


def unknown_field(name: str) -> str:
    close = difflib.get_close_matches(name, SETTABLE_FIELDS, n=1)
    hint = f"Did you mean “{close[0]}”? " if close else ""
    return f"There is no setting “{name}”. {hint}Settings: {', '.join(SETTABLE_FIELDS)}."


def _parse(name: str, raw: Typed) -> tuple[Any, str | None]:
    """The field's value from what was typed, or why it cannot be one."""
    base, optional, _ = field_type(name)
    if base is bool:
        if isinstance(raw, bool):
            return raw, None
        word = str(raw).strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS, None
        return None, f"“{raw}” is neither on nor off: use true or false."
    if base is list:
        lines = raw.splitlines() if isinstance(raw, str) else [str(item) for item in raw]
        return [line.strip() for line in lines if line.strip()], None
    text = str(raw).strip()
    if text == "" and optional:
        return None, None
    if base is int:
        try:
            return int(text), None
        except ValueError:
            return None, f"“{text}” is not a whole number."
    if base is float:
        try:
            return float(text), None
        except ValueError:
            return None, f"“{text}” is not a number (examples: 1e-4, 0.0001, 8)."
    return text, None


def config_with(
    base: TrainingConfig, typed: Mapping[str, Typed], preset: str | None = None
) -> tuple[TrainingConfig | None, dict[str, str]]:
    """``base`` with the typed values (fields not given keep ``base``'s), or the
    plain-language errors per field (nothing changed)."""
    values: dict[str, Any] = base.model_dump()
    errors: dict[str, str] = {}
    for name, raw in typed.items():
        if name not in SETTABLE_FIELDS:
            errors[name] = unknown_field(name)
            continue
        value, problem = _parse(name, raw)
        if problem:
            errors[name] = problem
        else:
            values[name] = value
    if preset is not None:
        values["preset"] = preset
    try:
        config = TrainingConfig.model_validate(values)
    except ValidationError as exc:
        # Judged with the values that could be read, so every problem shows at once.
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else WHOLE_CONFIG
            errors.setdefault(field, _plain(field, error))
        return None, errors
    return (None, errors) if errors else (config, {})


def _plain(field: str, error: Any) -> str:
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind == "finite_number":
        return "Must be an ordinary number, not “inf”, “nan” or one too large to store."
    if kind == "string_too_long":
        return f"At most {context.get('max_length')} characters."
    if kind == "too_long":
        return f"At most {context.get('max_length')} lines."
    if kind == "greater_than_equal":
        return f"Must be at least {context.get('ge')}."
    if kind == "less_than_equal":
        return f"Must be at most {context.get('le')}."
    if kind == "greater_than":
        return f"Must be more than {context.get('gt')}."
    if kind == "literal_error" and field in SETTABLE_FIELDS:
        return f"Choose one of {', '.join(field_type(field)[2])}."
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ").capitalize() + "."
