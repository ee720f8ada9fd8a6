"""The training folder: refused while Gate 1 blocks, then the included images with their
approved captions in kohya layout, hard-linked or copied (never symlinked), replaced
whole, never over a folder loragate did not write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.captions.store import save_text, set_status
from app.curation.balance import set_repeats
from app.curation.layout import MARKER, LayoutRefused, write_layout
from app.dataset.buckets import BucketSpec
from app.dataset.decisions import set_included
from app.dataset.inventory import dataset_dir, layout_dir
from app.journal import journal_path
from app.training.native.dataset import read_dataset
from app.workspace import ProjectContext, Workspace
from tests.captions.approve import approve_all
from tests.captions.caption_projects import (
    TRIGGER,
    caption_of,
    caption_project,
    image_id,
    mira_intent,
)
from tests.dataset import builders as b


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    ctx = caption_project(
        workspace, mira_intent(make_intent, name="Teapot", training_type="object"), []
    )
    root = dataset_dir(ctx)
    for seed in range(8):
        b.save(b.photo(700 + seed, (576, 512)), root / "4_teapot" / f"{seed:02}.png")
        (root / "4_teapot" / f"{seed:02}.txt").write_text(f"{TRIGGER}, on a table {seed}")
    for seed, name in ((8, "a/x.png"), (9, "b/x.png")):  # same name in two subfolders
        b.save(b.photo(700 + seed, (576, 512)), root / "2_kettle" / name)
        (root / "2_kettle" / name).with_suffix(".txt").write_text(f"{TRIGGER}, kettle {seed}")
    return ctx


def test_refused_while_gate_one_blocks(ctx: ProjectContext) -> None:
    with pytest.raises(LayoutRefused) as refused:
        write_layout(ctx)
    assert refused.value.reasons[0] == "Gate 1 blocks, so the training folder was not written:"
    assert any("is a draft: nobody has approved it yet" in r for r in refused.value.reasons)
    assert not layout_dir(ctx).exists()


def test_the_layout_holds_included_images_and_approved_captions(ctx: ProjectContext) -> None:
    approve_all(ctx)
    set_included(ctx, image_id(ctx, "4_teapot/07.png"), False)
    set_repeats(ctx, "kettle", 6)
    result = write_layout(ctx)
    out = layout_dir(ctx)
    assert result.out == out and result.folders == {"4_teapot": 7, "6_kettle": 2}
    assert sorted(p.name for p in (out / "6_kettle").iterdir()) == [
        "a__x.png",
        "a__x.txt",
        "b__x.png",
        "b__x.txt",
    ]
    assert not (out / "4_teapot" / "07.png").exists()
    approved = caption_of(ctx, "4_teapot/03.png").text
    assert (out / "4_teapot" / "03.txt").read_text() == approved
    image = out / "4_teapot" / "03.png"
    assert not image.is_symlink()
    assert os.path.samefile(image, dataset_dir(ctx) / "4_teapot" / "03.png")  # a hard link
    assert result.linked == 9 and result.copied == 0
    assert not any(p.is_symlink() for p in out.rglob("*"))
    marker = json.loads((out / MARKER).read_text())
    assert marker["project"] == "teapot" and marker["folders"] == result.folders
    # What the native trainer reads from it: the same images, captions trigger first.
    samples = read_dataset(out, TRIGGER, BucketSpec(resolution=512))
    assert len(samples) == 9 and {s.repeats for s in samples} == {4, 6}
    assert "Wrote the training folder" in journal_path(ctx.dir).read_text()


def test_writing_again_replaces_the_folder_whole(ctx: ProjectContext) -> None:
    approve_all(ctx)
    write_layout(ctx)
    out = layout_dir(ctx)
    (out / "4_teapot" / "stray.png").write_bytes(b"left from before")
    caption = caption_of(ctx, "4_teapot/00.png")
    saved = save_text(ctx, caption.image_id, f"{TRIGGER}, on a chair", caption.version)
    set_status(ctx, caption.image_id, "approved", saved.caption.version)
    write_layout(ctx)
    assert not (out / "4_teapot" / "stray.png").exists()
    assert (out / "4_teapot" / "00.txt").read_text() == f"{TRIGGER}, on a chair"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".kohya")]
    assert leftovers == []


def test_unsafe_targets_are_refused(ctx: ProjectContext, tmp_path: Path) -> None:
    approve_all(ctx)
    with pytest.raises(LayoutRefused, match="dataset folder"):
        write_layout(ctx, dataset_dir(ctx) / "kohya")
    mine = tmp_path / "my-photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(LayoutRefused, match="was not written by loragate"):
        write_layout(ctx, mine)
    assert (mine / "holiday.jpg").read_bytes() == b"precious"
    elsewhere = write_layout(ctx, tmp_path / "export")
    assert elsewhere.images == 10 and (tmp_path / "export" / "4_teapot" / "00.png").is_file()
