"""Checking generated files against the accepted keys recorded from each backend's
source (app/data/backend_keys/*.json)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from app.settings import REPO_ROOT


@cache
def accepted(backend: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (REPO_ROOT / "app" / "data" / "backend_keys" / f"{backend}.json").read_text()
    )
    return data


def type_ok(value: Any, spec: str) -> bool:
    """``spec``: a type name or several joined by ``|`` (int, float, number, str, bool,
    list, list[str], list[float], list[int], dict, any)."""
    for option in spec.split("|"):
        if option == "any":
            return True
        if option == "bool" and isinstance(value, bool):
            return True
        if isinstance(value, bool):
            continue
        if option == "int" and isinstance(value, int):
            return True
        if option == "float" and isinstance(value, float):
            return True
        if option == "number" and isinstance(value, (int, float)):
            return True
        if option == "str" and isinstance(value, str):
            return True
        if option == "dict" and isinstance(value, dict):
            return True
        if option.startswith("list") and isinstance(value, list):
            inner = option[5:-1] if "[" in option else "any"
            if all(type_ok(item, inner) for item in value):
                return True
    return False


def check_keys(values: dict[str, Any], allowed: dict[str, Any], where: str) -> None:
    for key, value in values.items():
        assert key in allowed, f"{where}: `{key}` is not a key the backend reads"
        spec = allowed[key]["type"] if isinstance(allowed[key], dict) else allowed[key]
        assert type_ok(value, spec), f"{where}: `{key}` = {value!r} is not {spec}"
        choices = allowed[key].get("choices") if isinstance(allowed[key], dict) else None
        if choices:
            assert value in choices, f"{where}: `{key}` = {value!r} is not one of {choices}"
