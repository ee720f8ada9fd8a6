"""The project's audit: rows kept in step with the folder, the inventory reflecting the
artist's decisions, decisions and flags in the journal, Gate 1 recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.curation.project_audit import run_project_audit
from app.dataset.decisions import (
    DecisionError,
    keep_one,
    mark_intentional,
    set_included,
    set_near_threshold,
)
from app.dataset.inventory import dataset_dir, inventory
from app.dataset.records import load_rows
from app.gates.state import gate_state
from app.journal import journal_path
from app.projects import create_project
from app.workspace import ProjectContext, Workspace
from tests.captions.approve import approve_all
from tests.dataset import builders as b

TRIGGER = "zkteapot"


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    project, _ = create_project(
        workspace,
        make_intent(
            name="Teapot",
            training_type="object",
            trigger_word=TRIGGER,
            model_family="sd15",
            caption_format="booru",
            must_vary="",  # the caption check would ask for lighting to be described
        ),
    )
    return workspace.context(project)


def fill(ctx: ProjectContext, count: int, *, start: int = 0) -> Path:
    root = dataset_dir(ctx) / "4_teapot"
    for seed in range(start, start + count):
        b.save(b.photo(300 + seed, (576, 512)), root / f"{seed:02}.png")
        (root / f"{seed:02}.txt").write_text(f"{TRIGGER}, on a table {seed}")
    return root


def by_path(ctx: ProjectContext) -> dict[str, object]:
    return {row.path: row for row in load_rows(ctx)}


def test_a_clean_dataset_passes_and_is_recorded(ctx: ProjectContext) -> None:
    fill(ctx, 10)
    assert run_project_audit(ctx).result.verdict == "block"  # captions not approved yet
    approve_all(ctx)
    audit = run_project_audit(ctx)
    assert audit.result.verdict == "pass", [f.message for f in audit.result.findings]
    assert set(audit.result.fingerprint_parts) == {
        "images",
        "captions",
        "statuses",
        "duplicates",
        "intent",
    }
    state = gate_state(ctx, "dataset")
    assert state.status == "pass" and state.record is not None
    rows = load_rows(ctx)
    assert len(rows) == 10 and all(row.sha256 and row.phash is not None for row in rows)
    assert {(item.concept, item.repeats) for item in inventory(ctx)} == {("teapot", 4)}


def test_changes_make_the_gate_stale_with_a_reason(ctx: ProjectContext) -> None:
    root = fill(ctx, 10)
    run_project_audit(ctx)
    (root / "03.txt").write_text(f"{TRIGGER}, on a chair")
    state = gate_state(ctx, "dataset")
    assert state.status == "stale" and state.stale_reasons == ["captions changed"]
    run_project_audit(ctx)
    row = by_path(ctx)["4_teapot/03.png"]
    set_included(ctx, row.id, False)  # type: ignore[attr-defined]
    assert gate_state(ctx, "dataset").stale_reasons == [
        "caption approvals, exclusions or repeats changed"
    ]


def test_flagged_images_are_journaled_once(ctx: ProjectContext) -> None:
    root = fill(ctx, 10)
    b.save(b.photo(399, (200, 160)), root / "05.png")  # far too small for SD 1.5
    run_project_audit(ctx)
    run_project_audit(ctx)
    journal = journal_path(ctx.dir).read_text()
    assert journal.count("Flagged 4_teapot/05.png") == 1
    assert journal.count("Flagged") == 1  # captions awaiting review are not flags
    assert journal.count("Gate 1 · Dataset blocks training") == 2


def test_only_the_changed_file_is_measured_again(ctx: ProjectContext) -> None:
    root = fill(ctx, 6)
    run_project_audit(ctx)
    b.save(b.photo(999, (576, 512)), root / "02.png")
    audit = run_project_audit(ctx)
    assert (audit.report.counts.cached, audit.report.counts.measured) == (5, 1)
    (root / "04.png").unlink()
    (root / "04.txt").unlink()
    assert "4_teapot/04.png" not in {item.path for item in inventory(ctx)}
    assert "4_teapot/04.png" in by_path(ctx)  # reading the inventory stores nothing
    run_project_audit(ctx)
    assert "4_teapot/04.png" not in by_path(ctx)  # the audit's rows follow the folder


def test_keep_one_resolves_a_duplicate_group_and_excludes_the_rest(ctx: ProjectContext) -> None:
    root = fill(ctx, 10)
    picture = b.photo(300, (576, 512))  # the same as 00.png
    b.save(picture, root / "copy.bmp")
    (root / "copy.txt").write_text(TRIGGER)
    b.save(b.brightened(picture), root / "bright.png")
    (root / "bright.txt").write_text(TRIGGER)
    approve_all(ctx)
    audit = run_project_audit(ctx)
    codes = [f.code for f in audit.result.findings if f.code.startswith("duplicate.")]
    assert sorted(codes) == ["duplicate.exact", "duplicate.near"]
    rows = by_path(ctx)
    members = [rows[f"4_teapot/{n}"].id for n in ("00.png", "copy.bmp", "bright.png")]  # type: ignore[attr-defined]
    keep_one(ctx, members, members[0])
    after = run_project_audit(ctx)
    assert not [f for f in after.result.findings if f.code.startswith("duplicate.")]
    assert after.result.verdict == "pass"
    excluded = {item.path for item in inventory(ctx) if not item.included}
    assert excluded == {"4_teapot/copy.bmp", "4_teapot/bright.png"}
    assert by_path(ctx)["4_teapot/copy.bmp"].exclusion_reason == "duplicate of 4_teapot/00.png"  # type: ignore[attr-defined]
    assert "Kept 4_teapot/00.png of a duplicate group" in journal_path(ctx.dir).read_text()


def test_intentional_near_duplicates_and_the_threshold(ctx: ProjectContext) -> None:
    root = fill(ctx, 10)
    b.save(b.brightened(b.photo(301, (576, 512))), root / "bright.png")
    (root / "bright.txt").write_text(f"{TRIGGER}, in bright light")
    approve_all(ctx)
    run_project_audit(ctx)
    rows = by_path(ctx)
    members = [rows["4_teapot/01.png"].id, rows["4_teapot/bright.png"].id]  # type: ignore[attr-defined]
    mark_intentional(ctx, members)
    audit = run_project_audit(ctx)
    intentional = [f for f in audit.result.findings if f.code == "duplicate.intentional"]
    assert [f.severity for f in intentional] == ["info"] and audit.result.verdict == "pass", [
        f.message for f in audit.result.findings if f.severity != "info"
    ]
    set_near_threshold(ctx, 0)
    assert gate_state(ctx, "dataset").stale_reasons == [
        "the duplicate threshold or a duplicate decision changed"
    ]
    with pytest.raises(DecisionError):
        set_near_threshold(ctx, 99)
    with pytest.raises(DecisionError):
        keep_one(ctx, [members[0], 123456], members[0])
    journal = journal_path(ctx.dir).read_text()
    assert "Kept near-duplicates on purpose: 4_teapot/01.png, 4_teapot/bright.png." in journal
    assert "Near-duplicate threshold changed from 10 to 0 bits." in journal


def test_too_few_images_block(ctx: ProjectContext) -> None:
    fill(ctx, 3)
    result = run_project_audit(ctx).result
    floor = [f for f in result.findings if f.code == "dataset.below_floor"]
    assert floor and floor[0].severity == "block" and result.verdict == "block"
    assert "3 usable images; an object LoRA on " in floor[0].message
