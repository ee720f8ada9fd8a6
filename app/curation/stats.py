"""The numbers the stats panel and ``--json`` show: counts, a resolution histogram,
aspect-ratio buckets, formats, concepts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from app.dataset.cache import AuditedFile
from app.dataset.duplicates import DuplicateGroup
from app.dataset.files import FolderScan, caption_path_for
from app.dataset.inventory import concept_of
from app.dataset.whole_dataset_checks import bucket_counts
from app.findings import Finding
from app.intent import MODEL_FAMILIES

if TYPE_CHECKING:
    from app.curation.folder_audit import AuditOptions

# Short side, in pixels.
RESOLUTION_BINS = ((0, 256), (256, 512), (512, 768), (768, 1024), (1024, 1536), (1536, 2048))


def resolution_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}–{high - 1}"


def resolution_histogram(images: Sequence[AuditedFile]) -> list[dict[str, Any]]:
    bins = [*RESOLUTION_BINS, (2048, None)]
    counts = [0] * len(bins)
    for audited in images:
        short = min(int(audited.metrics["width"]), int(audited.metrics["height"]))
        for index, (low, high) in enumerate(bins):
            if short >= low and (high is None or short < high):
                counts[index] += 1
                break
    return [
        {"label": resolution_label(low, high), "count": count}
        for (low, high), count in zip(bins, counts, strict=True)
    ]


def dataset_stats(
    scan: FolderScan,
    files: Mapping[str, AuditedFile],
    training: Sequence[AuditedFile],
    excluded: Mapping[str, str],
    findings: Sequence[Finding],
    groups: Sequence[DuplicateGroup],
    options: AuditOptions,
) -> dict[str, Any]:
    decodable = [f for f in files.values() if f.is_image]
    severities = Counter(f.severity for f in findings)
    concepts: Counter[str] = Counter()
    repeats: dict[str, int] = {}
    for audited in training:
        concept, count = concept_of(PurePosixPath(audited.path))
        concepts[concept] += 1
        repeats[concept] = count
    captioned = sum(1 for f in training if caption_path_for(f.path) in scan.captions)
    family = MODEL_FAMILIES.get(options.family)
    return {
        "files": len(scan.files),
        "images": len(decodable),
        "included": len(training),
        "excluded": sum(1 for path in excluded if path in files),
        "undecodable": sum(1 for f in files.values() if not f.is_image),
        "captions": len(scan.captions),
        "captioned_images": captioned,
        "junk": len(scan.junk),
        "links": len(scan.links),
        "bad_names": len(scan.misnamed),
        "findings": {key: severities.get(key, 0) for key in ("block", "warn", "info")},
        "duplicate_groups": len(groups),
        "near_duplicate_threshold": options.near_threshold,
        "family_resolution": family.resolution if family else None,
        "resolution_histogram": resolution_histogram(training),
        "aspect_buckets": dict(
            sorted(
                bucket_counts(
                    [(f.path, f.metrics) for f in training], options.family, options.buckets
                ).items()
            )
        ),
        "formats": dict(Counter(f.metrics.get("format", "?") for f in decodable).most_common()),
        "concepts": {
            name: {"images": count, "repeats": repeats[name]}
            for name, count in sorted(concepts.items())
        },
    }
