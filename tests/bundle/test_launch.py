"""The launch script of a bundle, run for real as a rented GPU would run it: for each
backend, export the demo project's bundle, unpack it, and run ``bash launch.sh`` with
stand-ins for the tools that would reach the network (git, python3 -m venv, pip: see
stub_tools.py) first on PATH. The install runs where each trainer's own instructions
run it, the script goes on to the dry run and the training (the fake trainers of
tests/training/fake_backends, loragate's own trainer for real), and the results it
packs come home as a run.

The bundle itself names no path of this computer: it is run on another one."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.bundle.export import export_bundle
from app.bundle.import_ import import_results
from app.bundle.launch import launch_script, pinned_source
from app.evaluation.loras import final_of_run
from app.gate_records import record_result
from app.gates import config as gate2
from app.gates.state import gate_state
from app.models import Project
from app.runs.records import get_run
from app.settings import REPO_ROOT
from app.workspace import ProjectContext, Workspace
from tests.bundle.stub_tools import FAKES, LOG, install_stubs, read_log
from tests.demo.ready import ready_demo
from tests.training.fake_backends import BACKENDS, install_fake_backend


def _demo_for(workspace: Workspace, backend: str) -> ProjectContext:
    """The demo project for one epoch, passing Gates 1 and 2 for ``backend``. SimpleTuner
    at batch 1: it drops aspect buckets smaller than the batch (Gate 2 blocks that)."""
    batch = {"train_batch_size": 1} if backend == "simpletuner" else {}
    ctx = ready_demo(workspace, epochs=1, **batch)
    if backend != "native":
        with workspace.db.writing() as session:
            row = session.get(Project, ctx.project.id)
            assert row is not None
            row.backend = backend
            session.add(row)
        ctx.project.backend = backend
        record_result(ctx, gate2.evaluate(ctx))
    assert gate_state(ctx, "config").status in ("pass", "warn")
    return ctx


def _unpacked(ctx: ProjectContext, tmp_path: Path) -> Path:
    out = tmp_path / "bundle.zip"
    export_bundle(ctx, out, include_model=True)
    with zipfile.ZipFile(out) as archive:
        archive.extractall(tmp_path / "rented")
    return tmp_path / "rented" / f"{ctx.project.slug}-bundle"


def _run(top: Path, tmp_path: Path) -> tuple[int, str, list[dict[str, object]]]:
    fakes = tmp_path / "fakes"
    for backend in BACKENDS:
        install_fake_backend(fakes / backend, backend, {"scenario": "ok"})
    log = tmp_path / "calls.jsonl"
    log.touch()
    env = os.environ | {
        "PATH": f"{install_stubs(tmp_path / 'stubs')}{os.pathsep}{os.environ['PATH']}",
        FAKES: str(fakes),
        LOG: str(log),
    }
    env.pop("PYTHONPATH", None)  # the bundle's own loragate, not this checkout's
    env.pop("LORAGATE_PYTHON", None)
    done = subprocess.run(
        ["bash", str(top / "launch.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    return done.returncode, done.stdout + done.stderr, read_log(log)


def _calls(log: list[dict[str, object]], top: Path) -> list[tuple[str, str, str]]:
    """(tool, what it was asked, the folder it ran in relative to the bundle)."""
    calls = []
    for call in log:
        args = [str(arg).replace(str(top), "$HERE") for arg in call["args"]]  # type: ignore[attr-defined]
        where = Path(str(call["cwd"])).relative_to(top).as_posix()
        calls.append((str(call["tool"]), " ".join(args), where))
    return calls


# Each trainer's PyTorch as its own install instructions give it at the pinned commit
# (sd-scripts' README, ai-toolkit's README), and loragate's (the Makefile's GPU line).
TORCH = {
    "kohya": ("cu124", "torch==2.6.0 torchvision==0.21.0"),
    "ai-toolkit": ("cu130", "torch==2.13.0 torchvision==0.28.0 torchaudio==2.11.0"),
    "native": ("cu128", "torch==2.13.0"),
}


def _torch(backend: str) -> str:
    index, pins = TORCH[backend]
    return f"install -q --index-url https://download.pytorch.org/whl/{index} {pins}"


TRAINING = {
    "kohya": (
        "accelerate",
        "launch --num_cpu_threads_per_process 1 --num_processes 1 --mixed_precision no "
        "train_network.py --config_file $HERE/{folder}/config.toml "
        "--dataset_config $HERE/{folder}/dataset.toml",
        "trainer",
    ),
    "ai-toolkit": ("python", "run.py $HERE/{folder}/job.yaml", "trainer"),
    "simpletuner": ("simpletuner-train", "", "."),
    "native": ("python", "-m app.training.native {folder}/job.json", "."),
}


# SimpleTuner names its LoRA itself; the others after the project.
FINALS = {"simpletuner": "pytorch_lora_weights.safetensors"}


def _install(backend: str) -> list[tuple[str, str, str]]:
    """The install each trainer's own instructions give (launch.py names them)."""
    if backend == "native":
        return [
            ("python3", "-m venv .venv", "."),
            ("pip", _torch(backend), "."),
            ("pip", "install -q -c loragate/requirements.lock ./loragate", "."),
        ]
    if backend == "simpletuner":
        version = pinned_source(backend)["version"]
        return [
            ("python3.13", "-m venv .venv", "."),
            ("pip", f"install -q simpletuner[cuda]=={version}", "."),
        ]
    source = pinned_source(backend)
    return [
        ("git", f"clone -q https://github.com/{source['repo']}.git trainer", "."),
        ("git", f"-C trainer checkout -q {source['commit']}", "."),
        ("python3", "-m venv .venv", "."),
        ("pip", _torch(backend), "."),
        # From inside the clone: sd-scripts' requirements.txt ends with "-e .".
        ("pip", f"install -q -r requirements.txt {TORCH[backend][1]}", "trainer"),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["kohya", "ai-toolkit", "simpletuner", "native"])
