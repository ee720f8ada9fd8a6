"""One tiny project per module (making it costs more than a dry run), the tiny SD 1.5
built once per session, and a helper that runs the dry run through the real worker: a
child process that starts the real trainer as its own child."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.gate_records import findings_of, latest
from app.gates.dryrun_job import DRYRUN_JOB
from app.models import GateRecord, Job
from app.settings import REPO_ROOT, Settings
from app.worker import Worker
from app.workspace import ProjectContext, Workspace
from tests.dryrun_project import TINY_CONFIG, set_config, tiny_project
from tests.tiny_models import build_tiny_sd15


@pytest.fixture(scope="session")
def tiny_sd15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd15(tmp_path_factory.mktemp("tiny") / "sd15")


@pytest.fixture(scope="module")
def dry_ctx(tmp_path_factory: pytest.TempPathFactory, tiny_sd15: Path) -> Iterator[ProjectContext]:
    root = tmp_path_factory.mktemp("dryrun")
    grimoire = root / "grimoire"
    shutil.copytree(REPO_ROOT / "grimoire", grimoire, ignore=shutil.ignore_patterns("training"))
    (grimoire / "training").mkdir()
    workspace = Workspace(Settings(grimoire_dir=grimoire, data_dir=root / "data"))
    yield tiny_project(workspace, tiny_sd15)
    workspace.close()


@pytest.fixture
def clean_ctx(dry_ctx: ProjectContext) -> Iterator[ProjectContext]:
    """The module's project, its config put back after the test."""
    yield dry_ctx
    set_config(dry_ctx, **TINY_CONFIG)


RunDry = Callable[..., tuple[Job, GateRecord]]


@pytest.fixture
def run_dry() -> RunDry:
    def run(ctx: ProjectContext, **params: Any) -> tuple[Job, GateRecord]:
        worker = Worker(ctx.workspace, cancel_grace=1.0)
        job = worker.start(DRYRUN_JOB, ctx.project.id, params, title="Dry run")
        ended = worker.wait(job.id or 0, timeout=600)
        assert ended is not None and ended.state == "done", (ended, log_of(ended))
        with ctx.workspace.db.reading() as session:
            record = latest(session, ctx.project, "dryrun")
        assert record is not None
        return ended, record

    return run


def log_of(job: Job | None) -> str:
    return Path(job.log_path).read_text("utf-8") if job and job.log_path else ""


def codes(record: GateRecord) -> list[str]:
    return [finding.code for finding in findings_of(record)]


def measurement(ctx: ProjectContext) -> dict[str, Any]:
    return json.loads((ctx.dir / "dryrun.json").read_text("utf-8"))  # type: ignore[no-any-return]
