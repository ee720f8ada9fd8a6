"""The training folder every backend reads: the included images and their approved
captions in kohya layout, ``{repeats}_{concept}/image.png`` with ``image.txt`` beside it
(kohya sd-scripts' DreamBooth-style folders; SimpleTuner and ai-toolkit read the same
files through the configs loragate writes). ``loragate structure`` and the Curate page's
"Write training folder" button both call ``write_layout``; configs point at
``layout_dir(ctx)``.

Refused while Gate 1 blocks: the folder is what trains, and writing it for a blocked
dataset would be a way around the gate. So every included image has an approved
caption here, and the caption written is that approved text.

Written whole or not at all: everything goes into a temporary folder next to the
target, which then takes the target's place (the old one is removed afterwards). Images
are hard-linked when the target is on the same filesystem as the dataset (no extra
space), copied otherwise; never symlinked, so nothing in the folder points outside it.
A target that exists and was not written by loragate is never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from app import journal
from app.captions.store import is_trainable_image, load_captions
from app.curation.project_audit import run_project_audit
from app.dataset.inventory import dataset_dir, layout_dir
from app.dataset.records import load_rows
from app.fsutil import fsync_dir
from app.models.base import utcnow
from app.paths import is_inside, safe_join
from app.words import plural
from app.workspace import ProjectContext

MARKER = ".loragate-layout.json"
# A refusal lists this many blocking findings, then how many more there are.
REASONS_SHOWN = 20

Progress = Callable[[int, int, str], None]


class LayoutRefused(Exception):
    """The folder cannot be written; ``reasons`` say why, in plain words."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Placed:
    source: Path
    folder: str  # {repeats}_{concept}
    name: str  # file name inside the folder
    caption: str


@dataclass
class LayoutResult:
    out: Path
    folders: dict[str, int] = field(default_factory=dict)  # folder → images
    linked: int = 0
    copied: int = 0
    verdict: str = "pass"

    @property
    def images(self) -> int:
        return sum(self.folders.values())

    def summary(self) -> str:
        folders = ", ".join(f"{name}: {count}" for name, count in self.folders.items())
        return (
            f"Wrote the training folder {self.out}: "
            f"{plural(self.images, 'image')} with their approved captions in "
            f"{plural(len(self.folders), 'folder')} ({folders})."
        )


def check_target(ctx: ProjectContext, out: Path) -> Path:
    """The resolved target, or LayoutRefused when writing there would be unsafe."""
    out = out.expanduser()
    if not out.is_absolute():
        out = Path.cwd() / out
    out = out.resolve()
    dataset = dataset_dir(ctx).resolve()
    if is_inside(dataset, out) or is_inside(out, dataset):
        raise LayoutRefused(
            [
                f"{out} is the dataset folder, inside it, or holds it. Choose a folder of "
                f"its own (the default is {layout_dir(ctx)})."
            ]
        )
    if out.exists() and not out.is_dir():
        raise LayoutRefused([f"{out} is a file. Choose a folder."])
    if out.is_dir() and not (out / MARKER).is_file() and any(out.iterdir()):
        raise LayoutRefused(
            [
                f"{out} exists, is not empty and was not written by loragate, so loragate "
                "will not replace it. Choose a new or empty folder."
            ]
        )
    return out


def _unique_name(taken: set[str], relative: PurePosixPath) -> str:
    stem, suffix = relative.stem, relative.suffix.lower()
    name = f"{stem}{suffix}"
    counter = 2
    # Captions are named after the stem: two images may not share one ("a.png", "a.jpg").
    while stem.lower() in taken:
        stem = f"{relative.stem}-{counter}"
        name = f"{stem}{suffix}"
        counter += 1
    taken.add(stem.lower())
    return name


def plan_layout(ctx: ProjectContext) -> list[Placed]:
    """Where every included image goes, with its approved caption."""
    captions = load_captions(ctx)
    root = dataset_dir(ctx)
    taken: dict[str, set[str]] = {}
    placed = []
    for row in load_rows(ctx):
        caption = captions.get(row.id or 0)
        if not row.included or not is_trainable_image(row):
            continue
        if caption is None or caption.status != "approved":
            continue  # Gate 1 blocks on these; the check before planning refused already
        relative = PurePosixPath(row.path)
        folder = f"{row.repeats}_{row.concept}"
        inside = PurePosixPath(*relative.parts[1:]) if len(relative.parts) > 1 else relative
        # Images in subfolders of a concept keep their subfolder in the name, flattened.
        flat = PurePosixPath("__".join(inside.parts))
        name = _unique_name(taken.setdefault(folder, set()), flat)
        placed.append(Placed(safe_join(root, row.path), folder, name, caption.text))
    return placed


def _link_or_copy(source: Path, target: Path) -> bool:
    """True when hard-linked, False when copied."""
    try:
        os.link(source, target)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
    shutil.copy2(source, target)
    return False


def write_layout(
    ctx: ProjectContext,
    out: Path | None = None,
    *,
    progress: Progress | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> LayoutResult:
    """Judge the dataset (Gate 1 runs and is recorded), then write the folder."""
    target = check_target(ctx, out or layout_dir(ctx))
    audit = run_project_audit(ctx, check_cancelled=check_cancelled)
    blocking = [f for f in audit.result.findings if f.severity == "block"]
    if blocking:
        reasons = [f"{f.message}" for f in blocking[:REASONS_SHOWN]]
        if len(blocking) > REASONS_SHOWN:
            reasons.append(f"… and {len(blocking) - REASONS_SHOWN} more (see the Gate 1 page).")
        raise LayoutRefused(["Gate 1 blocks, so the training folder was not written:", *reasons])
    placed = plan_layout(ctx)
    result = LayoutResult(target, verdict=audit.result.verdict)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for done, item in enumerate(placed, 1):
            if check_cancelled:
                check_cancelled()
            folder = staging / item.folder
            folder.mkdir(exist_ok=True)
            image = folder / item.name
            if _link_or_copy(item.source, image):
                result.linked += 1
            else:
                result.copied += 1
            image.with_suffix(".txt").write_text(item.caption, encoding="utf-8")
            result.folders[item.folder] = result.folders.get(item.folder, 0) + 1
            if progress:
                progress(done, len(placed), "Writing the training folder")
        (staging / MARKER).write_text(
            json.dumps(
                {
                    "project": ctx.project.slug,
                    "written_at": utcnow().isoformat(),
                    "gate_fingerprint": audit.result.fingerprint,
                    "folders": result.folders,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.folders = dict(sorted(result.folders.items()))
    with ctx.workspace.db.writing() as session:
        journal.record(
            session,
            ctx.project,
            ctx.dir,
            "dataset.layout",
            result.summary(),
            {"out": str(target), "folders": result.folders, "gate": audit.result.fingerprint},
        )
    return result


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` where ``target`` is: two renames in one folder, so at any moment
    the target is the complete old folder, the complete new one, or (only between the
    renames) absent with the old one beside it."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, old)
    os.rename(staging, target)
    fsync_dir(target.parent)
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)


def layout_marker(ctx: ProjectContext, out: Path | None = None) -> dict[str, object] | None:
    """What the last write left in the folder (None: never written)."""
    try:
        data = json.loads(((out or layout_dir(ctx)) / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
