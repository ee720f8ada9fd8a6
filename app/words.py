"""Counts in words: "1 note", "2 notes". Every page, report and journal line that puts
a number before a noun goes through ``plural``, so none says "1 notes"; every size in
bytes goes through ``human_bytes``."""

from __future__ import annotations

import math

# A gate's status in words: every page says the same (templates: ``gate_word`` in _gate.html).
GATE_WORDS = {
    "not_run": "not run yet",
    "pass": "passes",
    "warn": "passes with warnings",
    "block": "blocks training",
    "stale": "out of date",
}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun in the right number ("repeat" → "repeats"; irregular
    plurals are given: ``plural(n, "batch", "batches")``)."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"


def human_bytes(value: float) -> str:
    """1536 → '1.5 KB' (powers of 1024, the way file managers count)."""
    if value < 1024:
        return f"{int(value)} bytes"
    units = ("KB", "MB", "GB", "TB")
    exponent = min(len(units), int(math.log(value, 1024)))
    return f"{value / 1024**exponent:.1f} {units[exponent - 1]}"


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"
