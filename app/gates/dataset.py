"""Gate 1 · Dataset. Blocks on files that cannot be read, decompression bombs, images
far too small for the model, missing or empty captions, captions without the trigger
word, unresolved duplicate groups, and a dataset below the floor for its kind of LoRA.
Everything else the audit finds is a warning or information (see app.dataset.check_catalogue).

Fingerprint parts: ``images`` (paths, sizes, mtimes), ``captions`` (their content),
``statuses`` (the artist's exclusions), ``duplicates`` (threshold and intentional
groups), ``intent`` (training type, trigger word, family).
"""

from __future__ import annotations

from app.curation.project_audit import audit_project, current_parts
from app.findings import GateResult
from app.workspace import ProjectContext


def fingerprint(ctx: ProjectContext) -> dict[str, str]:
    return current_parts(ctx)


def evaluate(ctx: ProjectContext) -> GateResult:
    return audit_project(ctx).result
