from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from app.models import Event, Project
from app.project_archive import ProjectActionError, archive_project, delete_project
from app.projects import IntentErrors, create_project, get_project, list_projects, slugify
from app.worker import Worker
from app.workspace import Workspace
from tests.worker.kinds import HOLD


def test_create_writes_row_record_and_journal(workspace: Workspace, make_intent) -> None:  # type: ignore[no-untyped-def]
    project, validated = create_project(workspace, make_intent(must_stay="thick outlines"))
    folder = workspace.project_dir(project.slug)
    record = json.loads((folder / "project.json").read_text())
    assert record["trigger_word"] == "zkinkwash"
    assert record["must_stay"] == "thick outlines"
    journal = (folder / "journal.md").read_text()
    assert "Project “Ink wash” created." in journal
    assert "Must stay fixed: thick outlines" in journal
    with workspace.db.reading() as session:
        kinds = [e.kind for e in session.exec(select(Event).where(Event.project_id == project.id))]
    assert kinds[0] == "project.created" and kinds.count("intent.answer") >= 3
    assert validated.warnings == {}
    assert [p.slug for p in list_projects(workspace)] == ["ink-wash"]


def test_caption_format_against_family_is_warned_and_journaled(
    workspace: Workspace, make_intent
) -> None:  # type: ignore[no-untyped-def]
    project, validated = create_project(
        workspace, make_intent(model_family="flux", caption_format="booru")
    )
    assert "T5" in validated.warnings["caption_format"][0]
    assert (
        "Noted warning (caption format)"
        in (workspace.project_dir(project.slug) / "journal.md").read_text()
    )


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"name": ""}, "name", "Give the project a name"),
        ({"name": "!!!"}, "name", "at least one letter"),
        ({"name": "x" * 81}, "name", "under 80"),
        ({"trigger_word": ""}, "trigger_word", "empty"),
        ({"trigger_word": "ink,wash"}, "trigger_word", "comma"),
        ({"trigger_word": "ink<wash>"}, "trigger_word", "letters, digits"),
        ({"training_type": "portrait"}, "training_type", "style, character"),
        ({"model_family": "sd99"}, "model_family", "family"),
        ({"caption_format": "haiku"}, "caption_format", "caption format"),
        ({"base_model": ""}, "base_model", "Choose a base model"),
        ({"base_model": "relative/model.safetensors"}, "base_model", "absolute path"),
        ({"base_model": "/no/such/model.safetensors"}, "base_model", "Nothing exists"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_written(
    workspace: Workspace,
    make_intent,
    overrides: dict[str, str],
    field: str,
    fragment: str,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(IntentErrors) as caught:
        create_project(workspace, make_intent(**overrides))
    assert fragment in caught.value.errors[field]
    assert list(workspace.settings.training_dir.iterdir()) == []
    assert list_projects(workspace) == []


def test_duplicate_name_is_refused(workspace: Workspace, make_intent) -> None:  # type: ignore[no-untyped-def]
    create_project(workspace, make_intent())
    with pytest.raises(IntentErrors) as caught:
        create_project(workspace, make_intent(name="INK wash!"))
    assert "already exists" in caught.value.errors["name"]


def test_orphan_folder_is_never_written_into(workspace: Workspace, make_intent) -> None:  # type: ignore[no-untyped-def]
    orphan = workspace.settings.training_dir / "ink-wash"
    orphan.mkdir()
    (orphan / "keep.txt").write_text("mine")
    with pytest.raises(IntentErrors) as caught:
        create_project(workspace, make_intent())
    assert "already exists but no project uses it" in caught.value.errors["name"]
    assert [p.name for p in orphan.iterdir()] == ["keep.txt"]


def test_folder_must_be_a_diffusers_model(
    workspace: Workspace, make_intent, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    with pytest.raises(IntentErrors) as caught:
        create_project(workspace, make_intent(base_model=str(folder)))
    assert "model_index.json" in caught.value.errors["base_model"]
    (folder / "model_index.json").write_text("{}")
    create_project(workspace, make_intent(base_model=str(folder)))


def test_studio_model_family_must_match(
    workspace: Workspace, make_intent, base_model_file: Path
) -> None:  # type: ignore[no-untyped-def]
    studio = workspace.grimoire_dir / "studio.md"
    studio.write_text(
        studio.read_text().replace(
            "base_models: []",
            f"base_models:\n  - name: my-sd15\n    path: {base_model_file}\n    family: sd15",
        )
    )
    with pytest.raises(IntentErrors) as caught:
        create_project(workspace, make_intent(base_model="my-sd15", model_family="sdxl"))
    assert "lists “my-sd15” as Stable Diffusion 1.5" in caught.value.errors["base_model"]
    project, _ = create_project(
        workspace, make_intent(base_model="my-sd15", model_family="sd15", caption_format="booru")
    )
    assert project.base_model == "my-sd15"


def test_slugify() -> None:
    assert slugify("Ink Wash — v2!") == "ink-wash-v2"
    assert slugify("Café Noir") == "cafe-noir"
    assert slugify("../../etc") == "etc"


def test_a_name_without_latin_letters_gets_a_folder(workspace: Workspace, make_intent) -> None:  # type: ignore[no-untyped-def]
    project, _ = create_project(workspace, make_intent(name="水墨"))
    assert project.name == "水墨"
    assert project.slug.startswith("project-")
    assert workspace.project_dir(project.slug).is_dir()
    with pytest.raises(IntentErrors) as caught:
        create_project(workspace, make_intent(name="水墨"))
    assert "already exists" in caught.value.errors["name"]


def test_a_trigger_word_already_in_use_is_warned(workspace: Workspace, make_intent) -> None:  # type: ignore[no-untyped-def]
    from app.grimoire import RegisteredLora, register_lora

    create_project(workspace, make_intent())
    _, validated = create_project(workspace, make_intent(name="Ink wash v2"))
    assert "already the trigger word of project “Ink wash”" in validated.warnings["trigger_word"][0]
    register_lora(
        workspace.grimoire_dir,
        RegisteredLora(name="mira-v1", path="/l.safetensors", trigger_word="mirakz", family="sd15"),
    )
    _, validated = create_project(workspace, make_intent(name="Mira", trigger_word="MiraKZ"))
    assert "the LoRA “mira-v1”" in validated.warnings["trigger_word"][0]


def test_a_project_with_a_job_running_is_not_put_away(
    workspace: Workspace, project: Project, no_leftover_jobs: None
) -> None:
    worker = Worker(workspace, cancel_grace=1.0)
    job = worker.start(HOLD, project.id, title="Auditing")
    try:
        with pytest.raises(ProjectActionError, match="“Auditing” is running"):
            delete_project(workspace, project, project.name)
        with pytest.raises(ProjectActionError, match="“Auditing” is running"):
            archive_project(workspace, project)
    finally:
        worker.cancel(job.id or 0)
        worker.wait(job.id or 0, 60)
    folder = workspace.project_dir(project.slug)
    assert (folder / "journal.md").is_file() and get_project(workspace, project.slug)
    assert "archived" not in (folder / "journal.md").read_text()
