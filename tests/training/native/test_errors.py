"""Failures stop the run with a kind the supervisor acts on and words an artist reads:
a non-finite loss names its step and images, an out-of-memory error carries the
settings in force, a job that cannot run is refused before any model loads."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.training.job import BaseModelRef
from app.training.native import trainer as trainer_module
from app.training.native.errors import TrainingError, classify, is_out_of_memory
from app.training.native.events import ProgressWriter
from app.training.native.jobfile import load_job
from app.training.native.trainer import INJECT_OOM_VARIABLE, Trainer
from app.training.trainer_output import (
    Failure,
    Finished,
    Progress,
    TrainerEvent,
    parse_line,
    split_output,
)
from tests.training.native.conftest import MakeJob
from tests.training.native.process import run_trainer


def _train_expecting_error(job) -> tuple[TrainingError, list[dict]]:  # type: ignore[no-untyped-def]
    events = ProgressWriter(io.StringIO())
    with pytest.raises(TrainingError) as caught:
        Trainer(job, events).train()
    assert events.events[-1]["event"] == "error"
    assert events.events[-1]["kind"] == caught.value.kind
    return caught.value, events.events


@pytest.mark.slow
def test_absurd_learning_rate_stops_at_the_first_nan(
    make_job: MakeJob, sd15_ref: BaseModelRef
) -> None:
    job = make_job(sd15_ref, max_train_steps=6)
    # TrainingConfig refuses rates above 10 (the form and training.json cannot hold
    # this): set past validation, 1e8 stands in for any run that diverges (an fp16
    # overflow, a broken image), which the trainer must stop at the first NaN.
    job = job.model_copy(update={"config": job.config.model_copy(update={"unet_lr": 1e8})})
    error, events = _train_expecting_error(job)
    assert error.kind == "nan"
    failed_step = error.details["step"]
    steps_done = [e["step"] for e in events if e["event"] == "step"]
    assert steps_done == list(range(1, failed_step))  # not one step more
    assert f"at step {failed_step}" in error.message
    images = error.details["images"]
    assert images and all(name.startswith("2_ink/") and name in error.message for name in images)
    assert not list(Path(job.output_dir).glob("*.safetensors"))  # no poisoned LoRA saved


@pytest.mark.slow
def test_a_lora_that_changes_nothing_is_reported(make_job: MakeJob, sd15_ref: BaseModelRef) -> None:
    error, _ = _train_expecting_error(make_job(sd15_ref, unet_lr=1e-30, max_train_steps=2))
    assert error.kind == "bad_config"
    assert "changes nothing" in error.message


@pytest.mark.slow
def test_out_of_memory_in_a_step_reports_the_settings(
    make_job: MakeJob, sd15_ref: BaseModelRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection at the one boundary this machine lacks (a GPU): the UNet's
    forward raises the exception CUDA raises, inside a real training step."""
    job = make_job(sd15_ref, max_train_steps=4, train_batch_size=2, gradient_checkpointing=True)
    trainer = Trainer(job, ProgressWriter(io.StringIO()))
    real_prepare = trainer_module.prepare

    def prepare_with_a_full_gpu(job, cluster):  # type: ignore[no-untyped-def]
        run = real_prepare(job, cluster)
        calls = {"n": 0}

        def allocate(module, args):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == 2:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        run.model.unet.register_forward_pre_hook(allocate)
        return run

    monkeypatch.setattr(trainer_module, "prepare", prepare_with_a_full_gpu)
    with pytest.raises(TrainingError) as caught:
        trainer.train()
    error = trainer.events.events[-1]
    assert caught.value.kind == "oom" and error["kind"] == "oom"
    assert error["step"] == 1
    assert error["details"]["train_batch_size"] == 2
    assert error["details"]["gradient_checkpointing"] is True
    assert "Tried to allocate 2.00 GiB" in error["details"]["error"]
    assert "batch size" in error["message"]


@pytest.mark.parametrize(
    "exc",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB"),
        RuntimeError(
            "CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported"
        ),
        RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
    ],
)
def test_cuda_allocation_failures_are_oom(exc: Exception) -> None:
    assert is_out_of_memory(exc)
    assert classify(exc).kind == "oom"


def test_other_failures_keep_their_kind() -> None:
    assert classify(RuntimeError("mat1 and mat2 shapes cannot be multiplied")).kind == "crash"
    assert (
        classify(FileNotFoundError(2, "No such file", "/data/1_ink/a.png")).kind == "missing_file"
    )
    crash = classify(ValueError("boom"))
    assert crash.kind == "crash" and "ValueError: boom" in crash.message


