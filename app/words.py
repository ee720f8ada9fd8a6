"""Counts in words: "1 note", "2 notes". Every page, report and journal line that puts
a number before a noun goes through ``plural``, so none says "1 notes"."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun in the right number ("repeat" → "repeats"; irregular
    plurals are given: ``plural(n, "batch", "batches")``)."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"
