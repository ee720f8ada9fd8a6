"""Gate 4 with an external trainer, through the real worker: the project's real
``launch.sh`` for kohya sd-scripts, SimpleTuner or ai-toolkit runs a stand-in clone
(tests/training/fake_backends) that prints that trainer's real output and fails in its
real ways. The run is lowered to a few steps, writes only into the scratch folder, is
measured from its progress bar, and each failure blocks with its own finding and the
trainer's last lines."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.gate_records import findings_of
from app.models import Project
from app.workspace import ProjectContext
from tests.dryrun_project import with_backend_folder
from tests.training.dryrun.conftest import RunDry, codes, log_of, measurement
from tests.training.fake_backends import install_fake_backend

pytestmark = pytest.mark.slow

STUDIO_KEYS = {"kohya": "kohya", "simpletuner": "simpletuner", "ai-toolkit": "ai_toolkit"}


# Each fake step sleeps this long: well above how late a loaded machine may read a line.
STEP_SECONDS = 0.2

CloneFor = Callable[[str, dict[str, object]], ProjectContext]


@pytest.fixture
def clone_for(
    dry_ctx: ProjectContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloneFor]:
    """``clone_for(backend, scenario)``: the module's project trains with ``backend``,
    whose stand-in clone (following ``scenario``) is named in studio.md and whose
    commands come first on PATH: the worker's job process inherits this process's
    environment and hands it on to the trainer."""
    studio = dry_ctx.workspace.grimoire_dir / "studio.md"
    original = studio.read_text("utf-8")
    path = os.environ["PATH"]

    def make(backend: str, scenario: dict[str, object]) -> ProjectContext:
        clone = install_fake_backend(tmp_path / "clone", backend, scenario)
        studio.write_text(with_backend_folder(original, STUDIO_KEYS[backend], clone), "utf-8")
        monkeypatch.setenv("PATH", f"{clone / 'bin'}{os.pathsep}{path}")
        return use_backend(dry_ctx, backend)

    yield make
    studio.write_text(original, "utf-8")
    use_backend(dry_ctx, "native")


def use_backend(ctx: ProjectContext, backend: str) -> ProjectContext:
    with ctx.workspace.db.writing() as session:
        project = session.get(Project, ctx.project.id)
        assert project is not None
        project.backend = backend
    ctx.project.backend = backend
    return ctx


def test_a_kohya_dry_run_is_lowered_measured_and_kept_in_scratch(
    clone_for: CloneFor, run_dry: RunDry
) -> None:
    ctx = clone_for("kohya", {"scenario": "ok", "seconds_per_step": STEP_SECONDS})
    real_output = ctx.dir / "output" / "kohya"
    job, record = run_dry(ctx, steps=3)
    assert record.verdict == "pass", (findings_of(record), log_of(job))
    data = measurement(ctx)
    assert data["backend"] == "kohya" and data["steps"] == 3
    # From the progress bar (when each step's line was read), not from the start-up.
    assert data["seconds_per_step"] >= STEP_SECONDS / 2
    assert data["peak_vram_gb"] is None  # no GPU here for NVML to watch

    scratch = ctx.dir / "dryrun" / "scratch"
    config = tomllib.loads((scratch / "files" / "config.toml").read_text("utf-8"))
    assert config["max_train_steps"] == 3  # lowered from the project's real count
    assert config["output_dir"] == str(scratch / "output")
    launch = (scratch / "files" / "launch.sh").read_text("utf-8")
    assert "train_network.py --config_file" in launch and str(scratch / "files") in launch
    # A checkpoint before the end, the final LoRA and a sample: all in the scratch folder.
    written = sorted(p.name for p in (scratch / "output").rglob("*") if p.is_file())
    assert "teapot-step00000002.safetensors" in written and "teapot.safetensors" in written
    assert any(name.endswith(".png") for name in written)
    assert not real_output.exists() or not any(real_output.iterdir())
    # The live log is the trainer's own lines.
    assert "saving checkpoint: " in log_of(job) and "model saved." in log_of(job)


@pytest.mark.parametrize("backend", ["simpletuner", "ai-toolkit"])
def test_simpletuner_and_ai_toolkit_dry_runs_pass(
    backend: str, clone_for: CloneFor, run_dry: RunDry
) -> None:
    """SimpleTuner says it finished only at INFO level: the launch command sets it."""
    ctx = clone_for(backend, {"scenario": "ok", "seconds_per_step": STEP_SECONDS})
    job, record = run_dry(ctx, steps=3)
    assert record.verdict == "pass", (findings_of(record), log_of(job))
    assert measurement(ctx)["seconds_per_step"] >= STEP_SECONDS / 2
    scratch = ctx.dir / "dryrun" / "scratch"
    if backend == "simpletuner":
        assert "Training has completed." in log_of(job)
        config = json.loads((scratch / "files" / "config.json").read_text("utf-8"))
        assert config["--max_train_steps"] == 3
        for key in ("--output_dir", "--logging_dir"):
            assert config[key].startswith(str(scratch)), key
    assert not (ctx.dir / "output" / backend).exists() or not any(
        (ctx.dir / "output" / backend).iterdir()
    )


HANG_TIMEOUT = 5  # seconds: the stand-in starts in well under that, then hangs

FAILURES = [
    ("oom_at_step", "dryrun.oom", "CUDA out of memory"),
    ("nan_at_step", "dryrun.nan", "The loss became nan"),
    ("missing_file", "dryrun.missing_file", "No such file or directory"),
    ("bad_argument", "dryrun.bad_argument", "unrecognized arguments: --fp8_base_unet"),
    ("hang", "dryrun.timeout", "did not finish"),
    ("exit1_after_complete", "dryrun.crash", "after saying it had finished"),
    ("crash_mid_checkpoint", "dryrun.crash", "No space left on device"),
]


@pytest.mark.parametrize(("scenario", "code", "words"), FAILURES)
def test_each_kohya_failure_blocks_with_its_finding(
    scenario: str, code: str, words: str, clone_for: CloneFor, run_dry: RunDry
) -> None:
    ctx = clone_for("kohya", {"scenario": scenario, "step": 2})
    job, record = run_dry(ctx, steps=3, timeout=HANG_TIMEOUT if scenario == "hang" else 300)
    assert codes(record) == [code], (findings_of(record), log_of(job))
    (finding,) = findings_of(record)
    assert words in finding.message and "Traceback" not in finding.message
    assert finding.why and finding.fix and finding.source.startswith("dry-run#")
    assert job.result["log_tail"]  # the trainer's last lines go with the result
    assert job.result["measurement"] is None


# Each trainer exits 0 and says it finished, but leaves out one thing the dry run must
# prove: the checkpoint during training, a sample image, or a file that reads back.
UNPROVEN = [
    ("no_save", "dryrun.no_checkpoint", "without saving a checkpoint"),
    ("no_sample", "dryrun.no_sample", "without drawing a sample image"),
    ("broken_save", "dryrun.checkpoint_unreadable", "cut off"),
]


@pytest.mark.parametrize("backend", ["kohya", "simpletuner", "ai-toolkit"])
@pytest.mark.parametrize(("scenario", "code", "words"), UNPROVEN)
def test_a_trainer_that_exits_0_without_its_save_or_sample_blocks(
    backend: str,
    scenario: str,
    code: str,
    words: str,
    clone_for: CloneFor,
    run_dry: RunDry,
) -> None:
    ctx = clone_for(backend, {"scenario": scenario})
    (ctx.dir / "dryrun.json").unlink(missing_ok=True)  # an earlier test's pass
    job, record = run_dry(ctx, steps=3)
    assert codes(record) == [code], (findings_of(record), log_of(job))
    (finding,) = findings_of(record)
    assert words in finding.message and "Traceback" not in finding.message
    assert finding.why and finding.fix and finding.source.startswith("dry-run#")
    assert job.result["log_tail"]
    assert job.result["measurement"] is None
    assert not (ctx.dir / "dryrun.json").exists()  # nothing measured counts for the config


def test_kohya_without_its_folder_in_studio_md_blocks_saying_what_to_set(
    dry_ctx: ProjectContext, run_dry: RunDry
) -> None:
    ctx = use_backend(dry_ctx, "kohya")
    try:
        _, record = run_dry(ctx)
    finally:
        use_backend(dry_ctx, "native")
    (finding,) = findings_of(record)
    assert finding.code == "dryrun.missing_file"
    assert "backends.kohya in grimoire/studio.md" in finding.message