def _write(path: Path, job) -> Path:  # type: ignore[no-untyped-def]
    path.write_text(job.model_dump_json(), "utf-8")
    return path


def test_refusals_before_any_model_loads(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    def refused(job) -> TrainingError:  # type: ignore[no-untyped-def]
        with pytest.raises(TrainingError) as caught:
            load_job(_write(tmp_path / "job.json", job))
        return caught.value

    flux = refused(make_job(BaseModelRef(path=sd15_ref.path, family="flux")))
    assert flux.kind == "bad_config" and "not supported yet" in flux.message

    pickle = tmp_path / "model.ckpt"
    pickle.write_bytes(b"not really")
    unsafe = refused(make_job(BaseModelRef(path=str(pickle), family="sd15")))
    assert unsafe.kind == "bad_config" and ".safetensors" in unsafe.message

    missing = refused(
        make_job(BaseModelRef(path=str(tmp_path / "gone.safetensors"), family="sd15"))
    )
    assert missing.kind == "missing_file" and "gone.safetensors" in missing.message

    no_data = make_job(sd15_ref).model_copy(update={"dataset_dir": str(tmp_path / "nothing")})
    assert refused(no_data).kind == "missing_file"

    (tmp_path / "broken.json").write_text("{not json", "utf-8")
    with pytest.raises(TrainingError) as caught:
        load_job(tmp_path / "broken.json")
    assert caught.value.kind == "bad_config"

    data = json.loads(make_job(sd15_ref).model_dump_json())
    data["config"]["learning_rate"] = 1e-4  # a misspelt key is not silently ignored
    (tmp_path / "typo.json").write_text(json.dumps(data), "utf-8")
    with pytest.raises(TrainingError) as caught:
        load_job(tmp_path / "typo.json")
    assert caught.value.kind == "bad_config" and "learning_rate" in caught.value.message


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_on_a_machine_without_it(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    with pytest.raises(TrainingError) as caught:
        load_job(_write(tmp_path / "job.json", make_job(sd15_ref, device="cuda")))
    assert caught.value.kind == "bad_config" and "CUDA" in caught.value.message


def test_8bit_optimizer_on_the_cpu_says_it_needs_a_gpu_not_a_package(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    """Installing bitsandbytes would not make a CPU run possible: the GPU comes first."""
    with pytest.raises(TrainingError) as caught:
        load_job(_write(tmp_path / "job.json", make_job(sd15_ref, optimizer="adamw8bit")))
    assert caught.value.kind == "bad_config"
    assert "needs a CUDA GPU" in caught.value.message and "cpu" in caught.value.message
    assert "pip install" not in caught.value.message


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is not None or not torch.cuda.is_available(),
    reason="needs a CUDA GPU without bitsandbytes",
)
def test_8bit_optimizer_without_bitsandbytes_says_how_to_install(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    job = make_job(sd15_ref, optimizer="adamw8bit", device="cuda", mixed_precision="fp16")
    with pytest.raises(TrainingError) as caught:
        load_job(_write(tmp_path / "job.json", job))
    assert caught.value.kind == "bad_config"
    assert "pip install bitsandbytes" in caught.value.message


@pytest.mark.parametrize(
    ("optimizer", "module", "package"),
    [("prodigy", "prodigyopt", "prodigyopt"), ("lion", "lion_pytorch", "lion-pytorch")],
)
def test_an_optimizer_of_the_optimizers_extra_missing_says_how_to_install(
    make_job: MakeJob,
    sd15_ref: BaseModelRef,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    optimizer: str,
    module: str,
    package: str,
) -> None:
    """`make run` leaves loragate[optimizers] out: the job is refused before any model
    loads, with the command (None in sys.modules: the module cannot be imported)."""
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(TrainingError) as caught:
        load_job(_write(tmp_path / "job.json", make_job(sd15_ref, optimizer=optimizer)))
    assert caught.value.kind == "bad_config"
    assert f"{sys.executable} -m pip install {package}" in caught.value.message


def test_an_earlier_runs_checkpoints_are_not_overwritten(
    make_job: MakeJob, sd15_ref: BaseModelRef
) -> None:
    job = make_job(sd15_ref)
    earlier = Path(job.output_dir) / "checkpoints" / "step-00000004"
    earlier.mkdir(parents=True)
    (earlier / "COMPLETE").write_text("step 4\n")
    error, _ = _train_expecting_error(job)
    assert error.kind == "bad_config" and "Resume it" in error.message
    assert (earlier / "COMPLETE").is_file()


def test_an_unreadable_image_is_named(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    dataset = tmp_path / "data" / "3_ink"
    dataset.mkdir(parents=True)
    (dataset / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    job = make_job(sd15_ref).model_copy(update={"dataset_dir": str(tmp_path / "data")})
    error, _ = _train_expecting_error(job)
    assert error.kind == "missing_file" and "torn.png" in error.message


def test_non_finite_numbers_in_a_job_file_are_refused_by_name(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    """Python's JSON reader takes Infinity and NaN; an old job file may hold them."""
    data = json.loads(make_job(sd15_ref).model_dump_json())
    data["config"]["unet_lr"] = float("inf")
    data["config"]["noise_offset"] = float("nan")
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(data), "utf-8")  # writes Infinity and NaN
    assert "Infinity" in job_file.read_text()
    with pytest.raises(TrainingError) as caught:
        load_job(job_file)
    assert caught.value.kind == "bad_config"
    assert "config.unet_lr" in caught.value.message
    assert "config.noise_offset" in caught.value.message
    assert "not finite" in caught.value.message


def test_an_output_folder_that_cannot_be_written_is_a_setting_not_a_crash(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    job = make_job(sd15_ref).model_copy(update={"output_dir": str(blocker / "out")})
    trainer = Trainer(job, ProgressWriter(io.StringIO()))
    with pytest.raises(TrainingError) as caught:
        trainer.train()
    assert caught.value.kind == "bad_config"
    assert f"cannot write to the output folder {blocker / 'out'}" in caught.value.message
    assert trainer.run is None  # refused before the model was loaded


def test_an_earlier_runs_finished_lora_is_not_overwritten(
    make_job: MakeJob, sd15_ref: BaseModelRef
) -> None:
    job = make_job(sd15_ref)
    finished = Path(job.output_dir) / "ink-wash.safetensors"
    finished.parent.mkdir(parents=True)
    finished.write_bytes(b"an earlier run's LoRA")
    error, _ = _train_expecting_error(job)
    assert error.kind == "bad_config" and "ink-wash.safetensors already exists" in error.message
    assert finished.read_bytes() == b"an earlier run's LoRA"


def test_a_truncated_image_stops_the_run_before_the_model_loads(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    """Its header is intact, so only decoding the whole image finds the damage."""
    folder = tmp_path / "data" / "2_ink"
    folder.mkdir(parents=True)
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for name in ("fine.png", "cut.png"):
        Image.fromarray(noise).save(folder / name)
    cut = folder / "cut.png"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    with Image.open(cut) as header_only:
        assert header_only.size == (64, 64)
    job = make_job(sd15_ref).model_copy(update={"dataset_dir": str(tmp_path / "data")})
    trainer = Trainer(job, ProgressWriter(io.StringIO()))
    with pytest.raises(TrainingError) as caught:
        trainer.train()
    assert caught.value.kind == "missing_file"
    assert "2_ink/cut.png" in caught.value.message and "fine.png" not in caught.value.message
    assert trainer.run is None


@pytest.mark.slow
def test_the_test_only_oom_switch_fails_without_gradient_checkpointing_only(
    make_job: MakeJob, sd15_ref: BaseModelRef, tmp_path: Path
) -> None:
    """LORAGATE_TEST_INJECT_OOM_AT_STEP (test-only) stands in for a config that fits only
    with gradient checkpointing: the trainer, run as the supervisor runs it, reports the
    normal out-of-memory error at that step, and the same job with the OOM ladder's
    first rung (gradient checkpointing on) trains to the end."""
    env = dict(os.environ) | {INJECT_OOM_VARIABLE: "2"}
    events: dict[bool, list[TrainerEvent]] = {}
    logs: dict[bool, str] = {}
    for checkpointing in (False, True):
        job = make_job(sd15_ref, max_train_steps=3, gradient_checkpointing=checkpointing)
        process = run_trainer(job, tmp_path / f"job-{checkpointing}.json", env=env)
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == (0 if checkpointing else 1), stderr[-3000:]
        parsed = [parse_line("native", line) for line in split_output(stdout)]
        events[checkpointing] = [event for event in parsed if event is not None]
        logs[checkpointing] = stderr

    failing = events[False]
    assert [e.step for e in failing if isinstance(e, Progress)] == [0, 1]  # start, step 1
    failure = failing[-1]
    assert isinstance(failure, Failure) and failure.kind == "oom" and failure.step == 1
    assert "out of memory" in failure.message
    assert "Traceback" not in logs[False]  # a reported failure, not a crash

    fitted = events[True]
    assert [e.step for e in fitted if isinstance(e, Progress)] == [0, 1, 2, 3]
    assert isinstance(fitted[-1], Finished) and not any(isinstance(e, Failure) for e in fitted)