def test_the_launch_script_installs_then_runs_the_dry_run_then_the_training(
    workspace: Workspace, tmp_path: Path, backend: str
) -> None:
    ctx = _demo_for(workspace, backend)
    top = _unpacked(ctx, tmp_path)

    code, output, log = _run(top, tmp_path)

    assert code == 0, output[-3000:]
    calls = _calls(log, top)
    install = _install(backend)
    assert calls[: len(install)] == install
    tool, args, where = TRAINING[backend]
    runs = [call for call in calls[len(install) :] if call[0] == tool]
    assert runs[:2] == [
        (tool, args.format(folder="config-dryrun"), where),
        (tool, args.format(folder="config"), where),
    ]
    assert output.index("loragate: dry run") < output.index("loragate: training")
    assert "loragate: done." in output

    imported = import_results(ctx, top / "results.zip")
    record = get_run(ctx, imported.number)
    assert record is not None and record.state == "finished" and record.backend == backend
    # At the run's top, where evaluation looks (ai-toolkit's job folder lifted out).
    final = FINALS.get(backend, f"{ctx.project.slug}.safetensors")
    assert final in imported.loras
    assert final_of_run(ctx.dir, imported.number).path == imported.path / final
    assert record.step == record.total_steps > 0  # the loss history read from its log


def _text_files(top: Path) -> dict[Path, str]:
    texts = {}
    for path in top.rglob("*"):
        if path.is_file():
            try:
                texts[path] = path.read_text("utf-8")
            except UnicodeDecodeError:
                continue  # images and weights
    return texts


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["native", "kohya"])
def test_a_bundle_names_no_path_of_this_computer(
    workspace: Workspace, tmp_path: Path, backend: str
) -> None:
    ctx = _demo_for(workspace, backend)
    top = _unpacked(ctx, tmp_path)
    here = {
        str(REPO_ROOT),
        str(workspace.settings.data_dir),
        str(workspace.settings.grimoire_dir),
        sys.prefix,
        str(Path(sys.executable).parent),
    }
    texts = _text_files(top)
    assert top / "launch.sh" in texts and top / "manifest.json" in texts
    found = {
        (path.relative_to(top).as_posix(), where)
        for path, text in texts.items()
        for where in here
        if where in text
    }
    assert found == set()
    if backend == "native":
        lock = top / "loragate" / "requirements.lock"
        assert lock.read_text() == (REPO_ROOT / "requirements.lock").read_text()


@pytest.mark.parametrize(
    ("optimizer", "package"), [("adamw8bit", "bitsandbytes"), ("prodigy", "prodigyopt")]
)
def test_a_native_bundle_installs_the_package_its_optimizer_needs(
    optimizer: str, package: str
) -> None:
    script = launch_script("native", "mira", "base.safetensors", optimizer).splitlines()
    loragate = script.index("  .venv/bin/pip install -q -c loragate/requirements.lock ./loragate")
    assert script[loragate + 2] == (
        f"  .venv/bin/pip install -q -c loragate/requirements.lock {package}"
    )
    plain = launch_script("native", "mira", "base.safetensors", "adamw")
    assert "bitsandbytes" not in plain and "prodigyopt" not in plain
