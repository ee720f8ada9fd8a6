"""OOM relaunches and Resume on the external backends continue from the newest complete
checkpoint, through the supervisor and fake clones that write their state the real way
(tests/training/fake_backends): sd-scripts' ``save_state`` folders, SimpleTuner's
guarded ``checkpoint-N``, ai-toolkit's step files. The step count runs on without a gap
or a duplicate; a checkpoint cut off mid-save is skipped; a run killed mid-training and
resumed continues from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from app.models import Run
from app.runs.records import get_run, run_dir
from app.runs.start import resume_run, start_training
from app.worker import Worker
from app.workspace import ProjectContext, Workspace
from tests.runs.fake_trainers import use_fake_trainer
from tests.runs.project import training_project
from tests.runs.test_backends import BACKENDS
from tests.worker.conftest import read_job, stored_events, wait_for

TOTAL = 6  # 4 images, batch 2: 2 steps an epoch, 3 epochs; a checkpoint every 2 steps
# What each trainer prints when it continues from a checkpoint, and which one.
RESUMED = {
    "kohya": "load train state from {folder}/states/step-{step:08d}/train_state.json",
    "simpletuner": "Resuming from checkpoint {folder}/checkpoint-{step}",
    "ai-toolkit": "RESUMING FROM {folder}/ink-wash/ink-wash_{step:09d}.safetensors",
}


def _project(
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    backend: str,
    scenario: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> ProjectContext:
    use_fake_trainer(workspace, backend, tmp_path / "clone", scenario, monkeypatch)
    return training_project(
        workspace, tiny_sd15, backend=backend, family="sdxl", device="cuda", resolution=128
    )


def _events(workspace: Workspace, run: Run, kind: str) -> list[dict[str, object]]:
    return [
        json.loads(event.data)
        for job_id in run.job_ids
        for event in stored_events(workspace, job_id)
        if event.type == kind
    ]


def _lines(workspace: Workspace, run: Run) -> str:
    """Every line the run's trainers printed (the jobs' logs keep them all; the line
    events are rate-limited)."""
    return "\n".join(
        Path(read_job(workspace, job_id).log_path or "").read_text() for job_id in run.job_ids
    )


def _finished(ctx: ProjectContext, number: int) -> Run:
    run = get_run(ctx, number)
    assert run is not None
    assert run.state == "finished", run.message
    return run


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("torn", [False, True], ids=["clean", "torn_save"])
def test_an_oom_relaunches_from_the_newest_complete_checkpoint(
    backend: str,
    torn: bool,
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Out of memory at step 5 (while gradient checkpointing is off); with ``torn``, the
    save of step 4 is cut off by it: the relaunch continues from step 4, or from step 2
    past the half-written 4, with gradient checkpointing on, and completes."""
    scenario: dict[str, object] = {
        "scenario": "oom_at_step",
        "step": 5,
        "fixed_by": "gradient_checkpointing",
    }
    if torn:
        scenario["torn_save"] = 4
    ctx = _project(workspace, tiny_sd15, tmp_path, backend, scenario, monkeypatch)
    worker = Worker(workspace)
    run = start_training(ctx, worker)
    worker.wait(run.job_id or 0, 120)
    run = _finished(ctx, run.number)
    checkpoint = 2 if torn else 4
    assert [(r["rung"], r["resumed_from"]) for r in run.rungs] == [
        ("gradient_checkpointing", checkpoint)
    ]
    steps = [event["step"] for event in _events(workspace, run, "step")]
    assert steps == list(range(1, TOTAL + 1))  # no gap, no step twice
    folder = run_dir(ctx, run.number)
    assert RESUMED[backend].format(folder=folder, step=checkpoint) in _lines(workspace, run)
    assert (folder / run.output_files[0]).is_file()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_run_resumes_from_its_checkpoint(
    backend: str,
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run's processes killed after the checkpoint of step 2 (the machine lost them):
    Resume continues from that checkpoint to the end, counting on from where it was."""
    ctx = _project(workspace, tiny_sd15, tmp_path, backend, {"seconds_per_step": 0.4}, monkeypatch)
    worker = Worker(workspace)
    worker.supervisor.start_thread()  # stores the events while the test watches them
    try:
        run = start_training(ctx, worker)
        job_id = run.job_id or 0

        def stored_step() -> int:
            run_now = get_run(ctx, run.number)
            assert run_now is not None
            return max((int(e["step"]) for e in _events(workspace, run_now, "step")), default=0)  # type: ignore[call-overload]

        wait_for(lambda: stored_step() >= 3, 60, "step 3")
        os.killpg(read_job(workspace, job_id).pid or 0, signal.SIGKILL)
        wait_for(lambda: read_job(workspace, job_id).state == "interrupted", 60, "interrupted")
        run = resume_run(ctx, worker, get_run(ctx, run.number))  # type: ignore[arg-type]
        wait_for(lambda: read_job(workspace, run.job_id or 0).state == "done", 120, "the end")
    finally:
        worker.supervisor.stop()
    run = _finished(ctx, run.number)
    folder = run_dir(ctx, run.number)
    assert len(run.job_ids) == 2
    steps = [event["step"] for event in _events(workspace, run, "step")]
    assert steps == list(range(1, TOTAL + 1))
    lines = _lines(workspace, run)
    assert any(RESUMED[backend].format(folder=folder, step=step) in lines for step in (2, 4))
