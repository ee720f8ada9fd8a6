"""Auto-captioning a project sample first, as jobs in child processes (``app.worker``), on the
tiny ONNX tagger: drafts only, never over an approved or hand-written caption unless
the artist widened the scope, one undoable batch, Cancel keeps what was written."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.captions.autocaption import (
    AutoCaptionError,
    AutoCaptionSettings,
    captioner_problem,
    run_params,
    sample_drafts,
    sample_params,
    scope_images,
)
from app.captions.batch import undo_last
from app.captions.captioners import CaptionRecipe
from app.captions.captioners.base import source_words
from app.captions.store import load_captions, save_text, set_status
from app.captions.sync import sync_captions
from app.dataset.inventory import dataset_dir
from app.journal import journal_path
from app.models import Job
from app.projects import create_project
from app.worker import Worker
from app.workspace import ProjectContext, Workspace
from tests.captions.autocaption_setup import (
    CANCEL_AFTER_FIRST_PART,
    build_tagger,
    coloured_images,
    use_tagger,
)
from tests.captions.caption_projects import TRIGGER, caption_of, mira_intent, sidecar


@pytest.fixture(scope="session")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tagger(tmp_path_factory.mktemp("autocaption") / "wd-tiny")


@pytest.fixture
def ctx(workspace: Workspace, make_intent, tagger: Path, tmp_path: Path) -> ProjectContext:  # type: ignore[no-untyped-def]
    project, _ = create_project(workspace, mira_intent(make_intent))
    ctx = workspace.context(project)
    use_tagger(workspace, tagger, copy_to=tmp_path)
    paths = coloured_images(dataset_dir(ctx) / "10_mira", 20)
    paths[0].with_suffix(".txt").write_text(f"{TRIGGER}, approved by me")
    paths[1].with_suffix(".txt").write_text(f"{TRIGGER}, an old caption file")
    sync_captions(ctx)
    approved = caption_of(ctx, "10_mira/000.png")
    set_status(ctx, approved.image_id, "approved", approved.version)
    written = caption_of(ctx, "10_mira/001.png")
    save_text(ctx, written.image_id, f"{TRIGGER}, typed by me", written.version)
    return ctx


@pytest.fixture
def runner(workspace: Workspace) -> Worker:
    return Worker(workspace)


def run(runner: Worker, ctx: ProjectContext, kind: str, params: dict[str, object]) -> Job:
    job = runner.start(kind, ctx.project.id, params)
    finished = runner.wait(job.id or 0, 60)
    assert finished is not None and finished.state == "done", finished and finished.error
    return finished


def test_sample_first_then_the_rest_as_drafts(
    ctx: ProjectContext, runner: Worker, tagger: Path, tmp_path: Path
) -> None:
    settings = AutoCaptionSettings(kind="wd14", scope="missing", sample_size=5)
    assert len(scope_images(ctx, "missing")) == 18  # not the approved or the typed caption
    sample_job = run(runner, ctx, "captions.sample", sample_params(ctx, settings))
    sample = sample_job.result
    assert len(sample["raw"]) == 5 and sample["source"] == "wd14:wd-tiny"  # type: ignore[arg-type]
    assert len(load_captions(ctx)) == 2  # the sample is only read, nothing written yet

    drafts = sample_drafts(ctx, sample, CaptionRecipe())
    assert all(d.text.startswith(f"{TRIGGER}, ") and d.status == "draft" for d in drafts)
    blue = next(d for d in drafts if "blue sky" in d.text)
    assert "hatsune miku" not in blue.text  # a character LoRA's trigger is the name
    assert any("character name" in note for note in blue.notes)
    assert all("traditional media" in d.text for d in drafts)

    # Adjusting the recipe redrafts without the model: it is gone, and it still works.
    (tmp_path / "wd-tiny" / "model.onnx").unlink()
    recipe = CaptionRecipe.build(blacklist="traditional media", prefix="1girl")
    adjusted = sample_drafts(ctx, sample, recipe)
    assert all(d.text.startswith(f"{TRIGGER}, 1girl, ") for d in adjusted)
    assert not any("traditional media" in d.text for d in adjusted)
    assert "model.onnx" in (captioner_problem(ctx, "wd14") or "")

    use_tagger(ctx.workspace, tagger)  # the model is back for the rest
    done = run(
        runner, ctx, "captions.auto", run_params(settings, recipe, sample_job.id or 0)
    ).result
    assert done["written"] == 18
    captions = {c.image_id: c for c in load_captions(ctx).values()}
    assert len(captions) == 20
    approved = caption_of(ctx, "10_mira/000.png")
    assert (approved.text, approved.status) == (f"{TRIGGER}, approved by me", "approved")
    assert caption_of(ctx, "10_mira/001.png").text == f"{TRIGGER}, typed by me"
    new = caption_of(ctx, "10_mira/002.png")
    assert (new.status, new.source) == ("draft", "wd14:wd-tiny")
    assert new.text.startswith(f"{TRIGGER}, 1girl, ") and "traditional media" not in new.text
    assert sidecar(ctx, "10_mira/002.png").read_text() == new.text
    assert not any(c.status == "approved" for c in captions.values() if c.source != "file")
    journal = journal_path(ctx.dir).read_text()
    assert (
        "Auto-captioned 18 images with the WD14 tagger (wd-tiny) as drafts (blacklist: "
        "traditional media)." in journal
    )

    undone = undo_last(ctx)  # the whole run, in one step
    assert len(undone.changed) == 18 and len(load_captions(ctx)) == 2
    assert not sidecar(ctx, "10_mira/002.png").exists()


def test_a_wider_scope_replaces_drafts_but_never_an_approved_caption(
    ctx: ProjectContext, runner: Worker
) -> None:
    drafts_scope = {row.path for row in scope_images(ctx, "drafts")}
    assert "10_mira/000.png" not in drafts_scope and "10_mira/001.png" not in drafts_scope
    unapproved = {row.path for row in scope_images(ctx, "unapproved")}
    assert "10_mira/001.png" in unapproved and "10_mira/000.png" not in unapproved
    settings = AutoCaptionSettings(kind="wd14", scope="unapproved", sample_size=2)
    sample = run(runner, ctx, "captions.sample", sample_params(ctx, settings))
    run(runner, ctx, "captions.auto", run_params(settings, CaptionRecipe(), sample.id or 0))
    assert caption_of(ctx, "10_mira/001.png").source == "wd14:wd-tiny"  # asked for
    assert caption_of(ctx, "10_mira/000.png").text == f"{TRIGGER}, approved by me"


def test_cancel_keeps_what_was_written(ctx: ProjectContext, runner: Worker) -> None:
    settings = AutoCaptionSettings(kind="wd14", scope="missing", sample_size=1)
    sample = run(runner, ctx, "captions.sample", sample_params(ctx, settings))
    # The real run, whose child presses Cancel once the first part is written.
    params = run_params(settings, CaptionRecipe(), sample.id or 0)
    job = runner.start(CANCEL_AFTER_FIRST_PART, ctx.project.id, params)
    finished = runner.wait(job.id or 0, 60)
    assert finished is not None and finished.state == "cancelled"
    # The sample's draft and the first part of 16 are kept; the last image is not.
    assert len(load_captions(ctx)) == 2 + 1 + 16
    assert "before you cancelled; what was written is kept." in journal_path(ctx.dir).read_text()


def test_nothing_to_caption_and_bad_settings_say_so(ctx: ProjectContext) -> None:
    captions = load_captions(ctx)
    for row in scope_images(ctx, "unapproved"):
        current = captions.get(row.id or 0)
        saved = save_text(ctx, row.id or 0, "by hand", current.version if current else 0)
        set_status(ctx, row.id or 0, "approved", saved.caption.version)
    for scope in ("missing", "drafts", "unapproved"):
        with pytest.raises(AutoCaptionError, match="every one already has a caption"):
            sample_params(ctx, AutoCaptionSettings(scope=scope, sample_size=1))
    with pytest.raises(AutoCaptionError, match="sample is 1 to 20"):
        AutoCaptionSettings(sample_size=0)


def test_a_caption_source_is_named_in_words() -> None:
    """The grid and the auto-caption page name a captioner, not its internal key: a
    model folder named like the kind ("wd14:wd14") adds nothing and is left out."""
    assert source_words("wd14:wd14") == "WD14 tagger"
    assert source_words("wd14:wd-vit-tagger-v3") == "WD14 tagger (wd-vit-tagger-v3)"
    assert source_words("natural:blip-base") == "natural-language captioner (blip-base)"
    assert source_words("natural") == "natural-language captioner"
    assert source_words("someone:else") == "someone:else"
