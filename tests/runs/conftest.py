"""Run tests: the tiny SD 1.5 (built once per session), real servers that a test may
SIGKILL (tests/worker/conftest.py), and every job process ended after each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import cli  # noqa: F401  (the fixture)
from tests.tiny_models import build_tiny_sd15
from tests.worker.conftest import servers  # noqa: F401  (the fixture)


@pytest.fixture(autouse=True)
def _one_thread_each(monkeypatch: pytest.MonkeyPatch, no_leftover_jobs: None) -> None:
    """The trainers these tests start inherit this: on a shared 2-core machine a second
    torch thread only makes step times erratic."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def tiny_sd15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd15(tmp_path_factory.mktemp("models") / "sd15")
