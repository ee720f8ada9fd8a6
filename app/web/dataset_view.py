"""What the dataset pages show, assembled from the stored Gate 1 result and the rows:
findings grouped by severity and kind (each with the image it is about), duplicate
groups with their member images, the stats, every image with its include state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.dataset.check_catalogue import TITLES
from app.dataset.records import load_rows, near_threshold
from app.findings import Finding
from app.gate_records import findings_of, latest
from app.gates.state import GateState, gate_state
from app.models import DatasetImage
from app.workspace import ProjectContext

SEVERITY_TITLES = {"block": "Blocking", "warn": "Warnings", "info": "Notes"}
DUPLICATE_CODES = frozenset({"duplicate.exact", "duplicate.near", "duplicate.intentional"})
# Kinds said in one line with a link to the caption grid's view that lists them, not
# one row per image (500 drafts are one task, done in the grid): code → grid filter.
GRID_GROUPED = {"caption.not_approved": "unapproved"}
# How many of a grouped kind's images the line names.
GROUPED_NAMED = 5


@dataclass
class Item:
    finding: Finding
    image: DatasetImage | None  # the image the finding is about, when it is one


@dataclass
class Kind:
    """All findings of one code: explained once, listed with their images."""

    code: str
    title: str
    severity: str
    why: str
    fix: str
    source: str
    items: list[Item] = field(default_factory=list)

    @property
    def grid_filter(self) -> str | None:
        """The caption grid's filter that lists this kind, when it is said in one line."""
        return GRID_GROUPED.get(self.code)

    @property
    def named(self) -> list[str]:
        return [item.finding.subject for item in self.items[:GROUPED_NAMED]]

    @property
    def in_caption_grid(self) -> bool:
        """A caption finding about one image is fixed in the caption grid, on that image."""
        return self.code.startswith("caption.")


@dataclass
class DuplicateView:
    finding: Finding
    members: list[DatasetImage]

    @property
    def kind(self) -> str:
        return self.finding.code.split(".", 1)[1]  # exact | near | intentional

    @property
    def member_ids(self) -> list[int]:
        return [member.id or 0 for member in self.members]


@dataclass
class AuditView:
    state: GateState
    sections: dict[str, list[Kind]]
    duplicates: list[DuplicateView]
    stats: dict[str, Any]
    images: list[DatasetImage]
    threshold: int
    counts: dict[str, int]

    def as_context(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "record": self.state.record,
            "sections": self.sections,
            "severity_titles": SEVERITY_TITLES,
            "duplicates": self.duplicates,
            "stats": self.stats,
            "images": self.images,
            "threshold": self.threshold,
            "counts": self.counts,
        }


def audit_view(ctx: ProjectContext) -> AuditView:
    rows = {row.path: row for row in load_rows(ctx)}
    with ctx.workspace.db.reading() as session:
        record = latest(session, ctx.project, "dataset")
    state = gate_state(ctx, "dataset") if record else GateState("dataset", "", "not_run")
    findings = findings_of(record) if record else []
    sections: dict[str, list[Kind]] = {severity: [] for severity in SEVERITY_TITLES}
    kinds: dict[tuple[str, str], Kind] = {}
    duplicates = []
    for found in findings:
        if found.code in DUPLICATE_CODES:
            members = [rows[path] for path in found.subjects if path in rows]
            duplicates.append(DuplicateView(found, members))
            continue
        key = (found.severity, found.code)
        if key not in kinds:
            kinds[key] = Kind(
                found.code,
                TITLES.get(found.code, found.code),
                found.severity,
                found.why,
                found.fix,
                found.source,
            )
            sections[found.severity].append(kinds[key])
        kinds[key].items.append(Item(found, rows.get(found.subject)))
    counts = {
        severity: sum(1 for f in findings if f.severity == severity) for severity in SEVERITY_TITLES
    }
    return AuditView(
        state=state,
        sections=sections,
        duplicates=duplicates,
        stats=record.stats if record else {},
        images=list(rows.values()),
        threshold=near_threshold(ctx),
        counts=counts,
    )
