"""A trainer's output as the run supervisor reads it: the splitter against the ways a
pipe cuts output, the parser against each backend's real lines, and every external
backend × every scenario run for real (its fake clone started by loragate's own launch
script, the bytes it writes fed through the splitter and the parser)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from app.training.backends import RunPlan, generate, write_files
from app.training.trainer_output import (
    Failure,
    Finished,
    LineSplitter,
    Progress,
    Sample,
    Saved,
    TrainerEvent,
    parse_line,
    split_output,
)
from tests.training.backends.conftest import PlanFactory, make_run  # noqa: F401
from tests.training.fake_backends import fake_backend_env, install_fake_backend
from tests.training.fake_backends.clone.fake_trainer import SCENARIOS, loss_at

STEPS = 6  # the step count a dry run lowers the real count to
SAVE_EVERY = 2
SAMPLE_EVERY = 3
HANG_TIMEOUT_S = 2.0

# The splitter ------------------------------------------------------------------------


def test_tqdm_redraws_split_on_carriage_returns_however_the_pipe_cuts_them() -> None:
    raw = (
        "\rsteps:   0%|          | 0/3 [00:00<?, ?it/s]"
        "\rsteps:  33%|███▎      | 1/3 [00:01<00:02,  1.05s/it, avr_loss=0.3]"
        "\x1b[A\x1b[2K\rsteps:  67%|██████▋   | 2/3 [00:02<00:01,  1.02s/it, avr_loss=0.25]\r\n"
        "\x1b[32msaving checkpoint: /out/ink-step00000002.safetensors\x1b[0m\n"
    ).encode() + b"loss \xff bad byte\nno newline at the end"
    whole = split_output(raw)
    assert whole == [
        "steps:   0%|          | 0/3 [00:00<?, ?it/s]",
        "steps:  33%|███▎      | 1/3 [00:01<00:02,  1.05s/it, avr_loss=0.3]",
        "steps:  67%|██████▋   | 2/3 [00:02<00:01,  1.02s/it, avr_loss=0.25]",
        "saving checkpoint: /out/ink-step00000002.safetensors",
        "loss \ufffd bad byte",
        "no newline at the end",
    ]
    # Every place a read can end: inside "\r\n", inside "█" (3 bytes in UTF-8), inside
    # an escape code.
    for cut in range(1, len(raw)):
        splitter = LineSplitter()
        lines = splitter.feed(raw[:cut]) + splitter.feed(raw[cut:]) + splitter.close()
        assert lines == whole, cut
    rng = random.Random(5)
    splitter, lines, at = LineSplitter(), [], 0
    while at < len(raw):
        size = rng.randint(1, 7)
        lines += splitter.feed(raw[at : at + size])
        at += size
    assert lines + splitter.close() == whole


def test_a_line_that_never_ends_is_cut_rather_than_kept_forever() -> None:
    splitter = LineSplitter()
    lines: list[str] = []
    for _ in range(100):
        lines += splitter.feed(b"x" * 1000)
    assert lines and all(len(line) <= 70_000 for line in lines)
    assert sum(map(len, lines + splitter.close())) == 100_000


# The parser on real lines ------------------------------------------------------------


def test_kohya_bar_and_lines() -> None:
    bar = "steps:  40%|████      | 4/10 [00:08<00:12,  2.05s/it, avr_loss=0.0923]"
    assert parse_line("kohya", bar) == Progress(
        step=4, total=10, smoothed_loss=0.0923, seconds_per_step=2.05, eta_seconds=12.0
    )
    fast = parse_line("kohya", "steps: 100%|██████████| 1600/1600 [1:02:03<00:00,  2.50it/s]")
    assert isinstance(fast, Progress) and fast.seconds_per_step == pytest.approx(0.4)
    # A bar that is not training's: sd-scripts' validation, a model loading bar.
    assert parse_line("kohya", "validation steps: 50%|█  | 1/2 [00:01<00:01,  1.0it/s]") is None
    assert (
        parse_line("kohya", "Loading checkpoint shards: 50%|█  | 1/2 [00:01<00:01, 1.0it/s]")
        is None
    )
    assert parse_line("kohya", "saving checkpoint: /o/ink-step00000200.safetensors") == Saved(
        "/o/ink-step00000200.safetensors", 200
    )
    assert parse_line("kohya", "saving checkpoint: /o/ink.safetensors") == Saved(
        "/o/ink.safetensors"
    )
    rich = "2026-01-01 10:00:00 INFO     model saved.                      train_network.py:1729"
    assert parse_line("kohya", rich) == Finished()
    nan = parse_line("kohya", "steps:  40%|████      | 4/10 [00:08<00:12,  2.05s/it, avr_loss=nan]")
    assert isinstance(nan, Failure) and (nan.kind, nan.step) == ("nan", 4)


def test_simpletuner_and_ai_toolkit_bars() -> None:
    tuner = (
        "Epoch 2/5, Steps:  42%|████▏     | 420/1000 [10:00<13:49,  1.43s/it, lr=5e-5, "
        "step_loss=0.0712]"
    )
    assert parse_line("simpletuner", tuner) == Progress(
        step=420,
        total=1000,
        loss=0.0712,
        lr=5e-5,
        seconds_per_step=1.43,
        eta_seconds=829.0,
        epoch=2,
    )
    toolkit = (
        "ink_wash:  12%|█▏        | 120/1000 [02:00<14:40,  1.00s/it, lr: 1.0e-04 loss: 1.234e-01]"
    )
    assert parse_line("ai-toolkit", toolkit) == Progress(
        step=120, total=1000, loss=0.1234, lr=1e-4, seconds_per_step=1.0, eta_seconds=880.0
    )
    # ai-toolkit's sampling bar has no training postfix.
    assert (
        parse_line("ai-toolkit", "Generating Images:  50%|█  | 1/2 [00:01<00:01, 1.0it/s]") is None
    )
    assert parse_line(
        "ai-toolkit", "Saved checkpoint to /o/ink/ink_000000250.safetensors"
    ) == Saved("/o/ink/ink_000000250.safetensors", 250)
    assert parse_line("ai-toolkit", "Saved checkpoint to /o/ink/ink.safetensors") == Finished(
        "/o/ink/ink.safetensors"
    )


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "oom"),
        ("RuntimeError: CUDA error: out of memory", "oom"),
        ("RuntimeError: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`", "oom"),
        ("[rank0]: torch.OutOfMemoryError: CUDA out of memory.", "oom"),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/m/base.safetensors'",
            "missing_file",
        ),
        (
            "OSError: Error no file named diffusion_pytorch_model.bin found in directory /m",
            "missing_file",
        ),
        ("train_network.py: error: unrecognized arguments: --fp8_base_unet", "bad_argument"),
        ("run.py: error: argument --optimizer: invalid choice: 'adamw9'", "bad_argument"),
        ("ValueError: too many values to unpack (expected 2)", "crash"),
        ("subprocess.CalledProcessError: Command '['python', 'x.py']' returned non-zero", "crash"),
    ],
)
def test_failure_signatures_shared_by_every_backend(line: str, kind: str) -> None:
    for backend in ("kohya", "simpletuner", "ai-toolkit", "native"):
        event = parse_line(backend, line)
        assert isinstance(event, Failure) and event.kind == kind, (backend, event)
        assert event.message == line.removeprefix("[rank0]: ")


def test_failure_signatures_of_one_backend() -> None:
    assert parse_line("ai-toolkit", "loss is nan") == Failure("nan", "loss is nan")
    toolkit_oom = parse_line(
        "ai-toolkit",
        "Error running job: OOM during training step 3 times in a row, aborting training",
    )
    assert isinstance(toolkit_oom, Failure) and toolkit_oom.kind == "oom"
    # Skipping a batch is ai-toolkit recovering, not failing.
    assert parse_line("ai-toolkit", "# OOM during training step, skipping batch 1/3 #") is None
    coloured = "[RANK 0] 2026-01-01 10:00:00,000 [ERROR] Could not parse command line arguments"
    assert parse_line("simpletuner", coloured) == Failure(
        "bad_argument", "Could not parse command line arguments"
    )
    invalid = "voluptuous.error.MultipleInvalid: extra keys not allowed @ data['datasets'][0]['x']"
    assert parse_line("kohya", invalid) == Failure("bad_argument", invalid)


def test_traceback_frames_and_ordinary_lines_are_not_events() -> None:
    for line in (
        "Traceback (most recent call last):",
        '  File "/sd-scripts/train_network.py", line 1480, in train',
        "    except torch.cuda.OutOfMemoryError:",
        "    raise ValueError(f'bad {x}')",
        "running training / 学習開始",
        "epoch 1/10",
        "Error running job: see below",
    ):
        for backend in ("kohya", "simpletuner", "ai-toolkit", "native"):
            assert parse_line(backend, line) is None, (backend, line)


def test_native_events() -> None:
    step = {
        "event": "step",
        "time": 1.0,
        "step": 3,
        "total": 10,
        "epoch": 1,
        "loss": 0.2,
        "smoothed_loss": 0.25,
        "lr": 1e-4,
        "seconds_per_step": 0.5,
        "peak_vram_gb": 6.5,
        "vram_total_gb": 24.0,
    }
    assert parse_line("native", json.dumps(step)) == Progress(
        step=3,
        total=10,
        loss=0.2,
        smoothed_loss=0.25,
        lr=1e-4,
        seconds_per_step=0.5,
        eta_seconds=3.5,
        epoch=1,
        peak_vram_gb=6.5,
    )
    start = {"event": "start", "total": 10, "resumed_from": 4}
    assert parse_line("native", json.dumps(start)) == Progress(step=4, total=10)
    checkpoint = {
        "event": "checkpoint",
        "step": 4,
        "path": "/o/c4",
        "lora_path": "/o/c4/lora.safetensors",
    }
    assert parse_line("native", json.dumps(checkpoint)) == Saved("/o/c4/lora.safetensors", 4)
    sample = {"event": "sample", "step": 4, "index": 0, "prompt": "p", "path": "/o/s.png"}
    assert parse_line("native", json.dumps(sample)) == Sample("/o/s.png", 4)
    error = {"event": "error", "kind": "bad_config", "message": "Choose a folder.", "step": 0}
    assert parse_line("native", json.dumps(error)) == Failure("bad_config", "Choose a folder.", 0)
    done = {"event": "done", "complete": False, "lora_path": "/o/c4/lora.safetensors"}
    assert parse_line("native", json.dumps(done)) == Finished(
        "/o/c4/lora.safetensors", complete=False
    )
    assert parse_line("native", "{not json") is None


def test_an_unknown_backend_is_refused_in_words() -> None:
    with pytest.raises(ValueError, match="Unknown trainer"):
        parse_line("onetrainer", "ValueError: x")


# Every backend × every scenario, for real --------------------------------------------

FILES = {"kohya": "config.toml", "simpletuner": "config.json", "ai-toolkit": "job.yaml"}


def _dry_run_plan(make_run: PlanFactory, clone: Path) -> RunPlan:  # noqa: F811
    """A plan whose steps are lowered as the dry run lowers them."""
    run = make_run("sdxl")
    config = run.config.model_copy(
        update={
            "max_train_steps": STEPS,
            "save_every_n_steps": SAVE_EVERY,
            "sample_every_n_steps": SAMPLE_EVERY,
        }
    )
    return replace(run, config=config, trainer_dir=str(clone))


def _launch(
    backend: str,
    scenario: dict[str, object],
    tmp_path: Path,
    make_run: PlanFactory,  # noqa: F811
) -> tuple[RunPlan, subprocess.CompletedProcess[bytes] | None, list[TrainerEvent]]:
    clone = install_fake_backend(tmp_path / f"{backend}-clone", backend, scenario)
    run = _dry_run_plan(make_run, clone)
    write_files(run.files_dir, generate(backend, run))
    env = fake_backend_env(clone, SIMPLETUNER_LOG_LEVEL="INFO")
    process = subprocess.Popen(
        ["bash", str(run.files_dir / "launch.sh")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as the supervisor starts a run
    )
    try:
        output, _ = process.communicate(
            timeout=HANG_TIMEOUT_S if scenario["scenario"] == "hang" else 60
        )
        done = subprocess.CompletedProcess(process.args, process.returncode, output)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # bash and the trainer it started
        output, _ = process.communicate()
        done = None
    splitter, events = LineSplitter(), []
    for at in range(0, len(output), 97):  # reads that end anywhere, as a pipe's do
        for line in splitter.feed(output[at : at + 97]):
            event = parse_line(backend, line)
            if event is not None:
                events.append(event)
    events += [e for e in map(lambda line: parse_line(backend, line), splitter.close()) if e]
    return run, done, events


def _of(events: list[TrainerEvent], kind: type) -> list:  # type: ignore[type-arg]
    return [event for event in events if isinstance(event, kind)]


def _last_step(events: list[TrainerEvent]) -> int:
    return max((e.step for e in _of(events, Progress)), default=0)


BACKENDS = ("kohya", "simpletuner", "ai-toolkit")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_backend_in_every_scenario(
    backend: str,
    scenario: str,
    tmp_path: Path,
    make_run: PlanFactory,  # noqa: F811
) -> None:
    k = 4
    run, done, events = _launch(backend, {"scenario": scenario, "step": k}, tmp_path, make_run)
    output = Path(run.output_dir)
    failures = _of(events, Failure)
    finished = _of(events, Finished)
    progress = _of(events, Progress)
    if progress:
        assert {p.total for p in progress} == {STEPS}  # the lowered count reached the trainer
        steps = [p.step for p in progress]
        assert steps == sorted(steps)  # never back
    if scenario in ("ok", "exit1_after_complete"):
        assert done is not None and done.returncode == (0 if scenario == "ok" else 1)
        assert _last_step(events) == STEPS and not failures and len(finished) == 1
        losses = [p.loss for p in progress if p.loss is not None]
        smoothed = [p.smoothed_loss for p in progress if p.smoothed_loss is not None]
        assert losses or smoothed
        if losses:  # SimpleTuner and ai-toolkit print the step's loss, sd-scripts an average
            assert losses[-1] == pytest.approx(loss_at(STEPS), rel=1e-2)  # 3 digits shown
        else:
            mean = sum(map(loss_at, range(1, STEPS + 1))) / STEPS
            assert smoothed[-1] == pytest.approx(mean, rel=1e-2)
        # The LoRA lands in the output folder loragate gave, under the trainer's own name.
        final = {
            "kohya": output / "mira.safetensors",
            "simpletuner": output / "pytorch_lora_weights.safetensors",
            "ai-toolkit": output / "mira" / "mira.safetensors",
        }[backend]
        assert final.stat().st_size > 100
        saved = [s.step for s in _of(events, Saved) if s.step is not None]
        if backend != "simpletuner":  # SimpleTuner names no checkpoint on its console
            assert saved == list(range(SAVE_EVERY, STEPS, SAVE_EVERY))
    elif scenario == "oom_at_step":
        assert done is not None and done.returncode == 1
        assert failures[0].kind == "oom" and _last_step(events) == k - 1
        assert not finished
    elif scenario == "nan_at_step":
        # None of the three stops: loragate must. The first NaN is in the output.
        assert failures and failures[0].kind == "nan"
        if backend != "ai-toolkit":
            assert failures[0].step == k
        assert _last_step(events) >= k - 1
    elif scenario == "missing_file":
        assert done is not None and done.returncode == 1 and not progress
        assert failures[0].kind == "missing_file"
        assert str(run.base_model) in failures[0].message
    elif scenario == "bad_argument":
        assert done is not None and done.returncode == 2 and not progress
        assert [f.kind for f in failures] == ["bad_argument"]
    elif scenario == "crash_mid_checkpoint":
        assert done is not None and done.returncode == 1 and not finished
        assert failures[0].kind == "crash" and "No space left on device" in failures[0].message
        assert _last_step(events) == SAVE_EVERY
    elif scenario == "hang":
        assert done is None  # killed by the timeout
        assert _last_step(events) == k - 1 and not failures and not finished
    elif scenario in ("lora_missing", "lora_cut_off"):
        # Everything printed says it saved and completed, and the exit status is 0: only
        # the file itself shows the problem (the supervisor's load check).
        assert done is not None and done.returncode == 0 and not failures
        assert _last_step(events) == STEPS and len(finished) + len(_of(events, Saved)) >= 1


def test_the_first_failure_names_the_cause(tmp_path: Path, make_run: PlanFactory) -> None:  # noqa: F811
    """ai-toolkit and SimpleTuner say an out-of-memory error more than once (a log line,
    then the traceback): every Failure they print is the same kind."""
    for backend in ("simpletuner", "ai-toolkit"):
        _, _, events = _launch(
            backend, {"scenario": "oom_at_step", "step": 2}, tmp_path / backend, make_run
        )
        kinds = {f.kind for f in _of(events, Failure)}
        assert kinds == {"oom"}, backend


def test_an_infinite_loss_is_a_failure_not_a_point_on_the_chart() -> None:
    line = "Epoch 1/1, Steps:  50%|█  | 3/6 [00:03<00:03,  1.00s/it, lr=1e-4, step_loss=inf]"
    assert parse_line("simpletuner", line) == Failure("nan", "The loss became inf by step 3.", 3)
