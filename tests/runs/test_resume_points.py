"""Each backend's newest complete checkpoint, read from folders laid out as the trainer
writes them: half-written ones are skipped, and sd-scripts' numbers after a resume
(counted from 0 again) are turned back into the run's without a later save overwriting
an earlier one."""

from __future__ import annotations

import json
from pathlib import Path

from app.runs.resume_points import begin_kohya_launch, launch_offset, newest_resume_point
from tests.training.fake_backends.clone.fake_trainer import write_lora


def _kohya_state(output: Path, counted: int, complete: bool = True) -> Path:
    folder = output / f"ink-step{counted:08d}-state"
    folder.mkdir(parents=True)
    (folder / "train_state.json").write_text(json.dumps({"current_step": counted}))
    (folder / "model.safetensors").write_bytes(b"weights")
    if complete:
        (folder / "random_states_0.pkl").write_bytes(b"rng")  # accelerate writes it last
    return folder


def test_kohya_states_are_kept_under_the_runs_own_steps(tmp_path: Path) -> None:
    _kohya_state(tmp_path, 2)
    half = _kohya_state(tmp_path, 4, complete=False)
    point = newest_resume_point("kohya", tmp_path, "ink", steps_per_epoch=3)
    assert point is not None and point.step == 2 and point.path == tmp_path / "states/step-00000002"
    assert point.offset == 0  # sd-scripts restarts at the start of epoch 1: step 0
    assert half.is_dir() and not (tmp_path / "states/step-00000004").exists()

    # The relaunch resumes at step 2 of 2-step epochs: sd-scripts counts from step 2's
    # epoch start, so its "step 2" is the run's step 4, and it reuses the old name.
    point = newest_resume_point("kohya", tmp_path, "ink", steps_per_epoch=2)
    assert point is not None and point.offset == 2
    begin_kohya_launch(tmp_path, point)
    assert launch_offset(tmp_path) == 2
    (tmp_path / "states/step-00000002/marker").write_text("the run's step 2")
    _kohya_state(tmp_path, 2)
    point = newest_resume_point("kohya", tmp_path, "ink", steps_per_epoch=2)
    assert point is not None and point.step == 4 and point.offset == 4
    assert (tmp_path / "states/step-00000002/marker").read_text() == "the run's step 2"


def test_simpletuner_takes_the_newest_guarded_checkpoint(tmp_path: Path) -> None:
    for step, guarded in ((2, True), (4, False), (10, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if guarded:
            (folder / ".guard").write_text("")
    (tmp_path / "checkpoint-12-tmp").mkdir()  # still being written
    point = newest_resume_point("simpletuner", tmp_path, "ink")
    assert point is not None and point.step == 2 and point.path.name == "checkpoint-2"


def test_ai_toolkit_moves_a_cut_off_save_aside(tmp_path: Path) -> None:
    save_root = tmp_path / "ink"
    write_lora(save_root / "ink_000000002.safetensors", step=2)
    write_lora(save_root / "ink_000000004.safetensors", "cut", step=4)
    point = newest_resume_point("ai-toolkit", tmp_path, "ink")
    assert point is not None and point.step == 2
    assert not (save_root / "ink_000000004.safetensors").exists()
    assert (tmp_path / "damaged" / "ink_000000004.safetensors").is_file()
    assert newest_resume_point("ai-toolkit", tmp_path / "nothing", "ink") is None
