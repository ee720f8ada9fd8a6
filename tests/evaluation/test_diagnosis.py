"""Diagnosis rules fire on runs built to show each symptom, with this run's numbers in
the evidence, and a fix becomes a new config version that makes Gate 2 stale."""

from __future__ import annotations

from dataclasses import replace

from app.evaluation.curves import Curves
from app.evaluation.diagnosis import diagnose, loss_shape, measured_symptoms
from app.evaluation.fixes import apply_fix
from app.evaluation.loras import final_of_run
from app.evaluation.run_numbers import RunNumbers, run_numbers, tag_counts
from app.runs.imported import add_finished_run
from app.training.config import load_config
from app.workspace import ProjectContext

TYPICAL = RunNumbers(
    training_type="character",
    family="sd15",
    images=30,
    views_per_image=100,
    total_steps=1500,
    unet_lr=1e-4,
    text_encoder_lr=5e-5,
    train_text_encoder=False,
    rank=16,
    alpha=8,
    optimizer="adamw",
    mixed_precision="bf16",
    resolution=512,
    epochs=10,
    captions=30,
)


def _codes(numbers: RunNumbers, symptom: str) -> list[str]:
    return [advice.code for advice in diagnose(numbers, [symptom])[symptom]]


def test_a_typical_run_gives_no_cause() -> None:
    for symptom in ("no_effect", "overfit", "leak", "missing", "broken"):
        assert _codes(TYPICAL, symptom) == []


def test_many_steps_per_image_on_a_tiny_dataset_is_overfitting() -> None:
    run = replace(TYPICAL, images=8, views_per_image=400, total_steps=3200, epochs=40)
    advice = diagnose(run, ["overfit"])["overfit"]
    assert [a.code for a in advice] == [
        "diagnosis.overfit.many_steps",
        "diagnosis.overfit.small_dataset",
    ]
    assert "400 times" in advice[0].evidence and "8 images" in advice[0].evidence
    assert advice[0].change == {"epochs": 10}  # back to about 100 views per image
    assert all(a.source.startswith("failure-modes#") for a in advice)


def test_low_learning_rate_and_a_flat_loss_explain_no_effect() -> None:
    run = replace(TYPICAL, unet_lr=1e-5, loss=[0.1] * 40)
    assert _codes(run, "no_effect") == [
        "diagnosis.no_effect.lr_low",
        "diagnosis.no_effect.loss_flat",
    ]
    prodigy = replace(TYPICAL, optimizer="prodigy", unet_lr=1e-4)
    assert _codes(prodigy, "no_effect") == ["diagnosis.no_effect.prodigy_lr"]


def test_measured_curves_tick_leak_and_no_effect() -> None:
    leaking = replace(TYPICAL, curves=Curves([0, 1.0], [0, 0.4], [0, 0.3]), train_text_encoder=True)
    assert measured_symptoms(leaking) == ["leak"]
    assert _codes(leaking, "leak")[:2] == ["diagnosis.leak.measured", "diagnosis.leak.text_encoder"]
    flat = replace(TYPICAL, curves=Curves([0, 1.0], [0, 0], [0, 0]))
    assert measured_symptoms(flat) == ["no_effect"]


def test_tags_in_every_caption_explain_missing_parts() -> None:
    captions = [f"zk, red scarf, {pose}" for pose in ("sitting", "standing", "running")]
    run = replace(TYPICAL, tags=tag_counts(captions, "zk"))
    [advice] = diagnose(run, ["missing"])["missing"]
    assert "“red scarf” (100%)" in advice.evidence


def test_loss_shapes() -> None:
    assert loss_shape([1.0] * 4 + [0.5] * 4).kind == "falling"
    assert loss_shape([0.1] * 8).kind == "flat"
    assert loss_shape([0.1] * 6 + [5.0, 9.0]).kind == "exploded"
    assert loss_shape([0.1, None] * 4).kind == "exploded"
    assert loss_shape([0.1]).kind == "unknown"


def test_a_fix_becomes_a_new_config_version(eval_ctx: ProjectContext, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A run recorded with its step events (as an import records one): the loss comes
    # from the Run record's stored events.
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "mira.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    steps = [{"step": i, "loss": 0.2 - i * 0.001} for i in range(1, 41)]
    add_finished_run(eval_ctx, staged, backend="native", config={}, steps=steps, message="")
    numbers = run_numbers(eval_ctx, final_of_run(eval_ctx.dir, 1))
    assert len(numbers.loss) == 40
    assert numbers.images == 2 and numbers.captions == 2
    assert loss_shape(numbers.loss).kind == "falling"
    overfit = replace(numbers, views_per_image=numbers.views_per_image * 4)
    changes = apply_fix(eval_ctx, overfit, "diagnosis.overfit.many_steps")
    saved = load_config(eval_ctx.dir)
    assert saved is not None and "epochs" in changes and saved.epochs == changes["epochs"][1]
