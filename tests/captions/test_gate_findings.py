"""Gate 1 complete: approvals, outside edits and the content-style lint (per training
type) in its findings; its fingerprint following approvals, exclusions, repeats and the
intent; the dataset report written beside the journal on every run."""

from __future__ import annotations

import pytest

from app.captions.store import load_captions, set_status
from app.curation.balance import set_repeats
from app.curation.project_audit import audit_project, run_project_audit
from app.curation.report import REPORT_FILE
from app.dataset.decisions import set_included
from app.dataset.inventory import dataset_dir
from app.gates.state import gate_state
from app.grimoire import eye_path
from app.models import Project
from app.workspace import ProjectContext, Workspace
from tests.captions.approve import approve_all
from tests.captions.caption_projects import (
    TRIGGER,
    caption_of,
    caption_project,
    image_id,
    mira_intent,
    sidecar,
)
from tests.dataset import builders as b

# (training type, intent answers, captions, the finding the gate must carry, severity)
LINT_CASES = [
    (
        "style",
        {},
        [f"{TRIGGER}, lighthouse, watercolor", f"{TRIGGER}, owl, watercolor", f"{TRIGGER}, cat"],
        "caption.style_in_most_captions",
        "block",
    ),
    (
        "character",
        {"must_stay": "red hair"},
        [f"{TRIGGER}, red hair, smiling", f"{TRIGGER}, red hair, sitting", f"{TRIGGER}, cafe"],
        "caption.fixed_trait_in_most_captions",
        "block",
    ),
    (
        "object",
        {"must_vary": "lighting"},
        [f"{TRIGGER}, on a table", f"{TRIGGER}, on a shelf", f"{TRIGGER}, in a box"],
        "caption.must_vary_undescribed",
        "warn",
    ),
    (
        "concept",
        {},
        [f"{TRIGGER}, neon, scene {n}" for n in range(6)],
        "caption.near_universal_tag",
        "warn",
    ),
    (
        "character",
        {},
        [f"{TRIGGER}, A woman walks along the beach at sunset.", f"{TRIGGER}, cafe"],
        "caption.format_mismatch",
        "warn",
    ),
]


@pytest.mark.parametrize(("training_type", "answers", "captions", "code", "severity"), LINT_CASES)
def test_the_caption_check_reaches_gate_one(
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
    training_type: str,
    answers: dict[str, str],
    captions: list[str],
    code: str,
    severity: str,
) -> None:
    intent = mira_intent(make_intent, training_type=training_type, **answers)
    ctx = caption_project(workspace, intent, captions)
    findings = audit_project(ctx, workers=1).result.findings
    matching = [f for f in findings if f.code == code]
    assert matching and {f.severity for f in matching} == {severity}
    assert all(f.why and f.fix and f.source for f in matching)
    # Drafts block whatever the lint says: nobody has read them yet.
    assert {f.code for f in findings if f.severity == "block"} >= {"caption.not_approved"}


