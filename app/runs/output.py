"""What a trainer's last lines say when it died without reporting: an allocation
failure at the end of a crash is an out-of-memory failure (the OOM ladder applies)."""

from __future__ import annotations

from app.training.failures import OOM_SIGNATURES


def mentions_oom(lines: list[str]) -> bool:
    return any(signature in line for line in lines for signature in OOM_SIGNATURES)
