"""`loragate dry-run PROJECT` as a real subprocess, where it refuses: before Gates 1-3
pass it starts nothing (a dry run on a blocked config wastes GPU time) and says why; a
step count outside 2-5 is wrong usage. The dry run itself, through the same job, is in
tests/training/dryrun/."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.models import Job
from app.workspace import Workspace
from tests.cli.conftest import CliRunner, json_of


@pytest.fixture
def ink(workspace: Workspace, project) -> Workspace:  # type: ignore[no-untyped-def]
    return workspace


def test_refused_until_gates_one_to_three_pass(cli: CliRunner, ink: Workspace) -> None:
    result = cli("dry-run", "ink-wash")
    assert result.returncode == 1
    assert "The dry run did not start:" in result.stderr
    assert "Gate 1 · Dataset has not run yet." in result.stderr
    assert "Gate 3 · Environment has not run yet." in result.stderr
    as_json = json_of(cli("dry-run", "ink-wash", "--json"))
    assert isinstance(as_json, dict) and as_json["ran"] is False and as_json["reasons"]
    with ink.db.reading() as session:
        assert session.exec(select(Job)).all() == []  # nothing was started


def test_a_step_count_outside_two_to_five_is_wrong_usage(cli: CliRunner, ink: Workspace) -> None:
    result = cli("dry-run", "ink-wash", "--steps", "9")
    assert result.returncode == 2 and "--steps" in result.stderr
