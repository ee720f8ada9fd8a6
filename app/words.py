"""Counts in words: "1 note", "2 notes". Every page, report and journal line that puts
a number before a noun goes through ``plural``, so none says "1 notes"; every size in
bytes goes through ``human_bytes``."""

from __future__ import annotations

import math


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
