"""The GPU the studio trains on, as the Studio page sets it: its name, its memory and
what an hour of it costs. They live in studio.md's ``gpu:`` block (app/grimoire.py
writes it round-trip, keeping the person's comments); this module turns the form's
text into those values, or names each one that cannot be used.

Gate 2 judges memory against ``vram_gb`` and its fingerprint holds the name and the
memory, so changing them makes Gate 2 out of date; the price only changes the cost
shown beside the time estimate.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

from app.grimoire import GpuEntry, load_studio, update_gpu

log = logging.getLogger(__name__)

MAX_VRAM_GB = 2048.0  # more than any single accelerator has
MAX_HOURLY_COST = 10_000.0
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


class GpuErrors(ValueError):
    """Field name → plain-language message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class GpuForm:
    """The form's fields, as typed."""

    name: str = ""
    vram_gb: str = ""
    hourly_cost: str = ""
    currency: str = "USD"


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_gpu(form: GpuForm) -> GpuEntry:
    errors: dict[str, str] = {}
    vram: float | None = None
    if form.vram_gb.strip():
        vram = _number(form.vram_gb)
        if vram is None or not 0 < vram <= MAX_VRAM_GB:
            errors["vram_gb"] = (
                "Give the GPU's memory in GB, a number such as 24 (or leave it empty to "
                "let loragate read it from an NVIDIA card)."
            )
    cost = 0.0
    if form.hourly_cost.strip():
        parsed = _number(form.hourly_cost)
        if parsed is None or not 0 <= parsed <= MAX_HOURLY_COST:
            errors["hourly_cost"] = (
                "Give the price of one hour as a number such as 0.79 (or 0 when it costs "
                "you nothing to count)."
            )
        else:
            cost = parsed
    currency = form.currency.strip().upper() or "USD"
    if not _CURRENCY.match(currency):
        errors["currency"] = "Use a three-letter currency code, such as USD, EUR or GBP."
    if errors:
        raise GpuErrors(errors)
    return GpuEntry(
        name=form.name.strip() or None, vram_gb=vram, hourly_cost=cost, currency=currency
    )


def save_gpu(grimoire_dir: Path, form: GpuForm) -> dict[str, tuple[object, object]]:
    """Check and write the GPU settings; returns what changed (old, new) per key."""
    entry = parse_gpu(form)
    old = load_studio(grimoire_dir).gpu
    changes = {
        key: (getattr(old, key), value)
        for key, value in entry.model_dump().items()
        if getattr(old, key) != value
    }
    if changes:
        update_gpu(grimoire_dir, entry)
        log.info("studio.md gpu changed: %s", changes)
    return changes
