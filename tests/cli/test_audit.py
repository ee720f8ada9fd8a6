"""`loragate audit DIR` and `loragate duplicates DIR` as real subprocesses: exit codes
0/1/2 and the --json shapes the issue specifies."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from app.cli import main
from app.settings import Settings
from tests.cli.conftest import CliRunner
from tests.dataset import builders as b
from tests.unprivileged import open_folder, run_unprivileged

FINDING_KEYS = {"code", "severity", "subject", "subjects", "message", "why", "fix", "source"}


def _folder(root: Path, *, problems: bool) -> Path:
    for seed in range(5):
        b.save(b.photo(900 + seed, (512, 512)), root / "5_teapot" / f"{seed}.png")
        (root / "5_teapot" / f"{seed}.txt").write_text(f"zkpot, angle {seed}")
    if problems:
        b.save(b.photo(900, (512, 512)), root / "5_teapot" / "copy.bmp")
        (root / "5_teapot" / "copy.txt").write_text("zkpot")
        b.truncated_jpeg(root / "5_teapot" / "broken.jpg")
        (root / "5_teapot" / "broken.txt").write_text("zkpot")
        (root / "5_teapot" / "nocap.png").write_bytes((root / "5_teapot" / "1.png").read_bytes())
    return root


def test_audit_json_shape_and_blocking_exit(
    cli: CliRunner, tmp_path: Path, settings: Settings
) -> None:
    folder = _folder(tmp_path / "set", problems=True)
    before = b.tree_digest(folder)
    args = ("audit", str(folder), "--type", "object", "--trigger", "zkpot", "--family", "sd15")
    result = cli(*args, "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"gate", "verdict", "findings", "stats", "fingerprint"}
    assert (report["gate"], report["verdict"]) == ("dataset", "block")
    assert all(set(finding) == FINDING_KEYS for finding in report["findings"])
    by_code = {f["code"]: f for f in report["findings"]}
    assert by_code["image.truncated"]["subject"] == "5_teapot/broken.jpg"
    assert by_code["caption.missing"]["subject"] == "5_teapot/nocap.png"
    # A duplicate finding names every member of its group (nocap.png is a copy of 1.png).
    assert sorted(f["subject"] for f in report["findings"] if f["code"] == "duplicate.exact") == [
        "5_teapot/0.png, 5_teapot/copy.bmp",
        "5_teapot/1.png, 5_teapot/nocap.png",
    ]
    # ... and lists them, for a script to read without splitting names that hold ", ".
    assert sorted(f["subjects"] for f in report["findings"] if f["code"] == "duplicate.exact") == [
        ["5_teapot/0.png", "5_teapot/copy.bmp"],
        ["5_teapot/1.png", "5_teapot/nocap.png"],
    ]
    assert report["stats"]["files"] == 8 and len(report["fingerprint"]) == 64
    assert b.tree_digest(folder) == before
    assert (settings.data_dir / "audit-cache.sqlite").is_file()

    again = cli(*args, "--json")  # from the cache, same answer
    assert json.loads(again.stdout)["fingerprint"] == report["fingerprint"]


def test_audit_passes_with_warnings_and_speaks_plainly(cli: CliRunner, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "clean", problems=False)
    result = cli("audit", str(folder), "--type", "object", "--trigger", "zkpot", "--family", "sd15")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "Gate 1 · Dataset passes with warnings: 5 images to train, 0 blocking, 1 warning, 1 note.\n"
        in result.stdout
    )
    assert "sources recommend 10–40" in result.stdout


def test_names_that_are_not_utf8_are_findings_not_crashes(cli: CliRunner, tmp_path: Path) -> None:
    """Latin-1 names (the audited folder's own, an image's, a caption's): each file is
    a blocking finding with why/fix/source; the rest is audited; both commands run, the
    second from the cache."""
    folder = _folder(b.raw_name(tmp_path, b"s\xe9rie"), problems=False)
    b.save(b.photo(950, (512, 512)), b.raw_name(folder / "5_teapot", b"caf\xe9.png"))
    b.raw_name(folder / "5_teapot", b"caf\xe9.txt").write_text("zkpot, a cup")
    args = ("--type", "object", "--trigger", "zkpot", "--family", "sd15")
    result = cli("audit", str(folder), *args, "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    named = {f["subject"]: f for f in report["findings"] if f["code"] == "file.bad_name"}
    assert set(named) == {"5_teapot/caf\\xe9.png", "5_teapot/caf\\xe9.txt"}
    image = named["5_teapot/caf\\xe9.png"]
    assert set(image) == FINDING_KEYS and image["severity"] == "block"
    assert "is not valid UTF-8 text" in image["message"] and "“café.png”" in image["fix"]
    assert image["why"] and image["source"] == "dataset-audit#file-names"
    assert report["stats"]["images"] == 5 and report["stats"]["bad_names"] == 2

    again = cli("audit", str(folder), *args)
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    assert "The name “5_teapot/caf\\xe9.png” is not valid UTF-8 text" in again.stdout
    duplicates = cli("duplicates", str(folder))
    assert duplicates.returncode == 0, duplicates.stderr
    assert "No duplicates among 5 images" in duplicates.stdout


def test_an_over_long_caption_prints_nothing_on_stderr(cli: CliRunner, tmp_path: Path) -> None:
    """Counting a caption past CLIP's 77 tokens is the point of the check: transformers'
    "Token indices sequence length is longer..." warning must not reach the terminal."""
    folder = _folder(tmp_path / "set", problems=False)
    long = "zkpot, " + ", ".join(f"word{i} thing{i}" for i in range(20))
    (folder / "5_teapot" / "0.txt").write_text(long)
    result = cli("audit", str(folder), "--type", "object", "--trigger", "zkpot", "--family", "sd15")
    assert result.returncode == 0, result.stderr
    assert "5_teapot/0.txt is" in result.stdout and "CLIP tokens" in result.stdout
    assert result.stderr == ""


def test_a_trigger_the_wizard_refuses_is_a_usage_error(cli: CliRunner, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "set", problems=False)
    result = cli("audit", str(folder), "--type", "style", "--trigger", "a,b", "--family", "sdxl")
    assert result.returncode == 2 and result.stdout == ""
    assert "The trigger word contains a comma" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    missing = cli(
        "audit", str(tmp_path / "nope"), "--type", "style", "--trigger", "z", "--family", "sdxl"
    )
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    threshold = cli("duplicates", str(tmp_path), "--threshold", "65")
    assert threshold.returncode == 2 and "--threshold must be between 0 and 32" in threshold.stderr
    assert "Traceback" not in missing.stderr + threshold.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "{folder}", "--type", "painting", "--trigger", "zk", "--family", "sdxl"),
        ("audit", "{folder}", "--type", "style", "--family", "sdxl"),
        ("audit", "{folder}", "--type", "style", "--trigger", " ", "--family", "sdxl"),
        ("duplicates", "{file}"),
        ("duplicates", "{folder}", "--workers", "0"),
    ],
)
def test_more_usage_errors_exit_2(
    tmp_path: Path, args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """The same entry point in-process (argparse's and fail_usage's exits)."""
    (tmp_path / "file.png").write_bytes(b"x")
    values = {"folder": str(tmp_path), "file": str(tmp_path / "file.png")}
    with pytest.raises(SystemExit) as exit_info:
        main([arg.format(**values) for arg in args])
    assert exit_info.value.code == 2 and capsys.readouterr().err.strip()


def test_duplicates_lists_the_groups(cli: CliRunner, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "set", problems=True)
    result = cli("duplicates", str(folder), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert set(report) == {"threshold", "images", "groups"} and report["threshold"] == 10
    members = sorted(group["members"] for group in report["groups"])
    assert members == [
        ["5_teapot/0.png", "5_teapot/copy.bmp"],
        ["5_teapot/1.png", "5_teapot/nocap.png"],
    ]
    assert {group["kind"] for group in report["groups"]} == {"exact"}
    clean = cli("duplicates", str(_folder(tmp_path / "clean", problems=False)), "--threshold", "4")
    assert clean.returncode == 0 and "No duplicates among 5 images (threshold 4)" in clean.stdout


def test_the_cli_constants_match_the_audit() -> None:
    from app.cli import audit
    from app.dataset import duplicates

    assert audit.DEFAULT_NEAR_THRESHOLD == duplicates.DEFAULT_NEAR_THRESHOLD
    assert audit.MAX_THRESHOLD == duplicates.MAX_THRESHOLD
    from app.captions import content_lint
    from app.dataset import whole_dataset_checks

    assert {
        whole_dataset_checks.DATASET_SUBJECT,
        content_lint.DATASET_SUBJECT,
    } == audit.WHOLE_SET_SUBJECTS


def test_audit_runs_the_content_style_lint_a_project_gets(cli: CliRunner, tmp_path: Path) -> None:
    """A style LoRA's caption that describes the style: the caption grid and a project's
    Gate 1 flag it, and so does `loragate audit DIR` on the same folder."""
    folder = tmp_path / "set" / "10_paint"
    for seed in range(3):
        b.save(b.photo(700 + seed, (512, 512)), folder / f"{seed}.png")
        (folder / f"{seed}.txt").write_text(f"zkstyle, a harbour at dusk, boat {seed}")
    (folder / "0.txt").write_text(
        "zkstyle, watercolor painting, in the style of impressionism, a harbour at dusk"
    )
    args = ("audit", str(tmp_path / "set"), "--type", "style", "--trigger", "zkstyle")
    report = json.loads(cli(*args, "--family", "sd15", "--json").stdout)
    style = [f for f in report["findings"] if f["code"] == "caption.style_word"]
    assert [f["subject"] for f in style] == ["10_paint/0.png"]
    assert "in the style of" in style[0]["message"]
    assert style[0]["source"].startswith("content-style#")

    text = cli(*args, "--family", "sd15").stdout
    assert "10_paint/0.png: The caption names the style" in text
    # The lint's own trigger check replaces the audit's: one finding, not two.
    (folder / "1.txt").write_text("a harbour at dusk, boat")
    again = json.loads(cli(*args, "--family", "sd15", "--json").stdout)
    missing = [f["code"] for f in again["findings"] if f["subject"] == "10_paint/1.png"]
    assert missing.count("caption.missing_trigger") == 1


AUDIT = ("--type", "object", "--trigger", "zkpot", "--family", "sd15")


def test_a_named_pipe_does_not_hang_the_audit(cli: CliRunner, tmp_path: Path) -> None:
    """`loragate audit` on a folder holding a FIFO waited for a writer forever. It is a
    blocking finding naming it, and the rest is audited."""
    folder = _folder(tmp_path / "set", problems=False)
    os.mkfifo(folder / "5_teapot" / "pipe.png")
    (folder / "5_teapot" / "3.txt").unlink()
    os.mkfifo(folder / "5_teapot" / "3.txt")  # in place of a real caption
    (folder / "Thumbs.db").write_bytes(b"junk")
    result = cli("audit", str(folder), *AUDIT, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "✗ 5_teapot/pipe.png is a named pipe (FIFO), not a regular file" in result.stdout
    assert "✗ 5_teapot/3.txt is a named pipe (FIFO)" in result.stdout
    assert "fix: Remove it from the dataset folder (rm '5_teapot/" in result.stdout
    assert "5 files, 5 images (0 excluded), 4 captions, 1 junk file ignored." in result.stdout


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("/tmp/" + "a" * 300, "is 300 bytes long; a file or folder name can be at most 255 bytes"),
        ("~nosuchuser/x", "a user named “nosuchuser”, but this computer has no such user"),
    ],
)
def test_paths_no_file_system_takes_are_usage_errors(
    cli: CliRunner, given: str, words: str
) -> None:
    result = cli("audit", given, *AUDIT)
    assert result.returncode == 2 and result.stdout == ""
    assert words in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_what_cannot_be_read_is_named_with_what_to_do(settings: Settings) -> None:
    """Run without root's rights: a `chmod 000` folder said "0 files … BLOCKED" with no
    word of why; an unreadable caption printed a PermissionError traceback."""
    with open_folder() as root:
        data = root / "data"
        data.mkdir(mode=0o777)
        data.chmod(0o777)
        closed = root / "closed"
        _folder(closed, problems=False)
        closed.chmod(0)
        readable = _folder(root / "set", problems=False)
        (readable / "5_teapot" / "2.txt").chmod(0)
        env = {"LORAGATE_DATA_DIR": str(data), "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir)}

        def audit(folder: Path) -> subprocess.CompletedProcess[str]:
            argv = ["audit", str(folder), *AUDIT]
            return run_unprivileged(
                f"import sys; from app.cli import main; sys.exit(main({argv!r}))", env=env
            )

        whole = audit(closed)
        assert whole.returncode == 1 and "Traceback" not in whole.stderr, whole.stderr
        assert f"✗ loragate cannot read the folder {closed} (permission denied)" in whole.stdout
        assert f"chmod -R u+rX '{closed}'" in whole.stdout
        caption = audit(readable)
        assert caption.returncode == 1 and "Traceback" not in caption.stderr, caption.stderr
        assert (
            "✗ loragate cannot read the caption 5_teapot/2.txt (permission denied); "
            "5_teapot/2.png was checked without it." in caption.stdout
        )
        assert "chmod u+r '5_teapot/2.txt'" in caption.stdout