def test_an_outside_edit_that_drops_the_trigger_blocks_once(
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    ctx = caption_project(workspace, mira_intent(make_intent), [f"{TRIGGER}, a", f"{TRIGGER}, b"])
    approve_all(ctx)
    sidecar(ctx, "10_mira/000.png").write_text("a, no trigger here")
    findings = audit_project(ctx, workers=1).result.findings
    about = [f for f in findings if f.subject == "10_mira/000.png"]
    # One blocking finding names the problem; the audit's own trigger check on the file
    # (which would say the same again) gives way to it and to the lint on loragate's text.
    assert [f.code for f in about if f.code.startswith("caption.")] == ["caption.changed_outside"]
    assert caption_of(ctx, "10_mira/000.png").status == "approved"  # nothing taken silently


@pytest.fixture
def teapot(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    intent = mira_intent(make_intent, name="Teapot", training_type="object")
    project_ctx = caption_project(workspace, intent, [])
    root = dataset_dir(project_ctx) / "4_teapot"
    for seed in range(10):
        b.save(b.photo(600 + seed, (576, 512)), root / f"{seed:02}.png")
        (root / f"{seed:02}.txt").write_text(f"{TRIGGER}, on a table {seed}")
    return project_ctx


def test_approving_every_caption_turns_the_gate_from_blocking_to_passing(
    teapot: ProjectContext,
) -> None:
    blocked = run_project_audit(teapot, workers=1).result
    assert blocked.verdict == "block"
    assert {f.code for f in blocked.findings if f.severity == "block"} == {"caption.not_approved"}
    report = (teapot.dir / REPORT_FILE).read_text()
    assert report.startswith("# Dataset report: Teapot\n\n**Gate 1 · Dataset blocks training**")
    assert "### Captions not approved (10)" in report
    assert "Source: app/docs/captioning-guide.md#approving-captions" in report

    approve_all(teapot)
    state = gate_state(teapot, "dataset")
    assert state.status == "stale"
    assert state.stale_reasons == ["caption approvals, exclusions or repeats changed"]
    passed = run_project_audit(teapot, workers=1).result
    assert passed.verdict == "pass", [f.message for f in passed.findings]
    assert passed.stats["captions_approved"] == 10
    report = (teapot.dir / REPORT_FILE).read_text()
    assert "**Gate 1 · Dataset passes**" in report and "- 4_teapot: 10 images × 4 = 40" in report
    assert gate_state(teapot, "dataset").status == "pass"


def test_every_decision_makes_the_gate_stale_and_shows_in_the_report(
    teapot: ProjectContext,
) -> None:
    approve_all(teapot)
    run_project_audit(teapot, workers=1)

    set_included(teapot, image_id(teapot, "4_teapot/03.png"), False)
    assert gate_state(teapot, "dataset").stale_reasons == [
        "caption approvals, exclusions or repeats changed"
    ]
    run_project_audit(teapot, workers=1)
    set_repeats(teapot, "teapot", 8)
    assert gate_state(teapot, "dataset").stale_reasons == [
        "caption approvals, exclusions or repeats changed"
    ]
    run_project_audit(teapot, workers=1)
    report = (teapot.dir / REPORT_FILE).read_text()
    assert "- 4_teapot/03.png: excluded by you" in report
    assert "- 8_teapot: 9 images × 8 = 72" in report

    caption = load_captions(teapot)[image_id(teapot, "4_teapot/00.png")]
    set_status(teapot, caption.image_id, "rejected", caption.version)
    run_project_audit(teapot, workers=1)
    assert "was rejected" in (teapot.dir / REPORT_FILE).read_text()

    with teapot.workspace.db.writing() as session:
        project = session.get(Project, teapot.project.id)
        assert project is not None
        project.must_stay = "white porcelain"
        session.add(project)
    teapot.project.must_stay = "white porcelain"
    assert gate_state(teapot, "dataset").stale_reasons == [
        "the project's intent (type, trigger word, family, caption format, what must vary or "
        "stay, your style words) changed"
    ]


def test_the_report_counts_in_words(teapot: ProjectContext) -> None:
    approve_all(teapot)
    result = run_project_audit(teapot, workers=1).result
    assert [f.severity for f in result.findings] == ["info"]  # the buckets note
    report = (teapot.dir / REPORT_FILE).read_text()
    assert "on 10 images: 0 blocking, 0 warnings, 1 note.\n" in report
    assert "Training an object LoRA" in report


def test_a_broken_eye_md_is_a_warning_in_gate_one(
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    intent = mira_intent(make_intent, training_type="style")
    ctx = caption_project(workspace, intent, [f"{TRIGGER}, lighthouse", f"{TRIGGER}, owl"])
    approve_all(ctx)
    assert "caption.eye_unreadable" not in {f.code for f in audit_project(ctx).result.findings}
    eye_path(workspace.grimoire_dir).write_text("---\nstyle_words: [unclosed\n---\n")
    assert gate_state(ctx, "dataset").status == "not_run"
    result = run_project_audit(ctx, workers=1).result
    found = [f for f in result.findings if f.code == "caption.eye_unreadable"]
    assert [f.severity for f in found] == ["warn"] and "eye.md" in found[0].message
    report = (ctx.dir / REPORT_FILE).read_text()
    assert "### Your style words could not be read (1)" in report
    assert "running without your own style words" in report


def test_one_long_caption_does_not_fill_the_report(
    workspace: Workspace,
    make_intent,  # type: ignore[no-untyped-def]
) -> None:
    """Findings quote at most ~80 characters of a caption, whatever its length."""
    essay = ("A story about the lighthouse keeper " * 250).strip() + "."  # ~9,000 characters
    word = "keeper" * 1500  # one tag of 9,000 characters, in every caption
    captions = [f"{TRIGGER}, {word}, {essay}", *[f"{TRIGGER}, {word}, n{n}" for n in range(5)]]
    ctx = caption_project(workspace, mira_intent(make_intent), captions)
    result = run_project_audit(ctx, workers=1).result
    quoting = [
        f
        for f in result.findings
        if f.code in ("caption.format_mismatch", "caption.near_universal_tag")
    ]
    assert {f.code for f in quoting} == {"caption.format_mismatch", "caption.near_universal_tag"}
    assert all(len(f.message) < 300 and len(f.fix) < 600 for f in quoting)
    assert any("lighthouse keeper A story…" in f.message for f in quoting)
    assert len((ctx.dir / REPORT_FILE).read_text()) < 20_000
