"""The trainer as the run supervisor sees it: ``python -m app.training.native JOB.json``
in its own process, nothing but JSON lines on stdout, a plain error and exit status 1
when it cannot run, the LoRA, checkpoints and samples on disk when it can.

Progress-line contract (every stdout line is one JSON object with ``event`` and ``time``):
  start      total, steps_per_epoch, epochs, images, samples_per_epoch, resumed_from, device,
             processes
  step       step, total, epoch, loss, smoothed_loss, lr, seconds_per_step, peak_vram_gb, vram_total_gb
  checkpoint step, epoch, path, lora_path, verified{unmatched_keys, changes_output, max_change}
  sample     step, index, prompt, path
  done       step, total, complete, lora_path, verified, seconds, seconds_per_step, peak_vram_gb
  error      kind, message, step, details
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.settings import REPO_ROOT
from app.training.job import BaseModelRef
from app.training.native.checkpoint import MARKER
from tests.training.native.conftest import MakeJob
from tests.training.native.process import parse_events, run_trainer

NUMBER = (int, float)
OPTIONAL_NUMBER = (int, float, type(None))
SCHEMA: dict[str, dict[str, Any]] = {
    "start": {
        "total": int,
        "steps_per_epoch": int,
        "epochs": int,
        "images": int,
        "samples_per_epoch": int,
        "resumed_from": (int, type(None)),
        "device": str,
        "processes": int,
    },
    "step": {
        "step": int,
        "total": int,
        "epoch": int,
        "loss": NUMBER,
        "smoothed_loss": NUMBER,
        "lr": NUMBER,
        "seconds_per_step": NUMBER,
        "peak_vram_gb": OPTIONAL_NUMBER,
        "vram_total_gb": OPTIONAL_NUMBER,
    },
    "checkpoint": {"step": int, "epoch": int, "path": str, "lora_path": str, "verified": dict},
    "sample": {"step": int, "index": int, "prompt": str, "path": str},
    "done": {
        "step": int,
        "total": int,
        "complete": bool,
        "lora_path": str,
        "verified": (dict, type(None)),
        "seconds": NUMBER,
        "seconds_per_step": OPTIONAL_NUMBER,
        "peak_vram_gb": OPTIONAL_NUMBER,
    },
    "error": {"kind": str, "message": str, "step": int, "details": dict},
}


def _check_schema(event: dict[str, Any]) -> None:
    fields = SCHEMA[event["event"]]
    assert set(event) == {"event", "time", *fields}, event
    assert isinstance(event["time"], float)
    for name, kinds in fields.items():
        assert isinstance(event[name], kinds), (event["event"], name, event[name])


@pytest.mark.slow
def test_a_run_in_its_own_process(
    make_job: MakeJob, sdxl_single: BaseModelRef, tmp_path: Path
) -> None:
    """With Prodigy, whose package prints "Using decoupled weight decay" to stdout when
    the optimizer is built: stdout must still hold nothing but JSON lines."""
    job = make_job(
        sdxl_single,
        optimizer="prodigy",
        unet_lr=1.0,
        job={"sample_steps": 2},
        max_train_steps=4,
        save_every_n_steps=2,
        sample_prompts=["zkstyle, a heron in the mist"],
        sample_every_n_steps=2,
        cache_latents=True,
    )
    process = run_trainer(job, tmp_path / "job.json")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    events = parse_events(stdout)  # fails on any line that is not JSON
    assert "Using decoupled weight decay" in stderr
    for event in events:
        _check_schema(event)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3, 4]
    assert all(e["peak_vram_gb"] is None for e in events if e["event"] == "step")  # CPU

    (checkpoint,) = [e for e in events if e["event"] == "checkpoint"]
    assert checkpoint["step"] == 2
    assert (
        checkpoint["verified"]["unmatched_keys"] == 0 and checkpoint["verified"]["changes_output"]
    )
    assert (Path(checkpoint["path"]) / MARKER).is_file()

    samples = [e for e in events if e["event"] == "sample"]
    assert [s["step"] for s in samples] == [2, 4]
    for sample in samples:
        with Image.open(sample["path"]) as image:
            assert image.size == (64, 64)

    done = events[-1]
    assert done["complete"] and done["verified"]["unmatched_keys"] == 0
    assert Path(done["lora_path"]) == Path(job.output_dir) / "ink-wash.safetensors"
    assert Path(done["lora_path"]).is_file()
    assert "Traceback" not in stderr and "[loragate native]" in stderr


def test_a_job_that_cannot_run_exits_1_with_one_plain_error(
    make_job: MakeJob, tmp_path: Path
) -> None:
    job = make_job(BaseModelRef(path=str(tmp_path / "missing.safetensors"), family="sdxl"))
    process = run_trainer(job, tmp_path / "job.json")
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    (error,) = parse_events(stdout)
    _check_schema(error)
    assert error["kind"] == "missing_file" and "missing.safetensors" in error["message"]
    assert "Traceback" not in stderr


def test_wrong_usage_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.training.native"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_usage_instead_of_reading_a_job_file(flag: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.training.native", flag],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m app.training.native JOB.json")
    assert "accelerate launch" in result.stdout
    assert "missing_file" not in result.stdout and result.stderr == ""


def test_stdout_is_claimed_for_events_even_against_native_writes() -> None:
    """Python prints and writes to file descriptor 1 (what a C extension does) both
    land on stderr once the trainer has claimed stdout."""
    script = (
        "import os\n"
        "from app.training.native.events import ProgressWriter, claim_stdout\n"
        "events = ProgressWriter(claim_stdout())\n"
        "os.write(1, b'written to descriptor 1\\n')\n"
        "print('printed by a library')\n"
        "events.emit('done', step=1)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    (event,) = parse_events(result.stdout)
    assert event["event"] == "done"
    assert "written to descriptor 1" in result.stderr and "printed by a library" in result.stderr
