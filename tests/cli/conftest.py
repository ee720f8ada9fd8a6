from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.settings import REPO_ROOT, Settings

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a `loragate` subprocess gets: this test's grimoire and data."""
    return os.environ | {
        "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
        "LORAGATE_DATA_DIR": str(settings.data_dir),
    }


def run_probe(settings: Settings, probe: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``probe`` in a fresh interpreter (its own sys.modules) as the CLI runs."""
    return subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli(settings: Settings) -> CliRunner:
    """Run `loragate ...` as a real subprocess against this test's grimoire and database."""

    def run(
        *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=REPO_ROOT,
            env=cli_env(settings) | (env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


def json_of(result: subprocess.CompletedProcess[str]) -> object:
    return json.loads(result.stdout)


@pytest.fixture
def model_path(base_model_file: Path) -> str:
    return str(base_model_file)
