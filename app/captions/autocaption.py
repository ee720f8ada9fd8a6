"""Auto-captioning a project as the artist drives it, as jobs that ``app.worker`` runs in
a child process (the captioner's model is loaded there, never in the server):

1. ``sample_job``: the chosen captioner (studio.md ``captioners``) captions a small
   sample of the images in scope; the job's result keeps what the model said (raw), so
2. ``sample_drafts`` can apply any recipe (blacklist, prefix, template) to the sample
   again without running the model;
3. ``run_job``, once the artist approves the recipe: writes the sample's drafts, then
   captions the rest in parts, writing each part as it is done (a cancel keeps them),
   all as one undoable batch and one journal entry.

Which captions may be written (``scope``): an approved caption never (un-approve it to
re-caption it); by default only images without a caption; "drafts" also replaces
unreviewed drafts that came from caption files or captioners, and rejected captions;
"unapproved" also replaces the artist's own edited drafts. The scope is checked again
right before each write, and a caption edited meanwhile is left alone. Results are
always drafts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from app import journal
from app.captions.batch import Change, apply_batch, finish_batch
from app.captions.captioners import (
    DEFAULT_SAMPLE_SIZE,
    CaptionDraft,
    CaptionerUnavailable,
    CaptionRecipe,
    NaturalSettings,
    RawCaption,
    ScoredTag,
    Wd14Settings,
    caption_sample,
    captioner_folder,
    load_captioner,
    redraft,
)
from app.captions.captioners.base import Captioner, require_files, source_words
from app.captions.grid import caption_intent
from app.captions.store import is_trainable_image, load_captions
from app.dataset.inventory import dataset_dir
from app.dataset.records import load_rows, sync_records
from app.grimoire import GrimoireError, studio_path
from app.models import Caption, DatasetImage
from app.paths import safe_join
from app.words import plural
from app.worker import JobCancelled, JobHandle
from app.workspace import ProjectContext

SAMPLE_JOB = "captions.sample"
RUN_JOB = "captions.auto"
CAPTIONERS = {"wd14": "WD14 tagger (booru tags)", "natural": "Natural-language captioner"}
SCOPES = {
    "missing": "Only images without a caption",
    "drafts": "Also replace drafts from caption files or captioners, and rejected captions",
    "unapproved": "Replace every caption that is not approved (your own edits too)",
}
# The images each scope captions, as a sentence ends: "from 5 images without a caption".
SCOPE_WORDS = {
    "missing": "without a caption",
    "drafts": "without a caption, or with a draft not written by you or a rejected caption",
    "unapproved": "whose caption is not approved",
}
MAX_SAMPLE = 20
# Images captioned (and written) per part of the run: a cancel loses at most this many.
PART_SIZE = 16


class AutoCaptionError(ValueError):
    """Auto-captioning cannot start; the message says why."""


@dataclass(frozen=True)
class AutoCaptionSettings:
    kind: str = "wd14"
    scope: str = "missing"
    sample_size: int = DEFAULT_SAMPLE_SIZE
    general_threshold: float = 0.35
    character_threshold: float = 0.85

    def __post_init__(self) -> None:
        if self.kind not in CAPTIONERS:
            raise AutoCaptionError("Choose a captioner: the WD14 tagger or the natural one.")
        if self.scope not in SCOPES:
            raise AutoCaptionError("Choose which captions may be replaced.")
        if not 1 <= self.sample_size <= MAX_SAMPLE:
            raise AutoCaptionError(f"The sample is 1 to {MAX_SAMPLE} images.")
        for value in (self.general_threshold, self.character_threshold):
            if not 0 < value < 1:
                raise AutoCaptionError("Thresholds are between 0 and 1 (e.g. 0.35).")

    def captioner_settings(self) -> Wd14Settings | NaturalSettings:
        if self.kind == "wd14":
            return Wd14Settings(
                general_threshold=self.general_threshold,
                character_threshold=self.character_threshold,
            )
        return NaturalSettings()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AutoCaptionSettings:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def recipe_to_json(recipe: CaptionRecipe) -> dict[str, Any]:
    return {
        "blacklist": list(recipe.blacklist),
        "prefix": recipe.prefix,
        "template": recipe.template,
    }


def _captioner_module(kind: str) -> ModuleType:
    from app.captions.captioners import natural, wd14

    return wd14 if kind == "wd14" else natural


def captioner_problem(ctx: ProjectContext, kind: str) -> str | None:
    """Why the captioner cannot run (what to put where), checked from its files without
    loading the model; None when its folder looks complete."""
    module = _captioner_module(kind)
    try:
        folder = captioner_folder(ctx.workspace.studio(), kind, ctx.workspace.grimoire_dir)  # type: ignore[arg-type]
        require_files(folder, module.LABEL, kind, module.NEEDS)
        module.check_runtime()
    except CaptionerUnavailable as exc:
        return str(exc)
    except GrimoireError as exc:
        return f"studio.md cannot be read, so its captioners are unknown: {exc}"
    return None


@dataclass(frozen=True)
class CaptionerSetup:
    """What the page says about one captioner: the models it runs, the files its folder
    needs, where that folder is written down, and why it cannot run yet (None: ready)."""

    kind: str
    title: str
    models: tuple[str, ...]
    files: tuple[str, ...]
    studio_key: str
    studio_file: Path
    guide: str  # the captioning guide's section
    problem: str | None

    @property
    def ready(self) -> bool:
        return self.problem is None


GUIDE_SECTIONS = {
    "wd14": "captioning-guide#the-wd14-tagger",
    "natural": "captioning-guide#the-natural-language-captioner",
}


def captioner_setups(ctx: ProjectContext) -> list[CaptionerSetup]:
    setups = []
    for kind, title in CAPTIONERS.items():
        module = _captioner_module(kind)
        setups.append(
            CaptionerSetup(
                kind=kind,
                title=title,
                models=module.MODELS,
                files=tuple(f"{' or '.join(names)} ({what})" for names, what in module.NEEDS),
                studio_key=f"captioners: {kind}:",
                studio_file=studio_path(ctx.workspace.grimoire_dir),
                guide=GUIDE_SECTIONS[kind],
                problem=captioner_problem(ctx, kind),
            )
        )
    return setups


def in_scope(caption: Caption | None, scope: str) -> bool:
    if caption is None or not caption.text.strip():
        return True
    if caption.status == "approved":
        return False
    if scope == "missing":
        return False
    if scope == "drafts":
        return caption.source != "manual" or caption.status == "rejected"
    return True


def scope_images(ctx: ProjectContext, scope: str, *, save: bool = True) -> list[DatasetImage]:
    """The included images whose caption this run may write, by path (the folder as it
    is now: images added since the last audit count). ``save=False`` for a page's count:
    the new images' records are not stored (GET never writes)."""
    rows = sync_records(ctx, save=save)
    captions = load_captions(ctx)
    return [
        rows[path]
        for path in sorted(rows)
        if rows[path].included
        and is_trainable_image(rows[path])
        and in_scope(captions.get(rows[path].id or 0), scope)
    ]


