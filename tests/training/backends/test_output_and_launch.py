"""What every backend writer does with the LoRA's file name, and the launch scripts:
parsed with bash -n and run for real, with a stand-in for ``accelerate`` (the one part
this machine cannot run: it would start sd-scripts on a GPU) that prints where it was
started and with what."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from app.training.backends import BACKENDS, BackendUnsupported, generate
from tests.training.backends.conftest import PlanFactory

UNSAFE_NAMES = ["../../../escaped", "sub/dir", "..", ".hidden", "-flag", "a..b", "x" * 101]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_every_writer_refuses_an_unsafe_output_name(
    make_run: PlanFactory, backend: str, name: str
) -> None:
    """TrainingConfig refuses these names, but ``model_copy`` skips validation: the
    writers must refuse them too, before writing anything."""
    run = make_run("sdxl")
    unsafe = replace(run, config=run.config.model_copy(update={"output_name": name}))
    with pytest.raises(BackendUnsupported, match="file name cannot be used"):
        generate(backend, unsafe)


def test_the_output_name_defaults_to_the_project_and_is_written_as_is(
    make_run: PlanFactory,
) -> None:
    run = make_run("sdxl")
    assert run.config.output_name == ""
    kohya = tomllib.loads(generate("kohya", run).files["config.toml"])
    job = yaml.safe_load(generate("ai-toolkit", run).files["job.yaml"])
    assert kohya["output_name"] == "mira" and job["config"]["name"] == "mira"
    named = replace(run, config=run.config.model_copy(update={"output_name": "ink_v2.1"}))
    assert tomllib.loads(generate("kohya", named).files["config.toml"])["output_name"] == (
        "ink_v2.1"
    )
    native = json.loads(generate("native", named).files["job.json"])
    assert native["config"]["output_name"] == "ink_v2.1"


@pytest.fixture
def fake_accelerate(tmp_path: Path) -> dict[str, str]:
    """PATH with an ``accelerate`` that reports its working folder and arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "accelerate"
    stand_in.write_text('#!/bin/sh\necho "cwd=$(pwd)"\necho "args=$*"\n')
    stand_in.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def run_script(script: Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script)], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def write_launch(text: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "launch.sh"
    script.write_text(text)
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    return script


def test_kohya_launch_changes_into_sd_scripts_and_runs_from_anywhere(
    make_run: PlanFactory, tmp_path: Path, fake_accelerate: dict[str, str]
) -> None:
    sd_scripts = tmp_path / "my tools" / "sd-scripts"  # a space: the path must be quoted
    sd_scripts.mkdir(parents=True)
    (sd_scripts / "sdxl_train_network.py").write_text("# stand-in\n")
    run = replace(make_run("sdxl"), trainer_dir=str(sd_scripts))
    text = generate("kohya", run).files["launch.sh"]
    assert "Run it from anywhere" in text and f"cd '{sd_scripts}'" in text
    script = write_launch(text, tmp_path / "files")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_script(script, elsewhere, fake_accelerate)
    assert result.returncode == 0, result.stderr
    assert f"cwd={sd_scripts}" in result.stdout
    assert "sdxl_train_network.py --config_file" in result.stdout

    (sd_scripts / "sdxl_train_network.py").unlink()  # studio.md points at the wrong folder
    wrong = run_script(script, elsewhere, fake_accelerate)
    assert wrong.returncode == 1 and "args=" not in wrong.stdout
    assert f"sdxl_train_network.py is not in {sd_scripts}" in wrong.stderr
    assert "backends.kohya in grimoire/studio.md" in wrong.stderr


def test_kohya_launch_without_studio_md_says_what_to_set(
    make_run: PlanFactory, tmp_path: Path, fake_accelerate: dict[str, str]
) -> None:
    bundle = generate("kohya", make_run("sd15"))
    text = bundle.files["launch.sh"]
    assert "Run it from anywhere" not in text and "cd " not in text
    assert "Run it from your sd-scripts folder" in text
    script = write_launch(text, tmp_path / "files")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = run_script(script, elsewhere, fake_accelerate)
    assert refused.returncode == 1 and "args=" not in refused.stdout
    assert "run this script from your sd-scripts folder" in refused.stderr
    assert "set backends.kohya in grimoire/studio.md" in refused.stderr

    clone = tmp_path / "sd-scripts"
    clone.mkdir()
    (clone / "train_network.py").write_text("# stand-in\n")
    ran = run_script(script, clone, fake_accelerate)
    assert ran.returncode == 0 and "train_network.py --config_file" in ran.stdout
    assert any("backends.kohya" in note for note in bundle.notes)


def test_ai_toolkit_and_native_launch_scripts(
    make_run: PlanFactory, tmp_path: Path, fake_accelerate: dict[str, str]
) -> None:
    toolkit = generate("ai-toolkit", make_run("flux")).files["launch.sh"]
    assert "Run it from your ai-toolkit folder" in toolkit and "[ -f run.py ]" in toolkit
    write_launch(toolkit, tmp_path / "toolkit")
    native = generate("native", make_run("sdxl")).files["launch.sh"]
    assert "Run it from anywhere" in native and "cd " in native
    write_launch(native, tmp_path / "native")
    simpletuner = generate("simpletuner", make_run("sdxl")).files["launch.sh"]
    assert "with the trainer's Python environment active" in simpletuner
    write_launch(simpletuner, tmp_path / "simpletuner")
