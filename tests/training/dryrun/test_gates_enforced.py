"""The four gates, enforced on the inputs as they are now (issue 14): ``loragate gates
PROJECT --json``, as a real subprocess, exits 0 only while every gate's latest result
passes on the inputs it judged, and after each kind of change names the gates it made
stale and why, in plain words, and exits 1.

One test passes all four gates for real, the native dry run included. The others
plant each gate's pass with that gate's real fingerprint of the project as it is (a
real Gate 1-4 run per change would take minutes): what they test is the fingerprint
seeing the change, and the command refusing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.captions.store import load_captions, save_text
from app.dataset.decisions import set_included
from app.dataset.records import load_rows
from app.findings import make_result
from app.gate_records import record_result
from app.gates import GATE_NAMES
from app.gates.state import current_parts
from app.settings import REPO_ROOT, Settings
from app.workspace import ProjectContext, Workspace
from tests.cli.conftest import cli_env
from tests.dryrun_project import (
    GATE_PASSING,
    TINY_CONFIG,
    pass_gates,
    set_config,
    tiny_project,
    with_backend_folder,
)
from tests.training.dryrun.conftest import RunDry, log_of
from tests.training.fake_backends import install_fake_backend

pytestmark = pytest.mark.slow

Report = dict[str, dict[str, Any]]


def gates(ctx: ProjectContext) -> tuple[int, Report]:
    """``loragate gates SLUG --json`` in a fresh interpreter, as an artist runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "app", "gates", ctx.project.slug, "--json"],
        cwd=REPO_ROOT,
        env=cli_env(ctx.settings),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["passes"] is (result.returncode == 0), result.stderr
    return result.returncode, {gate["gate"]: gate for gate in report["gates"]}


def statuses(report: Report) -> dict[str, str]:
    return {name: gate["status"] for name, gate in report.items()}


def plant_passes(ctx: ProjectContext) -> None:
    """A pass for every gate, recorded with the gate's own fingerprint of now."""
    for name in GATE_NAMES:
        parts = current_parts(ctx, name)
        assert parts is not None
        record_result(ctx, make_result(name, [], parts))


def first_image(ctx: ProjectContext) -> int:
    return min(row.id or 0 for row in load_rows(ctx))


def test_all_four_gates_pass_for_real_and_a_caption_edit_makes_three_stale(
    clean_ctx: ProjectContext, run_dry: RunDry
) -> None:
    ctx = clean_ctx
    set_config(ctx, **GATE_PASSING)
    pass_gates(ctx)
    job, record = run_dry(ctx, steps=2)
    assert record.verdict == "pass", log_of(job)
    code, report = gates(ctx)
    assert code == 0 and set(statuses(report).values()) <= {"pass", "warn"}, statuses(report)

    image = first_image(ctx)
    caption = load_captions(ctx)[image]
    save_text(ctx, image, caption.text + ", a blue glaze", caption.version)
    code, report = gates(ctx)
    assert code == 1
    assert statuses(report) == {
        "dataset": "stale",
        "config": "stale",
        "environment": "pass",
        "dryrun": "stale",
    }
    assert "captions changed" in report["dataset"]["stale_reasons"]
    assert "the dataset (Gate 1) changed" in report["config"]["stale_reasons"]
    assert "the config (Gate 2) changed" in report["dryrun"]["stale_reasons"]


# Planted passes, one kind of change each -------------------------------------------


@pytest.fixture
def planted(
    tmp_path: Path, base_model_file: Path
) -> Iterator[Callable[..., tuple[ProjectContext, Path]]]:
    """``planted(kohya=FOLDER)``: a fresh tiny project (trained by the backend named,
    whose folder goes into studio.md; native without one) on a base model file of its
    own, every gate planted as passing, ``loragate gates`` exiting 0. Returns the
    project and its base model file."""
    workspaces: list[Workspace] = []

    def make(**studio_backends: str) -> tuple[ProjectContext, Path]:
        grimoire = tmp_path / "grimoire"
        grimoire.mkdir()
        studio = (REPO_ROOT / "grimoire" / "studio.md").read_text("utf-8")
        for key, folder in studio_backends.items():
            studio = with_backend_folder(studio, key, folder)
        (grimoire / "studio.md").write_text(studio, "utf-8")
        workspace = Workspace(Settings(grimoire_dir=grimoire, data_dir=tmp_path / "data"))
        workspaces.append(workspace)
        backend = next(iter(studio_backends), "native")
        ctx = tiny_project(workspace, base_model_file, backend=backend)
        plant_passes(ctx)
        code, report = gates(ctx)
        assert code == 0, statuses(report)
        return ctx, base_model_file

    yield make
    for workspace in workspaces:
        workspace.close()


def test_excluding_an_image_makes_the_dataset_config_and_dry_run_stale(planted) -> None:  # type: ignore[no-untyped-def]
    ctx, _ = planted()
    set_included(ctx, first_image(ctx), False)
    code, report = gates(ctx)
    assert code == 1
    assert [name for name, s in statuses(report).items() if s == "stale"] == [
        "dataset",
        "config",
        "dryrun",
    ]
    assert any("exclusions" in reason for reason in report["dataset"]["stale_reasons"])


def test_changing_the_config_makes_the_config_and_dry_run_stale(planted) -> None:  # type: ignore[no-untyped-def]
    ctx, _ = planted()
    set_config(ctx, unet_lr=TINY_CONFIG["unet_lr"] * 2)
    code, report = gates(ctx)
    assert code == 1
    assert statuses(report) == {
        "dataset": "pass",
        "config": "stale",
        "environment": "pass",
        "dryrun": "stale",
    }
    assert report["config"]["stale_reasons"] == ["the training config changed"]
    assert report["dryrun"]["stale_reasons"] == ["the config (Gate 2) changed"]


def test_replacing_the_base_model_file_makes_the_config_and_dry_run_stale(planted) -> None:  # type: ignore[no-untyped-def]
    ctx, model = planted()
    model.write_bytes(model.read_bytes() + b"\0" * 64)  # another file, same name
    code, report = gates(ctx)
    assert code == 1
    assert statuses(report)["config"] == "stale" and statuses(report)["dryrun"] == "stale"
    assert statuses(report)["dataset"] == "pass"
    assert report["config"]["stale_reasons"] == ["the base model file changed"]


def test_a_new_trainer_version_makes_the_environment_and_dry_run_stale(  # type: ignore[no-untyped-def]
    planted, tmp_path: Path
) -> None:
    clone = install_fake_backend(tmp_path / "sd-scripts", "kohya", {"scenario": "ok"})
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "v1"], check=True)
    ctx, _ = planted(kohya=str(clone))
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "v2"], check=True)  # git pull
    code, report = gates(ctx)
    assert code == 1
    assert statuses(report) == {
        "dataset": "pass",
        "config": "pass",
        "environment": "stale",
        "dryrun": "stale",
    }
    assert report["environment"]["stale_reasons"] == ["the trainer (backend) version changed"]
    assert report["dryrun"]["stale_reasons"] == ["the environment (Gate 3) changed"]
