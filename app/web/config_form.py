"""Turning the Config page's form into a TrainingConfig (``config_input`` types every
value and words every problem; here only what a form adds: its checkboxes)."""

from __future__ import annotations

import typing
from typing import Any

from app.training.config import TrainingConfig
from app.training.config_input import SETTABLE_FIELDS, Typed, config_with, field_type

FORM_FIELDS = SETTABLE_FIELDS
# Checkboxes send nothing when unticked: this hidden marker says the form had them.
CHECKBOX_MARKER = "_checkboxes"


def field_kind(name: str) -> str:
    base, _, choices = field_type(name)
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
    return field_type(name)[2]


def config_from_form(
    form: typing.Mapping[str, Any], base: TrainingConfig
) -> tuple[TrainingConfig | None, dict[str, str]]:
    """The config the form describes (fields it lacks keep ``base``'s values), or the
    plain-language errors per field."""
    typed: dict[str, Typed] = {}
    has_checkboxes = CHECKBOX_MARKER in form
    for name in FORM_FIELDS:
        if field_type(name)[0] is bool:
            if has_checkboxes:
                typed[name] = name in form and str(form[name]) not in ("", "false", "0")
        elif name in form:
            typed[name] = str(form[name])
    preset = str(form["preset"]) if "preset" in form else None
    return config_with(base, typed, preset)
