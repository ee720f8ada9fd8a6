"""Counts in words: "1 note", "2 notes". Every page, report and journal line that puts
a number before a noun goes through ``plural``, so none says "1 notes"."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun in the right number ("repeat" → "repeats"; irregular
    plurals are given: ``plural(n, "batch", "batches")``)."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"
