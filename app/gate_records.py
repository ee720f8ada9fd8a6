"""Saving gate results and reading the newest one per gate."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app import journal
from app.findings import Finding, GateResult
from app.models import GateRecord, Project
from app.words import GATE_WORDS, plural
from app.workspace import ProjectContext

GATE_TITLES = {
    "dataset": "Gate 1 · Dataset",
    "config": "Gate 2 · Config",
    "environment": "Gate 3 · Environment",
    "dryrun": "Gate 4 · Dry run",
}


def record_result(ctx: ProjectContext, result: GateResult) -> GateRecord:
    """Store the result and journal its verdict (with every blocking finding)."""
    row = GateRecord(
        project_id=ctx.project.id or 0,
        gate=result.gate,
        verdict=result.verdict,
        fingerprint=result.fingerprint,
        fingerprint_parts=result.fingerprint_parts,
        findings=[finding.model_dump() for finding in result.findings],
        stats=result.stats,
        created_at=result.ran_at,
    )
    blocking = [f for f in result.findings if f.severity == "block"]
    warnings = [f for f in result.findings if f.severity == "warn"]
    summary = (
        f"{GATE_TITLES.get(result.gate, result.gate)} {GATE_WORDS[result.verdict]}: "
        f"{len(blocking)} blocking, {plural(len(warnings), 'warning')}."
    )
    with ctx.workspace.db.writing() as session:
        session.add(row)
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "gate.result",
            summary,
            {"gate": result.gate, "verdict": result.verdict, "fingerprint": result.fingerprint},
        )
    return row


def latest(session: Session, project: Project, gate: str) -> GateRecord | None:
    statement = (
        select(GateRecord)
        .where(GateRecord.project_id == project.id, GateRecord.gate == gate)
        .order_by(col(GateRecord.created_at).desc(), col(GateRecord.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def findings_of(record: GateRecord) -> list[Finding]:
    return [Finding.model_validate(item) for item in record.findings]
