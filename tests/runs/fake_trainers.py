"""A fake clone of an external trainer put where a run finds it: named in studio.md's
``backends:`` and first on PATH (tests/training/fake_backends has the clones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.grimoire import studio_path, update_doc
from app.workspace import Workspace
from tests.training.fake_backends import install_fake_backend

STUDIO_KEYS = {"kohya": "kohya", "simpletuner": "simpletuner", "ai-toolkit": "ai_toolkit"}


def use_fake_trainer(
    workspace: Workspace,
    backend: str,
    folder: Path,
    scenario: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """Install the fake clone of ``backend`` in ``folder``, following ``scenario``; the
    environment is put back after the test."""
    clone = install_fake_backend(folder, backend, scenario)
    monkeypatch.setenv("PATH", f"{clone / 'bin'}:/usr/bin:/bin")
    # SimpleTuner says what it does (its checkpoints, its validations) at INFO only.
    monkeypatch.setenv("SIMPLETUNER_LOG_LEVEL", "INFO")

    def mutate(front: Any) -> None:
        front["backends"][STUDIO_KEYS[backend]] = str(clone)

    update_doc(studio_path(workspace.grimoire_dir), mutate)
    return clone
