"""A trainer's output as the native trainer's events (app/training/native/events.py):
``start``, ``step``, ``checkpoint``, ``sample``, ``done``, ``error``, each a dict with
that ``event``. The native trainer writes them as JSON lines on stdout; the other
backends' output is translated into the same events by ``external_events``."""

from __future__ import annotations

import json
from typing import Any

from app.training.native.errors import OOM_SIGNATURES


def native_events(line: str) -> list[dict[str, Any]]:
    """A line of the native trainer's stdout (nothing else is printed there)."""
    try:
        value = json.loads(line)
    except ValueError:
        return []
    return [value] if isinstance(value, dict) and "event" in value else []


def mentions_oom(lines: list[str]) -> bool:
    """A crash whose last words are an allocation failure is an out-of-memory failure."""
    return any(signature in line for line in lines for signature in OOM_SIGNATURES)
