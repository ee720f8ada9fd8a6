from __future__ import annotations

from app.clock import utcnow

__all__ = ["utcnow"]
