"""The intent interview over HTTP.

HTMX contract checked here:
- GET /projects/new/explain?training_type=&model_family= → partial for #explain
- POST /projects/new/check-trigger (trigger_word) → partial for #trigger-feedback
- POST /projects → 303 to the overview, or 422 with the interview and every error
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings


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
