"""What every `loragate` command shares, in a real process (``app.cli.run``): a bad
setting is a usage error (2), Ctrl-C ends with one line (130), a closed pipe ends
quietly (1), and file names cannot send control characters to the terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from PIL import Image

from app.settings import REPO_ROOT, Settings
from tests.cli.conftest import CliRunner, cli_env

NO_TRACEBACK = ("Traceback", "Error:")
LORAGATE = (sys.executable, "-m", "app")
AUDIT_ARGS = ("--type", "style", "--trigger", "zkink", "--family", "sdxl")


def calm(stderr: str) -> bool:
    return not any(word in stderr for word in NO_TRACEBACK)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("LORAGATE_DATA_DIR", "{file}", "a part of that path is a file, not a folder"),
        ("LORAGATE_DATA_DIR", "{file}/data", "a part of that path is a file, not a folder"),
        ("LORAGATE_DATA_DIR", "/proc/loragate-data", "it cannot be created"),
        ("LORAGATE_DATA_DIR", "/proc/self", "files cannot be written in it"),
        ("LORAGATE_GRIMOIRE_DIR", "{file}", "a part of that path is a file, not a folder"),
        ("LORAGATE_GRIMOIRE_DIR", "/proc/self/loragate", "it cannot be created"),
        ("LORAGATE_PORT", "abc", "LORAGATE_PORT is “abc”: it must be a whole number"),
    ],
)
@pytest.mark.parametrize("command", [("project", "list"), ("env",)])
def test_a_setting_loragate_cannot_use_is_a_usage_error(
    cli: CliRunner,
    tmp_path: Path,
    variable: str,
    value: str,
    says: str,
    command: tuple[str, ...],
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    result = cli(*command, env={variable: value.format(file=a_file)})
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and calm(result.stderr)
    if variable != "LORAGATE_PORT":
        assert f"Point {variable} at a folder you can write to." in result.stderr


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_ctrl_c_during_an_audit_ends_with_one_line(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(120):
        Image.effect_noise((384, 384), 40 + index % 50).convert("RGB").save(
            folder / f"{index:03d}.png", compress_level=1
        )
    audit = subprocess.Popen(
        [*LORAGATE, "audit", str(folder), *AUDIT_ARGS, "--workers", "2"],
        cwd=REPO_ROOT,
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job is
    )
    # Measuring has begun once the worker pool exists.
    deadline = time.monotonic() + 60
    while not _children(audit.pid) and audit.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert audit.poll() is None, "the audit ended before it could be interrupted"
    os.killpg(audit.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
    out, err = audit.communicate(timeout=120)
    # 130, or killed by SIGINT: CPython ends that way when the interrupt landed inside
    # C code running Python (an import's PyRun_String); a shell reports 130 for both.
    assert audit.returncode in (130, -signal.SIGINT)
    assert err.strip() == "loragate: interrupted." and out == ""


def test_a_reader_that_goes_away_ends_the_output_quietly(
    settings: Settings, model_path: str
) -> None:
    """`loragate project create ... --json | head -1`, made certain: the reader has
    closed the pipe before loragate writes its first byte."""
    with subprocess.Popen(
        [
            *LORAGATE,
            "project",
            "create",
            "Ink wash",
            *AUDIT_ARGS,
            "--base-model",
            model_path,
            "--json",
        ],
        cwd=REPO_ROOT,
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as create:
        assert create.stdout is not None and create.stderr is not None
        create.stdout.close()
        err = create.stderr.read().decode()
        assert create.wait(timeout=120) == 1
    assert err == "", err
    # The project was created all the same: only the report went nowhere.
    assert (settings.training_dir / "ink-wash" / "journal.md").is_file()


NAME = "a\x1b]0;owned\x07\x1b[31mred\x9b2J\nsecond line.png"


def test_control_characters_in_file_names_are_escaped(cli: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in (NAME, "plain.png"):
        Image.new("RGB", (64, 64), (10, 20, 30)).save(folder / name, format="PNG")
    human = cli("duplicates", str(folder))
    assert human.returncode == 1, human.stderr
    assert not any(char in human.stdout for char in "\x1b\x07\x9b")
    escaped = "a\\u001b]0;owned\\u0007\\u001b[31mred\\u009b2J\\nsecond line.png"
    assert f"    {escaped}\n" in human.stdout  # one line, readable
    report = cli("audit", str(folder), "--type", "style", "--trigger", "zk", "--family", "sdxl")
    assert not any(char in report.stdout for char in "\x1b\x07\x9b")
    assert f"{escaped} has no caption file" in report.stdout
    # Machines get the name itself: the JSON escapes decode back to it.
    machine = cli("duplicates", str(folder), "--json")
    assert not any(char in machine.stdout for char in "\x1b\x07\x9b")
    groups = json.loads(machine.stdout)["groups"]
    assert sorted(groups[0]["members"]) == sorted([NAME, "plain.png"])
