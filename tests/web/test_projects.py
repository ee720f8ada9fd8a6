"""The intent interview over HTTP.

HTMX contract checked here:
- GET /projects/new/explain?training_type=&model_family= → partial for #explain
- POST /projects/new/check-trigger (trigger_word) → partial for #trigger-feedback
- POST /projects → 303 to the overview, or 422 with the interview and every error
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from app.findings import make_result
from app.gate_records import record_result
from app.gates import environment as environment_gate
from app.models import Event, Project
from app.projects import create_project, get_project
from app.settings import REPO_ROOT, Settings
from app.workspace import Workspace
from tests.conftest import BASE_URL


def _form(make_intent, **overrides: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    intent = make_intent()
    form = intent.model_dump() | {"understood": "yes"}
    form["base_model_path"] = form["base_model"]
    form["base_model"] = "__path__"
    form.update(overrides)
    return form


def test_empty_list_explains_and_offers_to_create(client: TestClient) -> None:
    page = client.get("/").text
    assert "loragate takes you from a folder of images to a LoRA" in page
    assert 'href="http://127.0.0.1:8765/projects/new"' in page


def test_wizard_explains_content_style_before_creation(client: TestClient) -> None:
    page = client.get("/projects/new").text
    assert "Describe the content of every image" in page  # style is preselected
    partial = client.get(
        "/projects/new/explain",
        params={"training_type": "character", "model_family": "flux"},
        headers={"hx-request": "true"},
    ).text
    assert "<html" not in partial
    assert "leave the character's fixed traits" in partial.replace("&#39;", "'")
    assert "T5 language model" in partial


def test_trigger_feedback_partial(client: TestClient) -> None:
    common = client.post("/projects/new/check-trigger", data={"trigger_word": "lantern"}).text
    assert "common English word" in common
    tag = client.post("/projects/new/check-trigger", data={"trigger_word": "1girl"}).text
    assert "common booru tag" in tag
    comma = client.post("/projects/new/check-trigger", data={"trigger_word": "ink, wash"}).text
    assert "comma" in comma
    rare = client.post("/projects/new/check-trigger", data={"trigger_word": "zkinkwash"}).text
    assert "Good" in rare


def test_create_project_redirects_to_overview_with_record(
    client: TestClient,
    make_intent,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    response = client.post("/projects", data=_form(make_intent), follow_redirects=False)
    assert response.status_code == 303
    overview = client.get(response.headers["location"]).text
    assert "Ink wash" in overview
    for gate in ("Gate 1 · Dataset", "Gate 2 · Config", "Gate 3 · Environment", "Gate 4 · Dry run"):
        assert gate in overview
    assert overview.count('data-status="not_run"') == 4
    assert overview.count('class="phase"') == 13
    assert "Project “Ink wash” created." in overview
    folder = settings.training_dir / "ink-wash"
    assert (folder / "project.json").is_file()
    assert "Trigger word: “zkinkwash”" in (folder / "journal.md").read_text()
    assert "Ink wash" in client.get("/").text


def test_missing_answers_are_all_named_and_nothing_is_written(
    client: TestClient, settings: Settings
) -> None:
    response = client.post("/projects", data={"name": "", "trigger_word": ""})
    assert response.status_code == 422
    page = response.text
    assert "The project was not created" in page
    assert "Give the project a name" in page
    assert "The trigger word is empty" in page
    assert "Choose what you are training" in page
    assert "tick the box" in page
    assert list(settings.training_dir.iterdir()) == []


def test_duplicate_name_is_refused(client: TestClient, make_intent) -> None:  # type: ignore[no-untyped-def]
    assert (
        client.post("/projects", data=_form(make_intent), follow_redirects=False).status_code == 303
    )
    again = client.post("/projects", data=_form(make_intent, name="ink  WASH"))
    assert again.status_code == 422
    assert "already exists" in again.text


def test_comma_in_trigger_and_missing_model_keep_the_answers(
    client: TestClient,
    make_intent,
    settings: Settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    missing = tmp_path / "nowhere" / "model.safetensors"
    response = client.post(
        "/projects", data=_form(make_intent, trigger_word="ink, wash", base_model_path=str(missing))
    )
    assert response.status_code == 422
    assert "comma" in response.text
    assert f"Nothing exists at {missing}" in response.text
    assert 'value="Ink wash"' in response.text  # what the artist typed is not lost
    assert list(settings.training_dir.iterdir()) == []


def test_untrusted_text_is_escaped(client: TestClient, make_intent) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/projects",
        data=_form(make_intent, name="<script>alert(1)</script> style"),
        follow_redirects=False,
    )
    assert response.status_code == 303
    overview = client.get(response.headers["location"]).text
    assert "<script>alert(1)</script>" not in overview
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in overview


def test_unknown_project_is_a_plain_404(client: TestClient) -> None:
    response = client.get("/projects/nope")
    assert response.status_code == 404
    assert "There is no project “nope”." in response.text


def test_studio_models_are_offered(
    client: TestClient, settings: Settings, base_model_file: Path
) -> None:
    studio = settings.grimoire_dir / "studio.md"
    studio.write_text(
        studio.read_text().replace(
            "base_models: []",
            f"base_models:\n  - name: my-sdxl\n    path: {base_model_file}\n    family: sdxl",
        )
    )
    page = client.get("/projects/new").text
    assert 'value="my-sdxl"' in page


def test_unreadable_requests_get_a_plain_page_not_json(client: TestClient, project) -> None:  # type: ignore[no-untyped-def]
    page = client.get(f"/projects/{project.slug}/images/not-a-number/thumb")
    assert page.status_code == 422
    assert "could not use what was sent (image_id)" in page.text
    assert '{"detail"' not in page.text
    partial = client.get(f"/projects/{project.slug}/images/x/thumb", headers={"hx-request": "true"})
    assert 'hx-swap-oob="beforeend:#toasts"' in partial.text


def test_the_home_page_says_what_works_today_and_what_is_coming(client: TestClient) -> None:
    page = client.get("/").text
    assert "Then it trains" not in page
    assert "Coming later, not there yet" not in page  # every phase has its page now
    assert "Works today:</strong> Intent, import, audit, captions, curate" in page
    assert "dry run, train, evaluate, diagnose, register" in page
    readme = (REPO_ROOT / "README.md").read_text()
    assert "Then it trains, streams loss and VRAM live" not in readme
    assert "training runs started from the Train page or `loragate train`" in readme
    assert "make run" in readme and "## Recipes" in readme


def test_addresses_left_by_a_failed_form_answer_with_their_page(
    client: TestClient, project: Project
) -> None:
    listed = client.get("/projects", follow_redirects=False)
    assert listed.status_code == 303 and listed.headers["location"] == f"{BASE_URL}/"
    sample = client.get(f"/projects/{project.slug}/captions/auto/sample", follow_redirects=False)
    assert sample.status_code == 303
    assert sample.headers["location"] == f"{BASE_URL}/projects/{project.slug}/captions/auto"
    assert client.get(f"/projects/{project.slug}/captions/auto/sample").status_code == 200


def test_the_interview_labels_every_field(client: TestClient, project: Project) -> None:
    page = client.get("/projects/new").text
    for field in ("trigger_word", "name", "model_family", "caption_format"):
        assert f'<label for="{field}">' in page and f'id="{field}"' in page
    assert '<label for="archive">' in client.get(f"/projects/{project.slug}/dataset").text


def test_archive_hides_keeps_everything_and_restores(
    client: TestClient, project: Project, settings: Settings
) -> None:
    folder = settings.training_dir / project.slug
    archived = client.post(f"/projects/{project.slug}/archive")
    assert archived.status_code == 200 and 'id="archived-link"' in archived.text
    assert "Archived “Ink wash”: hidden from this list, nothing removed" in archived.text
    assert 'class="project-link"' not in archived.text
    assert (folder / "project.json").is_file()
    shelf = client.get("/?show=archived").text
    assert "Ink wash" in shelf and "Restore Ink wash" in shelf
    overview = client.get(f"/projects/{project.slug}").text
    assert 'id="archived-notice"' in overview
    restored = client.post(f"/projects/{project.slug}/restore")
    assert "Restored: the project is back" in restored.text
    assert 'class="project-link"' in client.get("/").text
    journal = (folder / "journal.md").read_text()
    assert "Project “Ink wash” archived: hidden from the project list, nothing removed." in journal
    assert "Project “Ink wash” restored to the project list." in journal


def test_delete_asks_for_the_name_then_removes_rows_and_folder(
    client: TestClient,
    workspace: Workspace,
    make_intent,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    doomed, _ = create_project(workspace, make_intent(name="Doomed", trigger_word="zkdoom"))
    kept, _ = create_project(workspace, make_intent(name="Kept", trigger_word="zkkept"))
    folder = settings.training_dir / "doomed"
    (folder / "dataset").mkdir()
    Image.new("RGB", (64, 64)).save(folder / "dataset" / "a.png")
    page = client.get("/projects/doomed/delete").text
    assert "Deleting removes, for good:" in page and str(folder) in page
    assert '<label for="confirm_name">' in page
    refused = client.post("/projects/doomed/delete", data={"confirm_name": "doomed!"})
    assert refused.status_code == 422 and "Nothing was deleted" in refused.text
    assert (folder / "dataset" / "a.png").is_file()

    deleted = client.post("/projects/doomed/delete", data={"confirm_name": "Doomed"})
    assert deleted.status_code == 200
    assert "Deleted “Doomed”: its images, captions, journal and folder are gone." in deleted.text
    assert not folder.exists() and (settings.training_dir / "kept").is_dir()
    assert get_project(workspace, "doomed") is None and get_project(workspace, "kept")
    with workspace.db.reading() as session:
        assert not session.exec(select(Event).where(Event.project_id == doomed.id)).all()
    assert client.get("/projects/doomed").status_code == 404
    assert kept.id


def test_changing_answers_shows_the_stale_gates_on_the_overview(
    client: TestClient, project: Project, workspace: Workspace
) -> None:
    ctx = workspace.context(project)
    record_result(ctx, make_result("environment", [], environment_gate.fingerprint(ctx)))
    page = client.get(f"/projects/{project.slug}/intent").text
    assert 'name="model_family"' in page and "Save the changes" in page
    assert 'value="sdxl" selected' in page

    refused = client.post(
        f"/projects/{project.slug}/intent",
        data={
            "training_type": "style",
            "model_family": "sd9",
            "caption_format": "mixed",
            "base_model": "__path__",
            "base_model_path": project.base_model,
        },
    )
    assert refused.status_code == 422 and "Nothing was changed" in refused.text
    changed = client.post(
        f"/projects/{project.slug}/intent",
        data={
            "training_type": "style",
            "model_family": "sd15",
            "caption_format": "booru",
            "base_model": "__path__",
            "base_model_path": project.base_model,
            "must_vary": project.must_vary,
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    overview = client.get(changed.headers["location"]).text
    assert "Intent changed: model family Stable Diffusion XL → Stable Diffusion 1.5" in overview
    assert "Out of date now: Gate 3 · Environment (the base model&#39;s family changed)" in overview
    assert 'data-gate="environment" data-status="stale"' in overview
    assert "Stable Diffusion 1.5 · trigger" in overview


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("/models/" + "b" * 300 + ".safetensors", "a file or folder name can be at most 255 bytes"),
        ("~nosuchuser-loragate/x.safetensors", "but this computer has no such user"),
    ],
)
def test_a_model_path_no_file_system_holds_is_refused_in_words(
    client: TestClient, make_intent, settings: Settings, typed: str, words: str
) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/projects", data=_form(make_intent, base_model_path=typed))
    assert response.status_code == 422
    assert words in response.text
    assert list(settings.training_dir.iterdir()) == []


@pytest.mark.parametrize(
    "studio_path",
    ["/models/" + "b" * 300 + ".safetensors", "~nosuchuser-loragate/x.safetensors"],
)
def test_the_project_page_survives_a_studio_model_path_no_file_system_holds(
    client: TestClient, make_intent, settings: Settings, base_model_file: Path, studio_path: str
) -> None:  # type: ignore[no-untyped-def]
    studio = settings.grimoire_dir / "studio.md"
    entry = "base_models:\n  - name: my-sdxl\n    path: {}\n    family: sdxl"
    text = studio.read_text()
    studio.write_text(text.replace("base_models: []", entry.format(base_model_file)))
    created = client.post(
        "/projects",
        data=_form(make_intent, base_model_path="", base_model="my-sdxl"),
        follow_redirects=False,
    )
    assert created.status_code == 303
    # The studio's model moves to a path this computer cannot hold.
    studio.write_text(text.replace("base_models: []", entry.format(studio_path)))
    assert client.get(created.headers["location"]).status_code == 200
    config = client.get(created.headers["location"] + "/config")
    assert config.status_code == 200
    assert "studio.md points “my-sdxl” at" in config.text


def test_trainer_and_captioner_folders_no_file_system_holds_are_explained(
    client: TestClient, make_intent, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    """studio.md's trainer and captioner folders are typed by hand: one that names a user
    this computer does not have, or a name too long for any file system, is a finding on
    the pages that use it, never a 500."""
    created = client.post("/projects", data=_form(make_intent), follow_redirects=False)
    assert created.status_code == 303
    page = created.headers["location"]
    studio = settings.grimoire_dir / "studio.md"
    text = studio.read_text()
    for folder in ("~nosuchuser-loragate/sd-scripts", "/opt/" + "b" * 300):
        changed = re.sub(r"(?m)^  kohya:.*$", f"  kohya: {folder}", text)
        changed = re.sub(r"(?m)^  wd14:.*$", f"  wd14: {folder}", changed)
        studio.write_text(changed)
        config = client.get(page + "/config", params={"backend": "kohya"})
        assert config.status_code == 200
        assert client.get(page + "/config/files/kohya.zip").status_code < 500
        captioners = client.get(page + "/captions/auto")
        assert captioners.status_code == 200


def test_every_job_kind_resumes_to_a_page_that_exists() -> None:
    """Resume builds its page link from JOB_PAGES: a name that is no route would be a
    500 on the Resume button (the environment check's was, once)."""
    from app.main import ROUTERS
    from app.web.jobs import JOB_PAGES

    names = {getattr(route, "name", None) for router in ROUTERS for route in router.routes}
    assert {kind: page for kind, page in JOB_PAGES.items() if page not in names} == {}
