"""Several processes train one LoRA together (data parallel), as ``accelerate launch``
starts them on several GPUs: here two CPU processes over gloo, started by torchrun.
Only process 0 reports; every process's random streams go into the checkpoint and a
resumed pair continues; the processes' LoRAs agree at every checkpoint (checked by
the trainer itself)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.training.job import BaseModelRef, NativeJob
from app.training.native.checkpoint import complete_checkpoints
from tests.training.native.conftest import MakeJob
from tests.training.native.process import parse_events, run_trainer

pytestmark = pytest.mark.slow


def _torchrun(job: NativeJob, job_file: Path) -> list[dict]:  # type: ignore[type-arg]
    process = run_trainer(job, job_file, processes=2)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    return parse_events(stdout)


def test_two_processes_train_checkpoint_and_resume(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    job = make_job(
        sd15_ref,
        job={"stop_after_steps": 2},
        max_train_steps=4,
        save_every_n_steps=2,
        shuffle_caption=True,
        cache_latents=True,
    )
    events = _torchrun(job, tmp_path / "job.json")
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "step", "step", "checkpoint", "done"]  # process 0 only
    start = events[0]
    assert start["processes"] == 2
    assert start["steps_per_epoch"] == 4  # 8 batches shared by two processes
    (checkpoint,) = complete_checkpoints(Path(job.output_dir) / "checkpoints")
    rng = torch.load(checkpoint / "rng.pt", weights_only=True)
    streams = rng["processes"]
    assert len(streams) == 2 and not torch.equal(streams[0]["noise"], streams[1]["noise"])

    resumed = _torchrun(
        job.model_copy(update={"stop_after_steps": None, "resume": True}), tmp_path / "job2.json"
    )
    assert resumed[0]["resumed_from"] == 2
    assert [e["step"] for e in resumed if e["event"] == "step"] == [3, 4]
    done = resumed[-1]
    assert done["event"] == "done" and done["complete"] and done["verified"]["unmatched_keys"] == 0
