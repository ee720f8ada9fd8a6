from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC: SQLModel's UTCDateTime refuses naive values and returns UTC."""
    return datetime.now(UTC)
