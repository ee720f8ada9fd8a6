"""The project's dataset rows (``datasetimage``): kept in step with the files in
``<project>/dataset/``, and used as the audit's cache.

``sync_records`` adds a row for every new file (with its header facts: size after EXIF
rotation, format, mode, concept and repeats from its kohya folder), refreshes rows whose
file changed (size or mtime), and drops rows whose file is gone. Include/exclude
decisions live on the rows and survive re-audits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from sqlmodel import col, select

from app.dataset.cache import AuditedFile
from app.dataset.duplicates import DEFAULT_NEAR_THRESHOLD, hex_to_int, to_signed
from app.dataset.files import FileEntry, FolderScan, scan_folder
from app.dataset.inventory import concept_of, dataset_dir
from app.dataset.measure_file import ANALYSIS_VERSION, probe_header
from app.models import ConceptRepeats, DatasetImage, DatasetSettings, DuplicateDecision
from app.models.base import utcnow
from app.paths import safe_join
from app.workspace import ProjectContext


def project_scan(ctx: ProjectContext) -> FolderScan:
    root = dataset_dir(ctx)
    root.mkdir(parents=True, exist_ok=True)
    return scan_folder(root)


def near_threshold(ctx: ProjectContext) -> int:
    with ctx.workspace.db.reading() as session:
        row = session.get(DatasetSettings, ctx.project.id)
    return row.near_duplicate_threshold if row else DEFAULT_NEAR_THRESHOLD


def load_rows(ctx: ProjectContext) -> list[DatasetImage]:
    with ctx.workspace.db.reading() as session:
        statement = select(DatasetImage).where(DatasetImage.project_id == ctx.project.id)
        return list(session.exec(statement.order_by(col(DatasetImage.path))))


def rows_by_id(ctx: ProjectContext, ids: Sequence[int]) -> list[DatasetImage]:
    with ctx.workspace.db.reading() as session:
        statement = select(DatasetImage).where(
            DatasetImage.project_id == ctx.project.id, col(DatasetImage.id).in_(list(ids))
        )
        return list(session.exec(statement))


def concept_repeats(ctx: ProjectContext) -> dict[str, int]:
    """Repeats the artist set per concept (app.curation.balance), by concept."""
    with ctx.workspace.db.reading() as session:
        rows = session.exec(
            select(ConceptRepeats).where(ConceptRepeats.project_id == ctx.project.id)
        ).all()
    return {row.concept: row.repeats for row in rows}


def sync_records(
    ctx: ProjectContext, scan: FolderScan | None = None, *, save: bool = True
) -> dict[str, DatasetImage]:
    """Rows for exactly the files the dataset folder holds now, by path. ``save=False``
    (a page load: GET never writes): the rows as they would be, new ones without an id,
    nothing stored."""
    scan = scan or project_scan(ctx)
    root = scan.root
    rows = {row.path: row for row in load_rows(ctx)}
    present = {entry.path: entry for entry in scan.files}
    changed: list[DatasetImage] = []
    overrides: dict[str, int] | None = None
    for entry in scan.files:
        row = rows.get(entry.path)
        if row is not None and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns):
            continue
        if row is None:
            concept, repeats = concept_of(PurePosixPath(entry.path))
            if overrides is None:
                overrides = concept_repeats(ctx)
            row = DatasetImage(
                project_id=ctx.project.id or 0,
                path=entry.path,
                concept=concept,
                # Repeats the artist chose for the concept win over its folder name.
                repeats=overrides.get(concept, repeats),
            )
        _refresh(
            row,
            entry,
            probe_header(str(safe_join(root, entry.path)), ctx.settings.max_image_pixels),
        )
        changed.append(row)
    gone = [row for path, row in rows.items() if path not in present]
    if not save:
        kept = {path: row for path, row in rows.items() if path in present}
        return kept | {row.path: row for row in changed}
    if changed or gone:
        with ctx.workspace.db.writing() as session:
            for row in changed:
                session.add(row)
            for row in gone:
                session.delete(session.merge(row))
            session.flush()
            for row in changed:
                session.refresh(row)
        for row in changed:
            rows[row.path] = row
        for row in gone:
            rows.pop(row.path, None)
    return rows


def _refresh(row: DatasetImage, entry: FileEntry, header: dict[str, Any] | None) -> None:
    row.size, row.mtime_ns = entry.size, entry.mtime_ns
    row.sha256 = row.pixel_sha256 = None
    row.phash = row.dhash = None
    row.analysis_version = 0
    row.metrics = {}
    header = header or {}
    row.width, row.height = header.get("width"), header.get("height")
    row.format, row.mode = header.get("format"), header.get("mode")
    row.updated_at = utcnow()


class ProjectCache:
    """The audit's cache on the project's rows (see ``app.dataset.cache``)."""

    def __init__(self, ctx: ProjectContext, rows: dict[str, DatasetImage]) -> None:
        self.ctx = ctx
        self.rows = rows

    def lookup(self, entry: FileEntry) -> AuditedFile | None:
        row = self.rows.get(entry.path)
        if (
            row is None
            or row.analysis_version != ANALYSIS_VERSION
            or (row.size, row.mtime_ns) != (entry.size, entry.mtime_ns)
        ):
            return None
        return AuditedFile(
            row.path, row.size, row.mtime_ns, row.sha256, row.metrics, row.pixel_sha256
        )

    def known_sha256(self) -> frozenset[str]:
        return frozenset(
            row.sha256
            for row in self.rows.values()
            if row.sha256 and row.analysis_version == ANALYSIS_VERSION
        )

    def by_sha256(self, sha256: str) -> dict[str, Any] | None:
        for row in self.rows.values():
            if row.sha256 == sha256 and row.analysis_version == ANALYSIS_VERSION:
                return row.metrics
        return None

    def store(self, files: Sequence[AuditedFile]) -> None:
        if not files:
            return
        now = utcnow()
        with self.ctx.workspace.db.writing() as session:
            for audited in files:
                row = self.rows.get(audited.path)
                if row is None:
                    continue
                row = session.merge(row)
                metrics = audited.metrics
                row.sha256 = audited.sha256
                row.pixel_sha256 = audited.pixel_sha256
                row.metrics = metrics
                row.analysis_version = ANALYSIS_VERSION
                row.phash = (
                    to_signed(hex_to_int(metrics["phash"])) if metrics.get("phash") else None
                )
                row.dhash = (
                    to_signed(hex_to_int(metrics["dhash"])) if metrics.get("dhash") else None
                )
                if metrics.get("width"):
                    row.width, row.height = int(metrics["width"]), int(metrics["height"])
                row.format = metrics.get("format") or row.format
                row.mode = metrics.get("mode") or row.mode
                row.audited_at = row.updated_at = now
                session.add(row)
                self.rows[audited.path] = row


def excluded_paths(rows: dict[str, DatasetImage]) -> dict[str, str]:
    return {
        path: row.exclusion_reason or "excluded" for path, row in rows.items() if not row.included
    }


def intentional_groups(ctx: ProjectContext, rows: dict[str, DatasetImage]) -> list[frozenset[str]]:
    """Near-duplicate groups the artist recorded as intentional, as sets of paths."""
    paths = {row.id: path for path, row in rows.items()}
    with ctx.workspace.db.reading() as session:
        decisions = session.exec(
            select(DuplicateDecision).where(
                DuplicateDecision.project_id == ctx.project.id,
                DuplicateDecision.kind == "intentional",
            )
        ).all()
    return [
        frozenset(paths[member] for member in decision.member_ids if member in paths)
        for decision in decisions
    ]
