"""The whole road to passing gates from a shell, every step a real `loragate` process on
a real project: create it, import a folder of photos with captions, read and approve
every caption, see Gate 1 pass (no `structure` needed), change the config, write the
training folder, and bring the gates up to date. No HTTP, no scraping of the grid."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.settings import Settings
from tests.cli.conftest import CliRunner, json_of
from tests.cli.photos import IMAGES, TRIGGER, photo_folder


def gates_of(cli: CliRunner, slug: str) -> tuple[int, dict[str, str]]:
    result = cli("gates", slug, "--json")
    report = json_of(result)
    assert isinstance(report, dict), result.stderr
    return result.returncode, {gate["gate"]: gate["status"] for gate in report["gates"]}


@pytest.mark.slow
def test_a_script_takes_a_project_from_photos_to_passing_gates(
    cli: CliRunner, settings: Settings, model_path: str, tmp_path: Path
) -> None:
    created = cli(
        "project", "create", "Teapot", "--type", "object", "--trigger", TRIGGER,
        "--base-model", model_path, "--family", "sd15", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    slug = json_of(created)["project"]["slug"]  # type: ignore[index]

    imported = cli("import", slug, str(photo_folder(tmp_path / "photos")), "--json")
    assert imported.returncode == 0, imported.stderr
    report = json_of(imported)
    assert isinstance(report, dict) and len(report["import"]["images"]) == IMAGES
    assert report["gate"]["verdict"] == "block"  # nothing approved yet
    assert "Copying images" in imported.stderr  # progress, kept off stdout

    listing = cli("captions", slug, "--status", "unapproved", "--json")
    seen = tmp_path / "seen.json"
    seen.write_text(listing.stdout)
    assert len(json.loads(listing.stdout)["images"]) == IMAGES
    approved = cli("captions", "approve", slug, "--seen", str(seen))
    assert approved.returncode == 0, approved.stderr
    assert "Gate 1 passes" in approved.stdout

    code, gates = gates_of(cli, slug)
    assert gates["dataset"] in ("pass", "warn")  # re-checked by the approval itself
    assert gates | {"dataset": "-"} == {
        "dataset": "-",
        "config": "not_run",
        "environment": "not_run",
        "dryrun": "not_run",
    }
    assert code == 1  # Gates 2 and 3 have not run

    changed = cli("config", slug, "--set", "device=cpu", "--set", "epochs=20")
    # The preset already picked this machine's device (no GPU here), so only epochs change.
    assert re.search(r"Changed: epochs \d+ → 20\.\n", changed.stdout), changed.stderr
    config = json.loads((settings.training_dir / slug / "training.json").read_text())
    assert config["device"] == "cpu" and config["epochs"] == 20
    # Gate 2 wants the training folder every backend reads.
    assert changed.returncode == 1 and "`loragate structure" in changed.stdout
    assert cli("structure", slug).returncode == 0

    code, gates = gates_of(cli, slug)
    assert (code, gates["config"]) == (1, "stale") and gates["dataset"] in ("pass", "warn")

    checked = cli("gates", slug, "--check", timeout=300)
    assert "Checking Gate 3" in checked.stderr
    # Gates 1-3 pass, so --check runs the dry run too: the stand-in base model is no
    # model, so it blocks, and training may not start.
    assert "Running Gate 4 (the dry run)" in checked.stderr
    assert checked.returncode == 1, checked.stdout + checked.stderr
    code, gates = gates_of(cli, slug)
    assert code == 1 and gates["dryrun"] == "block"
    assert {gates[name] for name in ("dataset", "config", "environment")} <= {"pass", "warn"}