def _load(ctx: ProjectContext, settings: AutoCaptionSettings) -> Captioner:
    try:
        return load_captioner(
            ctx.workspace.studio(),
            settings.kind,  # type: ignore[arg-type]
            ctx.workspace.grimoire_dir,
            settings.captioner_settings(),
        )
    except GrimoireError as exc:
        raise CaptionerUnavailable(f"studio.md cannot be read: {exc}") from None


def _raw_json(raw: RawCaption, root: Path) -> dict[str, Any]:
    return {
        "path": raw.path.relative_to(root).as_posix(),
        "tags": [[tag.name, tag.score, tag.category] for tag in raw.tags],
        "sentence": raw.sentence,
    }


def _raw_from_json(data: dict[str, Any], root: Path) -> RawCaption:
    return RawCaption(
        path=safe_join(root, data["path"]),
        tags=tuple(
            ScoredTag(name, float(score), category) for name, score, category in data["tags"]
        ),
        sentence=data.get("sentence", ""),
    )


def sample_params(ctx: ProjectContext, settings: AutoCaptionSettings) -> dict[str, Any]:
    """The sample job's parameters; refused at once when no image is in scope."""
    if not scope_images(ctx, settings.scope):
        raise AutoCaptionError(
            "No included image is left to caption with this choice: every one already has "
            "a caption it may not replace. Choose a wider scope, or un-approve a caption."
        )
    return {"settings": settings.to_json()}


def sample_job(handle: JobHandle) -> dict[str, Any]:
    """Caption the sample; the job's result holds the model's raw output."""
    ctx: ProjectContext = handle.ctx
    settings = AutoCaptionSettings.from_json(handle.params["settings"])
    root = dataset_dir(ctx)
    paths = [safe_join(root, row.path) for row in scope_images(ctx, settings.scope)]
    handle.progress(0, min(len(paths), settings.sample_size), "Loading the captioner")
    captioner = _load(ctx, settings)
    handle.progress(0, None, "Captioning the sample")
    run = caption_sample(
        captioner,
        paths,
        caption_intent(ctx),
        n=settings.sample_size,
        progress=handle.progress,
        should_cancel=lambda: handle.cancelled,
    )
    handle.raise_if_cancelled()
    return {
        "settings": settings.to_json(),
        "source": run.source,
        "raw": [_raw_json(raw, root) for raw in run.raw],
        "failures": [
            {"path": failure.path.relative_to(root).as_posix(), "why": failure.reason}
            for failure in run.failures
        ],
    }


