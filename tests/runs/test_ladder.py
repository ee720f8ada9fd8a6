"""The OOM ladder climbs in DESIGN.md's order, passes over rungs that would change
nothing or cannot apply, asks before the resolution rung, and ends."""

from __future__ import annotations

from app.runs import ladder
from app.training.config import TrainingConfig


def _climb(config: TrainingConfig) -> list[tuple[str, dict[str, object]]]:
    start = config
    taken: list[str] = []
    rungs: list[dict[str, object]] = []
    steps = []
    while (found := ladder.next_rung(config, taken)) is not None:
        rung, changes = found
        steps.append((rung.key, changes))
        rungs.append({"rung": rung.key, "changes": ladder.described(changes, config)})
        config = ladder.apply(config, changes)
        taken.append(rung.key)
    assert ladder.with_rungs(start, rungs) == config  # replayable
    return steps


BASE = {
    "device": "cuda",
    "gradient_checkpointing": False,
    "cache_latents": False,
    "cache_text_encoder_outputs": False,
    "optimizer": "adamw",
    "train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "resolution": 512,
    "bucket_reso_steps": 64,
    "min_bucket_reso": 256,
}


def test_every_rung_in_order_on_a_gpu() -> None:
    steps = _climb(TrainingConfig(**BASE))
    assert steps == [
        ("gradient_checkpointing", {"gradient_checkpointing": True}),
        ("cache", {"cache_latents": True, "cache_text_encoder_outputs": True}),
        ("optimizer_8bit", {"optimizer": "adamw8bit"}),
        ("batch", {"train_batch_size": 2, "gradient_accumulation_steps": 2}),
        ("resolution", {"resolution": 448}),
    ]
    assert ladder.BY_KEY["resolution"].asks
    assert not any(ladder.BY_KEY[key].asks for key, _ in steps[:-1])


def test_rungs_that_change_nothing_or_cannot_apply_are_passed_over() -> None:
    config = TrainingConfig(
        **BASE
        | {
            "device": "cpu",
            "gradient_checkpointing": True,
            "cache_latents": True,
            "cache_text_encoder_outputs": True,
            "train_batch_size": 1,
        }
    )
    # On a CPU no 8-bit optimizer (bitsandbytes needs CUDA); batch 1 cannot be halved.
    assert [key for key, _ in _climb(config)] == ["resolution"]


def test_after_the_last_rung_the_run_stops_with_a_diagnosis() -> None:
    config = TrainingConfig(
        **BASE | {"resolution": 64, "min_bucket_reso": 64, "train_batch_size": 1}
    )
    taken = [key for key, _ in _climb(config)]
    assert ladder.next_rung(config, [*taken, "resolution"]) is None
    words = ladder.diagnosis(config, [{"title": r.title} for r in ladder.RUNGS[:2]])
    assert "gradient checkpointing on" in words and "Lower the network rank" in words
