"""`loragate curate PROJECT` as a real subprocess: the balance per concept with the step
count, excluding and including images, repeats per concept (each journaled, then Gate 1
checked again), and usage errors that change nothing (exit 2)."""

from __future__ import annotations

import pytest

from app.dataset.records import load_rows
from app.gates.state import gate_state
from app.journal import journal_path
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import TRIGGER, caption_project, mira_intent
from tests.cli.conftest import CliRunner, json_of


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    """Three captioned images in ``10_mira/`` (ten repeats)."""
    return caption_project(
        workspace, mira_intent(make_intent), [f"{TRIGGER}, a", f"{TRIGGER}, b", f"{TRIGGER}, c"]
    )


def curate(cli: CliRunner, *args: str) -> dict[str, object]:
    result = cli("curate", "mira", *args, "--json")
    assert result.returncode == 0, result.stderr
    report = json_of(result)
    assert isinstance(report, dict)
    return report


def test_curate_shows_the_balance_and_the_steps(cli: CliRunner, ctx: ProjectContext) -> None:
    report = curate(cli)
    assert report["concepts"] == [
        {"concept": "mira", "repeats": 10, "images": 3, "excluded": 0, "samples": 30, "share": 1.0}
    ]
    assert report["steps"] and "= " in str(report["step_formula"])
    assert report["gate"] is None and report["changes"] == []  # nothing changed, nothing checked
    plain = cli("curate", "mira")
    assert plain.returncode == 0 and "Each epoch shows 30 samples." in plain.stdout


@pytest.mark.slow
def test_exclusions_and_repeats_are_journaled_and_gate1_is_checked(
    cli: CliRunner, ctx: ProjectContext
) -> None:
    before = curate(cli)["steps"]
    report = curate(cli, "--exclude", "10_mira/001.png", "--repeats", "mira=4")
    [line] = report["concepts"]  # type: ignore[misc]
    assert (line["images"], line["excluded"], line["repeats"], line["samples"]) == (2, 1, 4, 8)
    assert report["excluded_images"] == [{"path": "10_mira/001.png", "why": "excluded by you"}]
    assert report["steps"] != before
    assert report["gate"]["checked"] is True  # type: ignore[index]
    assert gate_state(ctx, "dataset").status != "not_run"
    journal = journal_path(ctx.dir).read_text()
    assert "Excluded 10_mira/001.png." in journal
    assert "Repeats of “mira” changed from 10 to 4" in journal

    again = cli("curate", "mira", "--include", "10_mira/001.png", "10_mira/000.png", "--no-check")
    assert again.returncode == 0, again.stderr
    assert "Included 10_mira/001.png." in again.stdout
    assert "10_mira/000.png was included already." in again.stdout
    assert all(row.included for row in load_rows(ctx))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--exclude", "10_mira/nope.png"], "not in the dataset of “mira”"),
        (
            ["--repeats", "nobody=3"],
            "there is no concept “nobody” in this dataset; its concepts: mira",
        ),
        (["--repeats", "mira:3"], "--repeats takes CONCEPT=N"),
        (["--repeats", "mira=0"], "repeats are a whole number from 1 to 100"),
        (
            ["--exclude", "10_mira/000.png", "--include", "10_mira/000.png"],
            "both excluded and included",
        ),
    ],
)
def test_wrong_usage_exits_2_and_changes_nothing(
    cli: CliRunner, ctx: ProjectContext, args: list[str], says: str
) -> None:
    result = cli("curate", "mira", "--exclude", "10_mira/002.png", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert all(row.included and row.repeats == 10 for row in load_rows(ctx))
