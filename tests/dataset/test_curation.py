"""Repeats per concept (kept in the database, followed by the inventory, the step count
and new images) and the balance view."""

from __future__ import annotations

import pytest
from PIL import Image

from app.captions.sync import sync_captions
from app.curation.balance import balance, set_repeats
from app.curation.project_audit import audit_project
from app.dataset.decisions import DecisionError
from app.dataset.inventory import dataset_dir, inventory
from app.dataset.records import load_rows
from app.dataset.whole_dataset_checks import bucket_counts
from app.journal import journal_path
from app.training.config import save_config
from app.training.project_config import current_config
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import TRIGGER, caption_project, mira_intent, write_images


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    ctx = caption_project(
        workspace,
        mira_intent(make_intent),
        [f"{TRIGGER}, red scarf, pose {n}" for n in range(6)],
        size=512,
    )
    write_images(dataset_dir(ctx) / "2_city", [f"{TRIGGER}, street"] * 3, size=512)
    sync_captions(ctx)
    return ctx


def test_repeats_change_the_samples_and_the_steps(ctx: ProjectContext) -> None:
    before = balance(ctx)
    assert [(c.folder, c.images, c.samples) for c in before.concepts] == [
        ("2_city", 3, 6),
        ("10_mira", 6, 60),
    ]
    assert before.plan is not None and before.plan.samples_per_epoch == 66
    change = set_repeats(ctx, "city", 20)
    assert (change.old, change.new) == (2, 20)
    assert change.steps_before is not None and change.steps_after is not None
    assert change.steps_after > change.steps_before
    assert {(i.concept, i.repeats) for i in inventory(ctx)} == {("mira", 10), ("city", 20)}
    after = balance(ctx)
    assert after.plan is not None and after.plan.samples_per_epoch == 60 + 60
    city = next(c for c in after.concepts if c.concept == "city")
    assert (city.folder, round(after.share(city), 2)) == ("20_city", 0.5)
    journal = journal_path(ctx.dir).read_text()
    assert (
        f"Repeats of “city” changed from 2 to 20: its 3 images now count as 60 samples per "
        f"epoch; the run goes from {change.steps_before} to {change.steps_after} steps."
    ) in journal
    # A new image of the concept gets the artist's number, not its folder's.
    write_images(dataset_dir(ctx) / "2_city" / "more", [f"{TRIGGER}, bridge"], size=512)
    assert {i.repeats for i in inventory(ctx) if i.concept == "city"} == {20}


def test_the_balance_shows_buckets_and_frequent_tags(ctx: ProjectContext) -> None:
    view = balance(ctx)
    assert [(b.bucket, b.images) for b in view.buckets] == [((512, 512), 9)]
    assert view.captioned == 9
    assert [(t.tag, t.count) for t in view.tags[:2]] == [("red scarf", 6), ("street", 3)]


@pytest.mark.parametrize("repeats", [0, 101])
def test_repeats_out_of_range_or_for_no_concept_are_refused(
    ctx: ProjectContext, repeats: int
) -> None:
    with pytest.raises(DecisionError, match="from 1 to 100"):
        set_repeats(ctx, "mira", repeats)
    with pytest.raises(DecisionError, match="no concept"):
        set_repeats(ctx, "nobody", 3)


def test_gate_one_and_the_balance_put_images_in_the_same_buckets(ctx: ProjectContext) -> None:
    """Both follow the project's config (the Standard preset until one is saved), not
    the family's default: the report and Curate must not disagree about buckets."""
    wide = dataset_dir(ctx) / "3_wide"
    wide.mkdir()
    for index, size in enumerate([(900, 400), (400, 900), (700, 420)]):
        Image.new("RGB", size, (index * 60, 90, 30)).save(wide / f"{index}.png")
        (wide / f"{index}.txt").write_text(f"{TRIGGER}, wide {index}")
    sync_captions(ctx)

    def agree() -> dict[str, int]:
        stats = audit_project(ctx).result.stats["aspect_buckets"]
        assert stats == {f"{b.bucket[0]}×{b.bucket[1]}": b.images for b in balance(ctx).buckets}
        return stats

    preset = agree()
    config = current_config(ctx).model_copy(
        update={"resolution": 512, "bucket_reso_steps": 128, "bucket_no_upscale": False}
    )
    save_config(ctx.dir, config)
    saved = agree()
    assert saved != preset
    family_default = bucket_counts(
        [(r.path, {"width": r.width, "height": r.height}) for r in load_rows(ctx)], "sd15"
    )
    assert dict(family_default) != saved  # what Gate 1 used before