def sample_drafts(
    ctx: ProjectContext, sample: dict[str, Any], recipe: CaptionRecipe
) -> list[CaptionDraft]:
    """The sample's drafts with ``recipe``, without running the model again."""
    root = dataset_dir(ctx)
    raw = [_raw_from_json(item, root) for item in sample.get("raw", [])]
    return redraft(raw, caption_intent(ctx), recipe, str(sample.get("source", "")))


def _changes(ctx: ProjectContext, drafts: Sequence[CaptionDraft], scope: str) -> list[Change]:
    """The drafts that may still be written, each planned on the caption as it is now."""
    root = dataset_dir(ctx)
    rows = {safe_join(root, row.path): row for row in load_rows(ctx)}
    captions = load_captions(ctx)
    changes = []
    for draft in drafts:
        row = rows.get(draft.path)
        if row is None or not row.included:
            continue
        caption = captions.get(row.id or 0)
        if not in_scope(caption, scope):
            continue
        changes.append(
            Change(
                row.id or 0,
                draft.text,
                "draft",
                draft.source,
                " ".join(draft.notes),
                caption.version if caption else None,
            )
        )
    return changes


def run_params(
    settings: AutoCaptionSettings, recipe: CaptionRecipe, sample_job_id: int
) -> dict[str, Any]:
    """The run's parameters: the approved recipe and the sample job whose drafts it
    writes first."""
    return {
        "settings": settings.to_json(),
        "recipe": recipe_to_json(recipe),
        "sample_job": sample_job_id,
    }


def _sample_result(ctx: ProjectContext, job_id: int) -> dict[str, Any]:
    from app.models import Job

    with ctx.workspace.db.reading() as session:
        job = session.get(Job, job_id)
    if job is None or job.project_id != ctx.project.id or job.state != "done":
        raise AutoCaptionError(
            "The sample this run was approved on is gone: caption a sample again."
        )
    return job.result


def run_job(handle: JobHandle) -> dict[str, Any]:
    """Write the sample's drafts, then caption and write the rest, part by part."""
    ctx: ProjectContext = handle.ctx
    settings = AutoCaptionSettings.from_json(handle.params["settings"])
    recipe = CaptionRecipe.build(**handle.params["recipe"])
    sample = _sample_result(ctx, int(handle.params["sample_job"]))
    root = dataset_dir(ctx)
    sampled = {safe_join(root, item["path"]) for item in sample.get("raw", [])}
    sampled |= {safe_join(root, item["path"]) for item in sample.get("failures", [])}
    written: list[str] = []
    failures: list[dict[str, str]] = list(sample.get("failures", []))
    batch_id = None

    def write(drafts: Sequence[CaptionDraft]) -> None:
        nonlocal batch_id
        result = apply_batch(
            ctx,
            "autocaption",
            _changes(ctx, drafts, settings.scope),
            lambda _result: "",
            batch_id=batch_id,
            record=False,
        )
        if result.batch is not None:
            batch_id = result.batch.id
        written.extend(result.changed)

    write(sample_drafts(ctx, sample, recipe))
    rest = [
        safe_join(root, row.path)
        for row in scope_images(ctx, settings.scope)
        if safe_join(root, row.path) not in sampled
    ]
    cancelled = False
    source = str(sample.get("source", settings.kind))
    if rest:
        handle.progress(0, len(rest), "Loading the captioner")
        captioner = _load(ctx, settings)
        source = captioner.source
        intent = caption_intent(ctx)
        for start in range(0, len(rest), PART_SIZE):
            if handle.cancelled:
                cancelled = True
                break
            part = rest[start : start + PART_SIZE]
            batch = captioner.caption(part, should_cancel=lambda: handle.cancelled)
            write(redraft(batch.captions, intent, recipe, captioner.source))
            failures += [
                {"path": f.path.relative_to(root).as_posix(), "why": f.reason}
                for f in batch.failures
            ]
            handle.progress(min(start + len(part), len(rest)), len(rest), "Captioning")
            cancelled = batch.cancelled
            if cancelled:
                break
    message = (
        f"Auto-captioned {plural(len(written), 'image')} with "
        f"the {source_words(source)} as drafts"
        + (f" (blacklist: {', '.join(recipe.blacklist)})" if recipe.blacklist else "")
        + (" before you cancelled; what was written is kept." if cancelled else ".")
    )
    data = {"paths": written, "recipe": recipe_to_json(recipe), "failures": failures}
    if batch_id is not None:
        finish_batch(ctx, batch_id, message, data)
    else:
        with ctx.workspace.db.writing() as session:
            journal.record(
                session, ctx.project, ctx.dir, "caption.batch.autocaption", message, data
            )
    if cancelled:
        raise JobCancelled()
    return {"written": len(written), "failures": failures, "message": message}
