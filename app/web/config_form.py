"""Turning the Config page's form into a TrainingConfig: every field typed by the model's
own annotations, every problem returned as a plain sentence next to its field."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import ValidationError

from app.training.config import TrainingConfig
from app.training.field_docs import FIELD_GROUPS

FORM_FIELDS = tuple(name for _, fields in FIELD_GROUPS for name in fields)
# Checkboxes send nothing when unticked: this hidden marker says the form had them.
CHECKBOX_MARKER = "_checkboxes"


def _kind(name: str) -> tuple[type | None, bool, tuple[str, ...]]:
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


def field_kind(name: str) -> str:
    base, _, choices = _kind(name)
    if choices:
        return "select"
    if base is bool:
        return "checkbox"
    if base is list:
        return "lines"
    if base in (int, float):
        return "number"
    return "text"


def field_choices(name: str) -> tuple[str, ...]:
    return _kind(name)[2]


def config_from_form(
    form: typing.Mapping[str, Any], base: TrainingConfig
) -> tuple[TrainingConfig | None, dict[str, str]]:
    """The config the form describes (fields it lacks keep ``base``'s values), or the
    plain-language errors per field."""
    values: dict[str, Any] = base.model_dump()
    errors: dict[str, str] = {}
    has_checkboxes = CHECKBOX_MARKER in form
    for name in FORM_FIELDS:
        base_type, optional, _ = _kind(name)
        if base_type is bool:
            if has_checkboxes:
                values[name] = name in form and str(form[name]) not in ("", "false", "0")
            continue
        if name not in form:
            continue
        raw = str(form[name]).strip()
        if base_type is list:
            values[name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif raw == "" and optional:
            values[name] = None
        elif base_type is int:
            try:
                values[name] = int(raw)
            except ValueError:
                errors[name] = f"“{raw}” is not a whole number."
        elif base_type is float:
            try:
                values[name] = float(raw)
            except ValueError:
                errors[name] = f"“{raw}” is not a number (examples: 1e-4, 0.0001, 8)."
        else:
            values[name] = raw
    if "preset" in form:
        values["preset"] = str(form["preset"])
    if errors:
        return None, errors
    try:
        return TrainingConfig.model_validate(values), {}
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "form"
            errors[field] = _plain(error)
        return None, errors


def _plain(error: Any) -> str:
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
    if kind == "literal_error":
        return f"Choose one of {context.get('expected')}."
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ").capitalize() + "."
