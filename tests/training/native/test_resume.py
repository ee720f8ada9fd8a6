"""Checkpoints resume exactly: 10 steps straight equal 5 steps, a resume and 5 more;
a half-written checkpoint is ignored; a trainer killed (SIGKILL) in the middle of
writing one resumes from the previous complete one, which rotation had kept."""

from __future__ import annotations

import io
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from app.training.job import BaseModelRef, NativeJob
from app.training.native.checkpoint import MARKER, complete_checkpoints
from app.training.native.events import ProgressWriter
from app.training.native.trainer import Trainer
from tests.training.native.conftest import MakeJob
from tests.training.native.process import parse_events, run_trainer

pytestmark = pytest.mark.slow

# Everything that draws random numbers or carries state across steps is on: caption
# shuffle and dropout, noise offset, min-SNR, accumulation, warmup + cosine, text
# encoder training, an epoch boundary (4 steps per epoch) and a resume mid-epoch.
RESUME_CONFIG: dict[str, Any] = {
    "max_train_steps": 10,
    "gradient_accumulation_steps": 2,
    "shuffle_caption": True,
    "caption_dropout_rate": 0.2,
    "noise_offset": 0.05,
    "min_snr_gamma": 5.0,
    "lr_scheduler": "cosine",
    "lr_warmup_steps": 2,
    "train_text_encoder": True,
}


def _train(job: NativeJob) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    events = ProgressWriter(io.StringIO())
    lora = Trainer(job, events).train()
    return load_file(lora), events.events


def _losses(events: list[dict[str, Any]]) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


@pytest.fixture(scope="module")
def straight(
    sd15_ref: BaseModelRef, job_at: MakeJob, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, torch.Tensor], dict[int, float]]:
    weights, events = _train(job_at(sd15_ref, tmp_path_factory.mktemp("straight"), **RESUME_CONFIG))
    return weights, _losses(events)


def _assert_same(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-6, msg=key)


def test_five_resume_five_equals_ten_straight(
    straight, sd15_ref: BaseModelRef, make_job: MakeJob
) -> None:  # type: ignore[no-untyped-def]
    first = make_job(sd15_ref, job={"stop_after_steps": 5}, **RESUME_CONFIG)
    _, events = _train(first)
    done = events[-1]
    assert done["event"] == "done" and done["complete"] is False and done["step"] == 5
    assert [p.name for p in complete_checkpoints(Path(first.output_dir) / "checkpoints")] == [
        "step-00000005"
    ]

    resumed_job = first.model_copy(update={"stop_after_steps": None, "resume": True})
    weights, resumed_events = _train(resumed_job)
    start = next(e for e in resumed_events if e["event"] == "start")
    assert start["resumed_from"] == 5
    expected_weights, expected_losses = straight
    _assert_same(weights, expected_weights)
    # The loss curve continues where it stopped, step for step.
    resumed_losses = _losses(resumed_events)
    assert sorted(resumed_losses) == [6, 7, 8, 9, 10]
    for step, loss in resumed_losses.items():
        assert loss == pytest.approx(expected_losses[step], abs=1e-6)


def test_half_written_checkpoints_are_ignored(
    straight, sd15_ref: BaseModelRef, make_job: MakeJob
) -> None:  # type: ignore[no-untyped-def]
    first = make_job(sd15_ref, job={"stop_after_steps": 6}, save_every_n_steps=3, **RESUME_CONFIG)
    _train(first)
    root = Path(first.output_dir) / "checkpoints"
    assert [p.name for p in complete_checkpoints(root)] == ["step-00000003", "step-00000006"]
    # Step 6 lost its marker (killed while renaming), and a later save died half-way.
    (root / "step-00000006" / MARKER).unlink()
    partial = root / "step-00000009.tmp"
    partial.mkdir()
    (partial / "adapter.safetensors").write_bytes(b"half a file")

    weights, events = _train(first.model_copy(update={"stop_after_steps": None, "resume": True}))
    assert next(e for e in events if e["event"] == "start")["resumed_from"] == 3
    _assert_same(weights, straight[0])
    assert not partial.exists()  # rotation cleared the leftover once a save completed


def test_killed_mid_checkpoint_resumes_from_the_previous_one(
    straight,
    sd15_ref: BaseModelRef,
    make_job: MakeJob,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    job = make_job(sd15_ref, save_every_n_steps=2, save_last_n=1, **RESUME_CONFIG)
    root = Path(job.output_dir) / "checkpoints"
    killed = root / "step-00000004.tmp"
    # The trainer SIGKILLs itself right before the marker of step 4 (see the script).
    process = run_trainer(
        job, tmp_path / "job.json", entry=("-m", "tests.training.native.die_before_marker", "4")
    )
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == -signal.SIGKILL, stderr[-2000:]
    events = parse_events(stdout)
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [2]
    # Every file of step 4 is written; its completion marker is not.
    assert (killed / "lora.safetensors").is_file() and not (killed / MARKER).exists()
    assert [p.name for p in complete_checkpoints(root)] == ["step-00000002"]  # not rotated away

    weights, events = _train(job.model_copy(update={"resume": True}))
    assert next(e for e in events if e["event"] == "start")["resumed_from"] == 2
    _assert_same(weights, straight[0])
    assert [p.name for p in complete_checkpoints(root)] == ["step-00000008"]
    assert not killed.exists()
