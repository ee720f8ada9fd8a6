"""Gate 1's caption findings and fingerprint parts: every included image needs a caption
a person approved, no caption file may hold an edit loragate has not been told about,
and the content-style lint (``content_lint``) runs on the captions as loragate holds
them (its ``caption.missing_trigger`` replaces the audit's, which only looks for the
word anywhere on the first line).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from app.captions.content_lint import DATASET_SUBJECT, lint_captions
from app.captions.grid import caption_intent, eye_problem
from app.captions.sidecar_files import outside_change, sidecar_path
from app.captions.store import is_trainable_image, load_captions
from app.dataset.files import FolderScan
from app.dataset.inventory import concept_of, dataset_dir
from app.dataset.records import concept_repeats
from app.findings import Finding, digest
from app.models import DatasetImage
from app.workspace import ProjectContext


def _not_approved(path: str, status: str) -> Finding:
    rejected = status == "rejected"
    return Finding(
        code="caption.not_approved",
        severity="block",
        subject=path,
        message=(
            f"The caption of {path} was rejected and has not been rewritten."
            if rejected
            else f"The caption of {path} is a draft: nobody has approved it yet."
        ),
        why="A caption decides what its image teaches the trigger word. loragate trains "
        "only on captions a person has read: auto-captioners and old caption files get "
        "things wrong in ways only you can see.",
        fix="Read it in the caption grid and click the picture to approve it (fix the text "
        "first if needed). A rejected caption needs a new text, or exclude the image.",
        source="captioning-guide#approving-captions",
    )


def _changed_outside(path: str) -> Finding:
    return Finding(
        code="caption.changed_outside",
        severity="block",
        subject=path,
        message=f"The caption file of {path} was changed outside loragate since it was "
        "last saved here.",
        why="Trainers read the file, but loragate checked and you approved the text it "
        "saved. Until you choose one, nobody knows which caption would train.",
        fix="Open the caption grid, filter “Changed outside loragate”, and keep either the "
        "file's text or loragate's.",
        source="captioning-guide#edits-made-outside-loragate",
    )


def _eye_unreadable(problem: str) -> Finding:
    return Finding(
        code="caption.eye_unreadable",
        severity="warn",
        subject=DATASET_SUBJECT,
        message=problem,
        why="In a style LoRA, a word in the captions that describes your style explains the "
        "look instead of the trigger. loragate knows the common style words; yours come "
        "from eye.md. Without them, captions naming your own style pass unnoticed.",
        fix="Open grimoire/eye.md and fix what the message names (the settings block at "
        "its top must be valid YAML), then check Gate 1 again.",
        source="content-style#your-own-style-words",
    )


def caption_findings(ctx: ProjectContext, rows: dict[str, DatasetImage]) -> list[Finding]:
    """Findings about the captions of the included images."""
    captions = load_captions(ctx)
    root = dataset_dir(ctx)
    findings: list[Finding] = []
    linted: list[tuple[str, str]] = []
    for path, row in rows.items():
        caption = captions.get(row.id or 0)
        if caption is None or not row.included or not is_trainable_image(row):
            continue  # no caption at all: the audit's caption.missing says so
        outside = outside_change(sidecar_path(root, path), caption)
        if outside is not None and not outside.deleted:
            findings.append(_changed_outside(path))
        elif caption.status != "approved":
            findings.append(_not_approved(path, caption.status))
        linted.append((path, caption.text))
    findings.extend(lint_captions(linted, caption_intent(ctx)))
    problem = eye_problem(ctx)
    if problem:
        findings.append(_eye_unreadable(problem))
    return findings


def caption_parts(
    ctx: ProjectContext, scan: FolderScan, rows: dict[str, DatasetImage], parts: dict[str, str]
) -> dict[str, str]:
    """``parts`` with the statuses (approvals, exclusions, repeats) and the whole intent
    the caption check reads. The caption texts are in ``parts["captions"]`` already: every
    loragate write goes to the sidecar, and an outside edit changes the sidecar too.

    Only what the artist decided counts, never what loragate merely took in: a caption
    file becoming a draft, or a row made for a new file, changes nothing here. Repeats
    come from the folder names and the artist's per-concept numbers (rows carry the
    same numbers once they exist)."""
    captions = load_captions(ctx)
    reviewed = sorted(
        (path, caption.status)
        for path, row in rows.items()
        if (caption := captions.get(row.id or 0)) is not None and caption.status != "draft"
    )
    overrides = concept_repeats(ctx)
    repeats = []
    for entry in scan.files:
        concept, folder_repeats = concept_of(PurePosixPath(entry.path))
        repeats.append((entry.path, concept, overrides.get(concept, folder_repeats)))
    intent = caption_intent(ctx)
    return parts | {
        "statuses": digest(
            {
                "excluded": sorted(path for path, row in rows.items() if not row.included),
                "reviewed": reviewed,
                "repeats": repeats,
            }
        ),
        "intent": digest(
            [
                intent.training_type,
                intent.trigger,
                ctx.project.model_family,
                intent.caption_format,
                intent.must_vary,
                intent.must_stay,
                intent.style_words,
            ]
        ),
    }
