"""The one clock loragate stamps its rows and results with. A module of its own so that
code which only needs the time (gate results, audits) does not import every table."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC: SQLModel's UTCDateTime refuses naive values and returns UTC."""
    return datetime.now(UTC)
