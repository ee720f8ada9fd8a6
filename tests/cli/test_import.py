"""`loragate import PROJECT SOURCE` as a real subprocess: a folder and a zip of real photos
with captions land in the dataset and Gate 1 is checked (progress on stderr, the report
on stdout); refusals say why and import nothing (exit 1); a project the server is
importing into is left alone. The import is the worker's job, as on the Import page."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from sqlmodel import select

from app.dataset.inventory import dataset_dir
from app.gates.state import gate_state
from app.models import Job
from app.projects import create_project
from app.settings import Settings
from app.workspace import ProjectContext, Workspace
from tests.cli.conftest import CliRunner, json_of
from tests.cli.photos import IMAGES, photo_folder, teapot_intent


@pytest.fixture
def ctx(workspace: Workspace, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    project, _ = create_project(workspace, teapot_intent(make_intent))
    return workspace.context(project)


def dataset_files(ctx: ProjectContext) -> list[str]:
    root = dataset_dir(ctx)
    if not root.exists():
        return []
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


@pytest.mark.slow
def test_a_folder_is_imported_and_gate1_checked(
    cli: CliRunner, ctx: ProjectContext, tmp_path: Path
) -> None:
    source = photo_folder(tmp_path / "photos")
    (source / "Thumbs.db").write_bytes(b"junk")
    result = cli("import", "teapot", str(source), "--json")
    assert result.returncode == 0, result.stderr
    report = json_of(result)
    assert isinstance(report, dict) and report["imported"] is True
    assert len(report["import"]["images"]) == len(report["import"]["captions"]) == IMAGES
    assert report["import"]["junk"] == ["Thumbs.db"]
    assert report["gate"]["verdict"] == "block" and report["gate"]["images"] == IMAGES
    assert len(dataset_files(ctx)) == 2 * IMAGES
    assert gate_state(ctx, "dataset").status == "block"  # recorded: drafts are not approved
    assert "Copying images" in result.stderr and "Checking images" in result.stderr
    # The Import page's own job, started under the worker's one lock, ran it.
    with ctx.workspace.db.reading() as session:
        jobs = session.exec(select(Job).where(Job.project_id == ctx.project.id)).all()
    assert [(job.kind, job.state) for job in jobs] == [("dataset.import", "done")]
    assert jobs[0].pid is not None and jobs[0].pid != os.getpid()

    plain = cli("import", "teapot", str(source))
    assert plain.returncode == 0, plain.stderr
    assert f"Imported 0 images and 0 captions from {source} ({IMAGES} already there" in plain.stdout
    assert "Gate 1 blocks training:" in plain.stdout and "loragate captions teapot" in plain.stdout


@pytest.mark.slow
def test_a_zip_is_unpacked_imported_and_its_staging_removed(
    cli: CliRunner, ctx: ProjectContext, settings: Settings, tmp_path: Path
) -> None:
    source = photo_folder(tmp_path / "photos", count=3)
    archive = tmp_path / "teapot.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(source.rglob("*")):
            zipped.write(path, path.relative_to(source).as_posix())
    result = cli("import", "teapot", str(archive))
    assert result.returncode == 0, result.stderr
    assert "Imported 3 images and 3 captions from the zip teapot.zip." in result.stdout
    assert "3_teapot/00.png" in dataset_files(ctx)
    assert list((settings.data_dir / "staging").iterdir()) == []


def test_refusals_say_why_and_import_nothing(
    cli: CliRunner, ctx: ProjectContext, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a zip")
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zipped:
        zipped.writestr("../outside.png", b"x")
    dataset_dir(ctx).mkdir(parents=True, exist_ok=True)
    for source, says in (
        (tmp_path / "nowhere", "Nothing exists at"),
        (text, "is a file but not a zip archive: give a folder or a .zip"),
        (slip, "(a “zip slip”). It was not unpacked."),
        (dataset_dir(ctx), "is the project's own dataset folder"),
    ):
        result = cli("import", "teapot", str(source))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Nothing was imported: " in result.stderr and says in result.stderr
        assert "Traceback" not in result.stderr
    assert dataset_files(ctx) == [] and not (tmp_path / "outside.png").exists()
    assert gate_state(ctx, "dataset").status == "not_run"
    assert cli("import", "nobody", str(tmp_path)).returncode == 2


def test_a_project_the_server_is_working_on_is_left_alone(
    cli: CliRunner, ctx: ProjectContext, tmp_path: Path
) -> None:
    with ctx.workspace.db.writing() as session:
        session.add(
            Job(
                project_id=ctx.project.id,
                kind="dataset.audit",
                title="Auditing the dataset",
                state="running",
            )
        )
    result = cli("import", "teapot", str(photo_folder(tmp_path / "photos", count=1)), "--json")
    assert result.returncode == 1
    report = json_of(result)
    assert isinstance(report, dict) and report["imported"] is False
    assert "“Auditing the dataset” is running for this project in loragate serve" in report["error"]
    assert dataset_files(ctx) == []
