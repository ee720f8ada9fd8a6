"""The dataset report: Gate 1's verdict (in the shared words, ``app.words.GATE_WORDS``), every finding with why, fix and
source, what the artist decided (exclusions, intentional near-duplicates, repeats) and
the dataset's numbers. The Gate 1 page shows it; every time the gate runs it is also
written as Markdown to ``<project>/dataset-report.md``, beside the journal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.captions.store import is_trainable_image, load_captions
from app.dataset.check_catalogue import TITLES
from app.dataset.records import intentional_groups, load_rows
from app.findings import Finding, GateResult
from app.fsutil import atomic_write_text
from app.models import DatasetImage
from app.words import GATE_WORDS, plural
from app.workspace import ProjectContext

REPORT_FILE = "dataset-report.md"
SEVERITY_HEADINGS = {"block": "Blocking", "warn": "Warnings", "info": "Notes"}
# A kind with more findings than this lists the first ones and says how many more.
ITEMS_PER_KIND = 25


@dataclass(frozen=True)
class ConceptLine:
    concept: str
    repeats: int
    images: int  # included
    excluded: int

    @property
    def samples(self) -> int:
        return self.images * self.repeats

    @property
    def folder(self) -> str:
        return f"{self.repeats}_{self.concept}"


@dataclass(frozen=True)
class Decisions:
    excluded: list[tuple[str, str]]  # (path, why)
    intentional: list[list[str]]  # groups of paths kept on purpose
    concepts: list[ConceptLine]


def concept_lines(rows: Sequence[DatasetImage]) -> list[ConceptLine]:
    images: Counter[str] = Counter()
    excluded: Counter[str] = Counter()
    repeats: dict[str, int] = {}
    for row in rows:
        if not is_trainable_image(row):
            continue
        repeats.setdefault(row.concept, row.repeats)
        (images if row.included else excluded)[row.concept] += 1
    return [
        ConceptLine(concept, repeats[concept], images[concept], excluded[concept])
        for concept in sorted(repeats)
    ]


def decisions(ctx: ProjectContext) -> Decisions:
    rows = {row.path: row for row in load_rows(ctx)}
    return Decisions(
        excluded=[
            (path, row.exclusion_reason or "excluded")
            for path, row in rows.items()
            if not row.included
        ],
        intentional=[sorted(group) for group in intentional_groups(ctx, rows) if group],
        concepts=concept_lines(list(rows.values())),
    )


def caption_stats(ctx: ProjectContext, rows: dict[str, DatasetImage]) -> dict[str, Any]:
    """Caption and concept numbers for the gate's stats (the audit's concepts come from
    folder names; these follow the repeats the artist set)."""
    captions = load_captions(ctx)
    statuses: Counter[str] = Counter()
    for row in rows.values():
        if row.included and is_trainable_image(row):
            caption = captions.get(row.id or 0)
            statuses[caption.status if caption else "none"] += 1
    return {
        "captions_approved": statuses["approved"],
        "captions_draft": statuses["draft"],
        "captions_rejected": statuses["rejected"],
        "captions_none": statuses["none"],
        "concepts": {
            line.concept: {"images": line.images, "repeats": line.repeats}
            for line in concept_lines(list(rows.values()))
            if line.images
        },
    }


def _title(code: str) -> str:
    return TITLES.get(code, code)


def _kinds(findings: Sequence[Finding], severity: str) -> dict[str, list[Finding]]:
    kinds: dict[str, list[Finding]] = {}
    for found in findings:
        if found.severity == severity:
            kinds.setdefault(found.code, []).append(found)
    return kinds


def report_markdown(ctx: ProjectContext, result: GateResult, decided: Decisions) -> str:
    counts = Counter(f.severity for f in result.findings)
    stats = result.stats
    lines = [
        f"# Dataset report: {ctx.project.name}",
        "",
        f"**Gate 1 · Dataset {GATE_WORDS[result.verdict]}**: checked "
        f"{result.ran_at:%Y-%m-%d %H:%M} UTC on {plural(stats.get('included', 0), 'image')}: "
        f"{counts['block']} blocking, {plural(counts['warn'], 'warning')}, "
        f"{plural(counts['info'], 'note')}.",
        "",
        f"Training {'an' if ctx.project.training_type[:1] in 'aeiou' else 'a'} "
        f"{ctx.project.training_type} LoRA on {ctx.project.model_family}, trigger "
        f"word “{ctx.project.trigger_word}”, {ctx.project.caption_format} captions. "
        "Written by loragate each time Gate 1 runs; the guides it cites are in loragate's "
        "`app/docs/` folder.",
    ]
    for severity, heading in SEVERITY_HEADINGS.items():
        kinds = _kinds(result.findings, severity)
        if not kinds:
            continue
        lines += ["", f"## {heading}"]
        for code, items in kinds.items():
            first = items[0]
            lines += [
                "",
                f"### {_title(code)} ({len(items)})",
                "",
                f"Why: {first.why}",
                "",
                f"Fix: {first.fix}",
                "",
                f"Source: app/docs/{first.source.replace('#', '.md#', 1)}",
                "",
            ]
            lines += [f"- {item.message}" for item in items[:ITEMS_PER_KIND]]
            if len(items) > ITEMS_PER_KIND:
                lines.append(f"- … and {len(items) - ITEMS_PER_KIND} more (see the Gate 1 page).")
    lines += ["", "## What was decided", ""]
    if decided.excluded:
        lines.append(f"Excluded from training ({len(decided.excluded)}):")
        lines += [f"- {path}: {why}" for path, why in decided.excluded]
    else:
        lines.append("No image is excluded.")
    lines.append("")
    if decided.intentional:
        lines.append("Near-duplicates kept on purpose:")
        lines += [f"- {', '.join(group)}" for group in decided.intentional]
    else:
        lines.append("No near-duplicate group was marked intentional.")
    lines += ["", "Repeats per concept (kohya folder, images × repeats = samples per epoch):"]
    lines += [
        f"- {line.folder}: {plural(line.images, 'image')} × {line.repeats} = {line.samples}"
        for line in decided.concepts
    ]
    lines += [
        "",
        "## Dataset",
        "",
        f"- Files: {stats.get('files', 0)}; images: {stats.get('images', 0)}; training on "
        f"{stats.get('included', 0)} ({stats.get('excluded', 0)} excluded).",
        f"- Captions approved: {stats.get('captions_approved', 0)} of "
        f"{stats.get('included', 0)}; drafts {stats.get('captions_draft', 0)}, rejected "
        f"{stats.get('captions_rejected', 0)}, none {stats.get('captions_none', 0)}.",
        f"- Duplicate groups: {stats.get('duplicate_groups', 0)} (threshold "
        f"{stats.get('near_duplicate_threshold', '?')} bits apart at most).",
    ]
    buckets = stats.get("aspect_buckets") or {}
    if buckets:
        lines.append(
            "- Aspect-ratio buckets: "
            + ", ".join(f"{bucket} × {count}" for bucket, count in buckets.items())
            + "."
        )
    return "\n".join(lines) + "\n"


def report_path(ctx: ProjectContext) -> Path:
    return ctx.dir / REPORT_FILE


def write_report(ctx: ProjectContext, result: GateResult) -> Path:
    path = report_path(ctx)
    atomic_write_text(path, report_markdown(ctx, result, decisions(ctx)))
    return path
