"""What every check returns: findings that each explain themselves, and a gate's verdict
with the fingerprint of the inputs it judged. Imports nothing of loragate's, so every
package (dataset, captions, environment, training, gates) can use it without importing
another."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

Severity = Literal["block", "warn", "info"]
Verdict = Literal["pass", "warn", "block"]


class Finding(BaseModel):
    """One problem (or one fact worth knowing). A finding without why, fix and source is
    a defect: the artist must learn what is wrong, why it matters and what to do."""

    code: str  # stable, dotted: image.too_small, caption.missing_trigger
    severity: Severity
    subject: str  # an image path relative to the dataset, a config key, a component
    message: str
    why: str
    fix: str
    source: str  # "{resource-doc}#{anchor}", rendered at /docs/{resource-doc}#{anchor}
    # Every path (or key) the finding is about: the subject alone, or each member of a
    # duplicate group. Code that needs the paths reads this list and never splits the
    # subject, which is only for reading: a file may be named "tiny, too.png".
    subjects: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _subjects_default_to_the_subject(self) -> Finding:
        if not self.subjects:
            self.subjects = [self.subject]
        return self

    @field_validator("message", "why", "fix", "source")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must explain itself: message, why, fix and source are required")
        return value


class GateResult(BaseModel):
    gate: str
    verdict: Verdict
    findings: list[Finding] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str
    fingerprint_parts: dict[str, str] = Field(default_factory=dict)
    ran_at: datetime = Field(default_factory=lambda: datetime.now(UTC))  # aware, as the db wants

    def to_json(self) -> dict[str, Any]:
        """The shape `loragate ... --json` prints."""
        return {
            "gate": self.gate,
            "verdict": self.verdict,
            "findings": [finding.model_dump() for finding in self.findings],
            "stats": self.stats,
            "fingerprint": self.fingerprint,
        }


def verdict_of(findings: list[Finding]) -> Verdict:
    severities = {finding.severity for finding in findings}
    if "block" in severities:
        return "block"
    if "warn" in severities:
        return "warn"
    return "pass"


def digest(value: Any) -> str:
    """A stable SHA-256 of any JSON-able value (keys sorted)."""
    payload = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def combine(parts: dict[str, str]) -> str:
    return digest(parts)


def make_result(
    gate: str,
    findings: list[Finding],
    fingerprint_parts: dict[str, str],
    stats: dict[str, Any] | None = None,
) -> GateResult:
    return GateResult(
        gate=gate,
        verdict=verdict_of(findings),
        findings=findings,
        stats=stats or {},
        fingerprint=combine(fingerprint_parts),
        fingerprint_parts=fingerprint_parts,
    )
