"""The dataset audit of one folder: scan, measure (cached, parallel), judge.

``audit_folder`` is the one function behind ``loragate audit DIR`` and the project's
audit page. It knows nothing of projects: the project passes its cache (the database),
the images the artist excluded and the near-duplicate groups recorded as intentional.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from app.captions.content_lint import SUPERSEDED_CODES, lint_captions
from app.captions.intent import CaptionIntent
from app.captions.sidecar_checks import caption_findings
from app.captions.sidecar_decode import Sidecar
from app.curation.stats import dataset_stats
from app.dataset.buckets import BucketSpec
from app.dataset.cache import AuditedFile, MetricsCache
from app.dataset.check_catalogue import finding
from app.dataset.duplicates import (
    DEFAULT_NEAR_THRESHOLD,
    DuplicateGroup,
    HashedImage,
    duplicate_findings,
    find_groups,
    hex_to_int,
)
from app.dataset.files import FolderScan, scan_folder
from app.dataset.measure_folder import CheckCancelled, MeasureCounts, Progress, measure
from app.dataset.per_image_checks import image_findings
from app.dataset.whole_dataset_checks import DATASET_SUBJECT, dataset_findings
from app.findings import Finding
from app.settings import DEFAULT_MAX_FILE_BYTES, Settings

SEVERITY_ORDER = {"block": 0, "warn": 1, "info": 2}


@dataclass(frozen=True)
class AuditOptions:
    training_type: str
    trigger: str
    family: str
    near_threshold: int = DEFAULT_NEAR_THRESHOLD
    max_pixels: int = 89_478_485
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    workers: int | None = None  # None: every core
    # The project's bucketing (its training config), so the audit's buckets are the
    # ones Curate and training use; None: the family's default (a folder outside a
    # project, or a config that cannot be read).
    buckets: BucketSpec | None = None
    # True in a project: taking captions in rewrites them as plain UTF-8, so another
    # encoding is a warning. False for a folder audited as it is (`loragate audit DIR`),
    # which a trainer reads as it is: there a caption that is not UTF-8 blocks.
    captions_rewritten: bool = False
    # A folder audited as it is: the content-style lint reads its caption files with this
    # intent. None in a project, whose gate lints the captions loragate holds instead.
    caption_intent: CaptionIntent | None = None


@dataclass
class AuditReport:
    scan: FolderScan
    files: dict[str, AuditedFile]
    findings: list[Finding]
    groups: list[DuplicateGroup]
    stats: dict[str, Any]
    sidecars: dict[str, Sidecar] = field(default_factory=dict)
    counts: MeasureCounts = field(default_factory=MeasureCounts)

    def findings_about(self, path: str) -> list[Finding]:
        """Findings whose subject is this path (or a group that names it)."""
        return [f for f in self.findings if path in f.subjects]


def audit_folder(
    root: Path,
    options: AuditOptions,
    cache: MetricsCache,
    *,
    excluded: Mapping[str, str] | None = None,
    intentional: Sequence[frozenset[str]] = (),
    scan: FolderScan | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    check_cancelled: CheckCancelled | None = None,
) -> AuditReport:
    """Audit every file under ``root``. ``excluded``: path → reason for images the artist
    left out (they are measured and shown, but not judged). ``intentional``: sets of
    paths the artist keeps together although they are near-duplicates."""
    root = root.resolve()
    scan = scan or scan_folder(root)
    excluded = excluded or {}
    counts = MeasureCounts()
    files = measure(
        root,
        scan.files,
        cache,
        max_pixels=options.max_pixels,
        max_bytes=options.max_file_bytes,
        workers=options.workers,
        progress=progress,
        check_cancelled=check_cancelled,
        counts=counts,
    )
    findings: list[Finding] = []
    training: list[AuditedFile] = []
    for entry in scan.files:
        audited = files[entry.path]
        if entry.path in excluded:
            continue
        findings.extend(
            image_findings(entry.path, audited.metrics, options.family, options.buckets)
        )
        if audited.is_image:
            training.append(audited)
    findings.extend(_link_findings(scan))
    findings.extend(_name_findings(scan))
    findings.extend(_skipped_findings(scan))
    found, sidecars = caption_findings(
        root,
        [f.path for f in training],
        scan.captions,
        [entry.path for entry in scan.files],
        options.trigger,
        options.family,
        settings,
        rewritten=options.captions_rewritten,
    )
    findings.extend(found)
    if options.caption_intent is not None:
        findings = [f for f in findings if f.code not in SUPERSEDED_CODES]
        linted = [
            (path, sidecar.text) for path, sidecar in sidecars.items() if not sidecar.is_empty
        ]
        findings.extend(lint_captions(linted, options.caption_intent))
    groups = find_groups(
        [
            HashedImage(
                f.path, hex_to_int(f.metrics["phash"]), hex_to_int(f.metrics["dhash"]), f.identity
            )
            for f in training
            if f.metrics.get("phash")  # not an image too large to decode
        ],
        options.near_threshold,
    )
    findings.extend(duplicate_findings(groups, intentional, options.near_threshold))
    findings.extend(
        dataset_findings(
            [(f.path, f.metrics) for f in training],
            options.training_type,
            options.family,
            scan.junk,
            options.buckets,
        )
    )
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.subject == DATASET_SUBJECT, f.code))
    stats = dataset_stats(scan, files, training, excluded, findings, groups, options)
    return AuditReport(scan, files, findings, groups, stats, sidecars, counts)


def _link_findings(scan: FolderScan) -> list[Finding]:
    found = []
    for link in scan.links:
        if link.inside:
            found.append(
                finding(
                    "file.symlink_inside",
                    link.path,
                    f"{link.path} is a link to {link.target}, another file of this folder.",
                )
            )
        else:
            found.append(
                finding(
                    "file.symlink_outside",
                    link.path,
                    f"{link.path} is a link to {link.target}, outside this folder; "
                    "it was not followed.",
                )
            )
    return found


def _name_findings(scan: FolderScan) -> list[Finding]:
    found = []
    for entry in scan.misnamed:
        found.append(
            finding(
                "file.bad_name",
                entry.shown,
                f"The name “{entry.shown}” is not valid UTF-8 text, so loragate left this "
                "file out, unchecked.",
                fix=f"Rename it, for example to “{PurePosixPath(entry.path).name}”, then audit "
                "again. (When loragate imports a folder, it renames such files itself.)",
            )
        )
    return found


def _skipped_findings(scan: FolderScan) -> list[Finding]:
    """What the scan set aside without opening: not regular files, and what could not be
    read (a folder, or a file in a folder that can be listed but not entered)."""
    found = []
    for entry in scan.special:
        found.append(
            finding(
                "file.not_regular",
                entry.path,
                f"{entry.path} is {entry.what}, not a regular file; loragate skipped it "
                "without opening it.",
                fix=f"Remove it from the dataset folder (rm '{entry.path}'); it holds no picture.",
            )
        )
    for entry in scan.unreadable:
        folder = entry.what == "a folder"
        name = str(scan.root) if entry.path == "." else entry.path
        command = f"chmod -R u+rX '{name}'" if folder else f"chmod u+x on the folder holding {name}"
        found.append(
            finding(
                "file.unreadable",
                entry.path,
                f"loragate cannot read the {'folder' if folder else 'file'} {name} "
                f"({entry.reason})"
                + ("; nothing in it was checked." if folder else "; it was not checked."),
                fix=f"Give your user access ({command}), or move it out of the dataset, then "
                "audit again.",
            )
        )
    return found
