"""`loragate eval-grid --help` says what the command does in whole sentences: the
first paragraph of its description, not a line cut off in the middle."""

from __future__ import annotations

import pytest

from app.cli import main


def test_eval_grid_help_prints_its_whole_description(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["eval-grid", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal
    assert (
        "loragate eval-grid PROJECT: the Evaluation page's grid from a shell. The same job "
        'as the page ("evaluation.grid", run by the worker in a child process, waiting its '
        "turn for the GPU); this command follows it with progress on stderr (Ctrl-C cancels "
        "it), then prints where each contact sheet PNG is and its effect and leak curves."
    ) in text
    assert "``" not in text
