"""What Gate 1 judged, as digests per input: when one changes, the gate's stored result
is stale and the overview says which input changed.

Cheap enough for every page load: a walk of the folder with its sizes and mtimes, and a
read of the caption files (small). Images are identified by (path, size, mtime), not by
content: a touched file makes the gate stale, which is the safe direction.
"""

from __future__ import annotations

from hashlib import sha256
from typing import TYPE_CHECKING

from app.curation.folder_audit import AuditOptions
from app.dataset.files import FolderScan
from app.findings import digest
from app.paths import safe_join

if TYPE_CHECKING:  # every table: `loragate audit DIR` keeps no rows and need not load them
    from app.models import DatasetImage


def folder_parts(scan: FolderScan, options: AuditOptions) -> dict[str, str]:
    images = [(entry.path, entry.size, entry.mtime_ns) for entry in scan.files]
    links = [(link.path, link.target) for link in scan.links]
    files: dict[str, object] = {"files": images, "links": links}
    if scan.misnamed:  # only when present, so that other datasets keep their digests
        files["misnamed"] = [(entry.shown, entry.size, entry.mtime_ns) for entry in scan.misnamed]
    captions = []
    for path in sorted(scan.captions):
        try:
            content = safe_join(scan.root, path).read_bytes()
        except OSError:
            content = b""
        captions.append((path, sha256(content).hexdigest()))
    return {
        "images": digest(files),
        "captions": digest(captions),
        "intent": digest([options.training_type, options.trigger, options.family]),
        "duplicates": digest({"threshold": options.near_threshold}),
    }


def project_parts(
    scan: FolderScan,
    options: AuditOptions,
    rows: dict[str, DatasetImage],
    intentional: list[frozenset[str]],
) -> dict[str, str]:
    parts = folder_parts(scan, options)
    excluded = sorted(path for path, row in rows.items() if not row.included)
    parts["statuses"] = digest({"excluded": excluded})
    parts["duplicates"] = digest(
        {
            "threshold": options.near_threshold,
            "intentional": sorted(sorted(group) for group in intentional),
        }
    )
    return parts
