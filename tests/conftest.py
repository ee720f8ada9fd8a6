"""Shared fixtures: a real grimoire copy and a real SQLite file in tmp_path for every
test, one app factory, and helpers to make projects."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.projects import Intent, create_project
from app.settings import REPO_ROOT, Settings
from app.workspace import Workspace

BASE_URL = "http://127.0.0.1:8765"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest, and Playwright's sync API keeps an event
    loop in the main thread for the rest of the session."""
    items.sort(key=lambda item: "tests/browser/" in item.path.as_posix())


@pytest.fixture
def grimoire_dir(tmp_path: Path) -> Path:
    target = tmp_path / "grimoire"
    shutil.copytree(REPO_ROOT / "grimoire", target, ignore=shutil.ignore_patterns("training"))
    (target / "training").mkdir()
    return target


@pytest.fixture
def settings(tmp_path: Path, grimoire_dir: Path) -> Settings:
    return Settings(grimoire_dir=grimoire_dir, data_dir=tmp_path / "data")


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    ws = Workspace(settings)
    yield ws
    ws.close()


@pytest.fixture
def no_leftover_jobs(tmp_path: Path) -> Iterator[None]:
    """Job children outlive servers by design; a failing test must not leave its own
    running. Ends every job process group whose job file lies under this test's
    folder."""
    yield
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if command[-3:-1] == ["-m", "app.worker"] and command[-1].startswith(str(tmp_path)):
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def base_model_file(tmp_path: Path) -> Path:
    """A stand-in checkpoint path. Foundation only checks that it exists; gates that read
    headers write real safetensors headers in their own fixtures."""
    path = tmp_path / "models" / "base.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    return path


@pytest.fixture
def make_intent(base_model_file: Path):  # type: ignore[no-untyped-def]
    def _make(**overrides: str) -> Intent:
        values = {
            "name": "Ink wash",
            "training_type": "style",
            "trigger_word": "zkinkwash",
            "base_model": str(base_model_file),
            "model_family": "sdxl",
            "caption_format": "mixed",
            "must_vary": "subjects, lighting",
            "must_stay": "",
        }
        values.update(overrides)
        return Intent(**values)

    return _make


@pytest.fixture
def project(workspace: Workspace, make_intent):  # type: ignore[no-untyped-def]
    created, _ = create_project(workspace, make_intent())
    return created
