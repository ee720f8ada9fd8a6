"""A command imports only what it uses, so that it starts fast (bench/cli_start.py times
it): the audit of a folder keeps no database rows, and an empty folder measures no image.
"""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings
from tests.cli.conftest import run_probe

# What the audit of an empty folder has no use for, and what each cost it to import.
UNUSED_BY_AN_EMPTY_AUDIT = (
    "scipy",  # through imagehash: only measuring an image needs it
    "imagehash",
    "sqlmodel",  # every table, the database and its migrations: the CLI audit keeps no rows
    "sqlalchemy",
    "alembic",
    "app.models",
    "app.db",
    "app.workspace",
)


def command_loading(
    settings: Settings, argv: list[str], unused: tuple[str, ...]
) -> tuple[str, str]:
    """Run the command in a fresh interpreter: (its exit status and which of ``unused``
    it loaded, its standard output)."""
    probe = (
        "import sys\n"
        "from app.cli import main\n"
        f"status = main({argv!r})\n"
        f"unused = {unused!r}\n"
        "print(status, [name for name in unused if name in sys.modules], file=sys.stderr)\n"
    )
    result = run_probe(settings, probe)
    return result.stderr.strip().splitlines()[-1], result.stdout


def test_the_audit_of_an_empty_folder_loads_neither_scipy_nor_the_database(
    settings: Settings, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["audit", str(empty), "--type", "style", "--trigger", "zq", "--family", "sdxl"]
    loaded, out = command_loading(settings, argv, UNUSED_BY_AN_EMPTY_AUDIT)
    assert loaded == "1 []"
    assert "The dataset has no usable images." in out


# What listing jobs has no use for: it reads job rows and never the grimoire's YAML or a
# job's process.
UNUSED_BY_THE_JOB_LIST = ("ruamel.yaml", "app.grimoire", "psutil")


def test_the_job_list_loads_neither_the_grimoire_reader_nor_psutil(settings: Settings) -> None:
    loaded, out = command_loading(settings, ["jobs"], UNUSED_BY_THE_JOB_LIST)
    assert loaded == "0 []"
    assert "No jobs yet." in out
