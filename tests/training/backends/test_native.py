"""The native trainer's job file: what ``python -m app.training.native JOB.json`` reads."""

from __future__ import annotations

import json
import shlex
import sys

import pytest

from app.training.backends import BackendUnsupported, generate, write_files
from app.training.backends.native import SUPPORTED
from app.training.job import read_job
from app.training.native.jobfile import SUPPORTED_FAMILIES
from tests.training.backends.conftest import PlanFactory


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_job_round_trips_through_the_native_reader(
    make_run: PlanFactory, family: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    run = make_run(family)
    bundle = generate("native", run)
    write_files(run.files_dir, bundle)
    job = read_job(run.files_dir / "job.json")
    assert job.base_model.family == family and job.base_model.path == str(run.base_model)
    assert job.config.max_train_steps == run.plan.total_steps > 0
    assert job.dataset_dir == str(run.dataset_dir) and job.trigger_word == "zktrig"
    assert json.loads(bundle.files["job.json"])["config"]["epochs"] == run.config.epochs
    argv = shlex.split(bundle.command)
    assert argv[1:3] == ["-m", "app.training.native"] and argv[-1].endswith("job.json")


def test_several_gpus_go_through_accelerate(make_run: PlanFactory) -> None:
    argv = shlex.split(generate("native", make_run("sdxl", num_gpus=2)).command)
    # loragate's own Python runs the launcher: no activated environment needed.
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert "--multi_gpu" in argv


@pytest.mark.parametrize("family", ["sd2", "flux"])
def test_sd2_and_flux_are_not_trained_natively(make_run: PlanFactory, family: str) -> None:
    with pytest.raises(BackendUnsupported, match=r"SD 2\.x and Flux"):
        generate("native", make_run(family))


def test_the_writer_and_the_trainer_agree_on_the_families() -> None:
    """The trainer refuses what the writer would write for any other family."""
    assert SUPPORTED == SUPPORTED_FAMILIES
