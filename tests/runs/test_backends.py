"""The supervisor on the external backends, through fake clones that print each one's
real progress format and failure signatures (tests/training/fake_backends): every
scenario ends as it must. A clean run finishes with its LoRA checked; an exit 1 after
"complete" is a failure; a NaN stops the run at its step; a missing file or a bad
argument fails in the trainer's words; a crash in the middle of a checkpoint fails; a
trainer that goes silent is stopped as stalled; an exit 0 whose final LoRA is missing or
cut off is a failure; an out-of-memory failure climbs the ladder up to the rung that
needs the artist's answer, and "no" stops it with a diagnosis. Every scenario runs on
every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.runs.records import get_run, run_dir
from app.runs.start import answer_question, start_training
from app.worker import Worker
from app.workspace import Workspace
from tests.runs.fake_trainers import use_fake_trainer
from tests.runs.project import training_project

K = 4
BACKENDS = ("kohya", "simpletuner", "ai-toolkit")
# scenario → (run state, words its message must hold)
EXPECTED = {
    "ok": ("finished", "Finished"),
    "exit1_after_complete": ("failed", "that is not trusted"),
    "nan_at_step": ("failed", "stopped being a number"),
    "missing_file": ("failed", "No such file or directory"),
    "bad_argument": ("failed", "error:"),
    "crash_mid_checkpoint": ("failed", "exited with status"),
    "hang": ("failed", "printed nothing"),
    "oom_at_step": ("waiting", "one resolution step lower"),
    "lora_missing": ("failed", "is not there"),
    "lora_cut_off": ("failed", "cut off"),
}
# Each trainer's own words for the argument it refuses (what the artist must read).
BAD_ARGUMENT = {
    "kohya": "unrecognized arguments: --fp8_base_unet",
    "simpletuner": "invalid choice: 'adamw8bit'",
    "ai-toolkit": "the following arguments are required: config_file_list",
}
CASES = [(backend, scenario) for backend in BACKENDS for scenario in EXPECTED]


@pytest.mark.parametrize(("backend", "scenario"), CASES)
def test_each_scenario_ends_as_it_must(
    backend: str,
    scenario: str,
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario_file = {"scenario": scenario, "step": K}
    use_fake_trainer(workspace, backend, tmp_path / "clone", scenario_file, monkeypatch)
    monkeypatch.setenv("LORAGATE_TRAINING_STALL_SECONDS", "4")
    ctx = training_project(
        workspace, tiny_sd15, backend=backend, family="sdxl", device="cuda", resolution=128
    )
    worker = Worker(workspace)
    run = start_training(ctx, worker)
    worker.wait(run.job_id or 0, 120)
    run = get_run(ctx, run.number)  # type: ignore[assignment]
    assert run is not None
    state, words = EXPECTED[scenario]
    assert run.state == state, run.message
    assert words in run.message, run.message
    if scenario == "missing_file":
        assert str(tiny_sd15) in run.message  # the file it could not find, named
    if scenario == "bad_argument":
        assert BAD_ARGUMENT[backend] in run.message
    if scenario in ("lora_missing", "lora_cut_off"):
        assert run.output_files == [] and "Finished" not in run.message
    if scenario == "ok":
        assert (run_dir(ctx, run.number) / run.output_files[0]).is_file()
        assert run.step == run.total_steps
    if scenario == "oom_at_step":
        # cuda, batch 2, nothing cached: every rung before the resolution one was taken
        assert [r["rung"] for r in run.rungs] == [
            "gradient_checkpointing",
            "cache",
            "optimizer_8bit",
            "batch",
        ]
        run = answer_question(ctx, worker, run, agree=False)
        assert run.state == "failed" and "ran out of memory at every setting" in run.message
    if scenario == "nan_at_step" and backend != "ai-toolkit":  # its "loss is nan" has no step
        assert f"at step {K}" in run.message
    if state == "failed":
        assert run.finished_at is not None
