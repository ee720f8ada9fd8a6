"""Changing the interview's answers after creation: the same checks as at creation, one
journal entry naming every change, and exactly the gates whose fingerprints hold the
changed answer go out of date (the overview's lights read the same states)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.curation.project_audit import run_project_audit
from app.dataset.inventory import dataset_dir
from app.findings import make_result
from app.gate_records import record_result
from app.gates import config as config_gate
from app.gates import environment as environment_gate
from app.gates.state import gate_states
from app.intent_change import change_intent
from app.journal import journal_path
from app.projects import IntentErrors, create_project, get_project
from app.training.config import TrainingConfig, save_config
from app.workspace import ProjectContext, Workspace
from tests.dataset import builders as b

# sqrt(500 × 460) ≈ 480 px: under half of SDXL's 1024 (far too small), 94% of SD 1.5's 512.
PHOTO = (500, 460)


@pytest.fixture
def photos(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    project, _ = create_project(workspace, make_intent(name="Photos", trigger_word="zkphoto"))
    ctx = workspace.context(project)
    for seed in range(8):
        folder = dataset_dir(ctx) / "1_photos"
        b.save(b.photo(300 + seed, PHOTO), folder / f"{seed}.png")
        (folder / f"{seed}.txt").write_text(f"zkphoto, a street {seed}")
    return ctx


def judge_every_gate(ctx: ProjectContext) -> None:
    """Gate 1 and 2 judged for real; Gate 3 recorded on its real fingerprint (its checks
    start subprocesses for a minute, and only the fingerprint matters here)."""
    run_project_audit(ctx)
    record_result(ctx, config_gate.evaluate(ctx))
    record_result(ctx, make_result("environment", [], environment_gate.fingerprint(ctx)))
    assert not [s.name for s in gate_states(ctx) if s.status == "stale"]


def stale_now(ctx: ProjectContext) -> list[str]:
    return [state.name for state in gate_states(ctx) if state.status == "stale"]


def test_sdxl_photos_are_pointed_to_sd15_and_the_change_needs_no_new_import(
    photos: ProjectContext, tmp_path: Path
) -> None:
    audit = run_project_audit(photos)
    codes = [f.code for f in audit.result.findings]
    assert codes.count("image.too_small") == 8 and audit.result.verdict == "block"
    (fit,) = [f for f in audit.result.findings if f.code == "dataset.family_resolution"]
    assert "8 of 8 images are below the 1024×1024 Stable Diffusion XL" in fit.message
    assert "Stable Diffusion 1.5 was trained at 512×512: 8 of them" in fit.message
    assert fit.severity == "warn" and fit.why and "--family sd15" in fit.fix
    assert fit.source == "dataset-audit#resolution"

    judge_every_gate(photos)
    change = change_intent(photos, {"model_family": "sd15", "caption_format": "booru"})
    assert set(change.changes) == {"model_family", "caption_format"}
    assert [state.name for state in change.stale] == ["dataset", "config", "environment"]
    assert stale_now(photos) == ["dataset", "config", "environment"]
    journal = journal_path(photos.dir).read_text()
    assert (
        "Intent changed: model family Stable Diffusion XL → Stable Diffusion 1.5; caption "
        "format mixed → booru tags. Out of date now: Gate 1 · Dataset" in journal
    )
    assert "Gate 3 · Environment (the base model's family changed)" in journal
    stored = get_project(photos.workspace, photos.project.slug)
    assert stored is not None and stored.model_family == "sd15"
    assert '"model_family": "sd15"' in (photos.dir / "project.json").read_text()

    again = run_project_audit(photos)
    codes = [f.code for f in again.result.findings]
    assert "image.too_small" not in codes and "dataset.family_resolution" not in codes


def test_each_answer_makes_exactly_its_gates_stale(photos: ProjectContext, tmp_path: Path) -> None:
    other_model = tmp_path / "models" / "other.safetensors"
    other_model.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    expected = {
        # The base model file is judged by Gate 2 alone (its size, its header).
        "base_model": (str(other_model), ["config"]),
        # Captions are judged by Gate 1; Gate 2 holds Gate 1's fingerprint.
        "caption_format": ("natural", ["dataset", "config"]),
        "training_type": ("character", ["dataset", "config"]),
        "must_vary": ("lighting, season", ["dataset", "config"]),
    }
    for answer, (value, gates) in expected.items():
        judge_every_gate(photos)
        change = change_intent(photos, {answer: value})
        assert [state.name for state in change.stale] == gates, answer
        assert stale_now(photos) == gates, answer


def test_refused_answers_change_nothing(photos: ProjectContext) -> None:
    before = (photos.dir / "project.json").read_text()
    with pytest.raises(IntentErrors) as refused:
        change_intent(photos, {"model_family": "sd9", "base_model": "/nowhere/model.safetensors"})
    assert set(refused.value.errors) == {"model_family", "base_model"}
    with pytest.raises(IntentErrors):
        change_intent(photos, {"trigger_word": "zkother"})  # it rewrites captions: elsewhere
    assert (photos.dir / "project.json").read_text() == before
    assert "Intent changed" not in journal_path(photos.dir).read_text()
    assert change_intent(photos, {"model_family": "sdxl"}).changes == {}


def test_a_saved_config_for_the_old_family_is_named(photos: ProjectContext) -> None:
    save_config(photos.dir, TrainingConfig(resolution=1024))
    change = change_intent(photos, {"model_family": "sd15"})
    assert "trains at 1024 pixels; Stable Diffusion 1.5 was trained at 512" in change.message()
