from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.grimoire import (
    MAX_FILE_BYTES,
    GrimoireError,
    RegisteredLora,
    file_problems,
    load_eye,
    load_studio,
    register_lora,
    studio_path,
)
from app.workspace import ProjectContext, Workspace
from tests.captions.caption_projects import TRIGGER, caption_project, image_id, mira_intent


def test_shipped_defaults_parse(grimoire_dir: Path) -> None:
    studio = load_studio(grimoire_dir)
    assert studio.base_models == []
    assert studio.gpu.currency == "USD"
    assert load_eye(grimoire_dir).style_words == []


def test_the_shipped_model_folders_example_works_once_uncommented(grimoire_dir: Path) -> None:
    # An artist finds the key `loragate models list` scans in studio.md itself, and the
    # example is valid as it stands: removing its "# " marks is enough.
    path = studio_path(grimoire_dir)
    text = path.read_text()
    assert "# model_folders:\n#   - ~/ComfyUI\n" in text
    path.write_text(re.sub(r"^# (model_folders:|  - )", r"\1", text, flags=re.M))
    folders = load_studio(grimoire_dir).model_folders
    assert folders == ["~/ComfyUI", "~/stable-diffusion-webui", "/mnt/models/checkpoints"]


def test_register_lora_keeps_comments_and_body(grimoire_dir: Path) -> None:
    studio_file = grimoire_dir / "studio.md"
    studio_file.write_text(studio_file.read_text() + "\nMy own notes: keep me.\n")
    before = studio_file.read_text()
    register_lora(
        grimoire_dir,
        RegisteredLora(
            name="inkwash-v1",
            path="/loras/inkwash.safetensors",
            trigger_word="zkinkwash",
            family="sdxl",
            weight=0.8,
        ),
    )
    after = studio_file.read_text()
    assert "My own notes: keep me." in after
    assert after.split("\n---\n", 1)[1] == before.split("\n---\n", 1)[1]  # body byte-identical
    assert "# Base models you train on." in after  # the person's comments survive
    studio = load_studio(grimoire_dir)
    assert [(lora.name, lora.weight) for lora in studio.loras] == [("inkwash-v1", 0.8)]
    # Registering the same name again replaces, it does not duplicate.
    register_lora(
        grimoire_dir,
        RegisteredLora(
            name="inkwash-v1",
            path="/loras/v2.safetensors",
            trigger_word="zkinkwash",
            family="sdxl",
            weight=0.7,
        ),
    )
    assert [lora.path for lora in load_studio(grimoire_dir).loras] == ["/loras/v2.safetensors"]


STUDIO_WITH_LORAS_FIRST = """---
# LoRAs I use.
loras:
  - name: mine
    path: /loras/mine.safetensors
    trigger_word: zkmine
    family: sd15
{ending}#  - name: example
#    weight: 0.8

# The GPU I train on.
gpu:
  name:
---
My notes.
"""


@pytest.mark.parametrize(
    "ending",
    ["    weight_range:\n      - 0.5\n      - 1.0\n", "    weight: 0.8   # found by hand\n"],
    ids=["entry-ending-in-a-list", "entry-ending-in-a-comment"],
)
def test_registered_loras_stay_above_the_comments_that_follow_the_list(
    grimoire_dir: Path, ending: str
) -> None:
    studio_file = grimoire_dir / "studio.md"
    studio_file.write_text(STUDIO_WITH_LORAS_FIRST.format(ending=ending))
    for name in ("inkwash-v1", "inkwash-v2"):
        register_lora(
            grimoire_dir,
            RegisteredLora(
                name=name, path=f"/loras/{name}.safetensors", trigger_word="zk", family="sd15"
            ),
        )
    lines = studio_file.read_text().splitlines()
    # The entries read one after the other; the example and the next setting's heading
    # stay below the list, above the setting they describe.
    assert [line for line in lines if line.startswith("  - name:")] == [
        "  - name: mine",
        "  - name: inkwash-v1",
        "  - name: inkwash-v2",
    ]
    gpu = lines.index("gpu:")
    last_entry = max(i for i, line in enumerate(lines[:gpu]) if line.startswith("  "))
    assert lines[last_entry + 1 : gpu + 1] == [
        "#  - name: example",
        "#    weight: 0.8",
        "",
        "# The GPU I train on.",
        "gpu:",
    ]
    assert [lora.name for lora in load_studio(grimoire_dir).loras] == [
        "mine",
        "inkwash-v1",
        "inkwash-v2",
    ]
    assert studio_file.read_text().endswith("---\nMy notes.\n")
    assert ending in studio_file.read_text()  # the entry's own end stays with it


def test_broken_yaml_is_a_plain_error(grimoire_dir: Path) -> None:
    (grimoire_dir / "studio.md").write_text("---\nbase_models: [unclosed\n---\nbody\n")
    with pytest.raises(GrimoireError, match="not valid YAML"):
        load_studio(grimoire_dir)


def test_wrong_types_are_a_plain_error(grimoire_dir: Path) -> None:
    (grimoire_dir / "studio.md").write_text("---\ngpu:\n  hourly_cost: lots\n---\n")
    with pytest.raises(GrimoireError, match=r"gpu\.hourly_cost"):
        load_studio(grimoire_dir)


def test_file_without_front_matter_is_all_body(grimoire_dir: Path) -> None:
    (grimoire_dir / "eye.md").write_text("Just prose about my style.\n")
    assert load_eye(grimoire_dir).style_words == []


def test_non_utf8_file_is_a_plain_error(grimoire_dir: Path) -> None:
    (grimoire_dir / "eye.md").write_bytes("---\nstyle_words: [café]\n---\n".encode("latin-1"))
    with pytest.raises(GrimoireError, match="not UTF-8"):
        load_eye(grimoire_dir)


# --- files that cannot be read: a plain GrimoireError, never a crash -----------------


def _alias_bomb(levels: int) -> str:
    """A "billion laughs": each level repeats the one before nine times."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "---\n" + "\n".join(lines) + f"\nstyle_words: *a{levels}\n---\n"


def _nested_brackets(path: Path) -> None:
    path.write_text("---\nstyle_words: " + "[" * 5000 + "\n---\n")


def _a_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _a_symlink_loop(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.name)


def _an_alias_bomb(path: Path) -> None:
    path.write_text(_alias_bomb(5))


CORRUPTIONS = {
    "nested brackets": (_nested_brackets, "more than 32 levels deep"),
    "a folder": (_a_folder, "is a folder"),
    "a symlink loop": (_a_symlink_loop, "leads back to itself"),
    "an alias bomb": (_an_alias_bomb, "YAML alias"),
}


@pytest.mark.parametrize("name", ["eye.md", "studio.md"])
@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_an_unreadable_file_is_a_plain_error(
    grimoire_dir: Path, name: str, corruption: str
) -> None:
    corrupt, words = CORRUPTIONS[corruption]
    corrupt(grimoire_dir / name)
    load = load_eye if name == "eye.md" else load_studio
    with pytest.raises(GrimoireError, match=words) as caught:
        load(grimoire_dir)
    assert name in str(caught.value)


def test_an_alias_bomb_is_refused_by_line_before_it_expands(grimoire_dir: Path) -> None:
    # Nine levels expand to 9**10 values: only a refusal before expansion returns at all.
    (grimoire_dir / "eye.md").write_text(_alias_bomb(9))
    with pytest.raises(GrimoireError, match=r"YAML alias \(\*name\) on line 3"):
        load_eye(grimoire_dir)


@pytest.mark.timeout(30)
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(grimoire_dir: Path) -> None:
    (grimoire_dir / "eye.md").unlink()
    os.mkfifo(grimoire_dir / "eye.md")
    with pytest.raises(GrimoireError, match="not a regular file"):
        load_eye(grimoire_dir)


def test_an_oversized_file_is_refused_unread(grimoire_dir: Path) -> None:
    words = "".join(f"  - word{index}\n" for index in range(MAX_FILE_BYTES // 10))
    (grimoire_dir / "eye.md").write_text(f"---\nstyle_words:\n{words}---\n")
    with pytest.raises(GrimoireError, match="larger than 1 MB"):
        load_eye(grimoire_dir)


def test_file_problems_names_each_unreadable_file(grimoire_dir: Path) -> None:
    assert file_problems(grimoire_dir) == []
    _a_folder(grimoire_dir / "eye.md")
    assert [problem.split(" ", 1)[0] for problem in file_problems(grimoire_dir)] == ["eye.md"]


# --- parsed once per version -----------------------------------------------------------


def test_a_file_is_parsed_once_per_version(grimoire_dir: Path) -> None:
    eye_file = grimoire_dir / "eye.md"
    eye_file.write_text("---\nstyle_words: [ink]\n---\n")
    first = load_eye(grimoire_dir)
    assert load_eye(grimoire_dir) is first  # unchanged: the parsed file is reused
    # Rewritten in place with text of the same length: a new version all the same.
    eye_file.write_text("---\nstyle_words: [oil]\n---\n")
    second = load_eye(grimoire_dir)
    assert second is not first and second.style_words == ["oil"]
    assert load_eye(grimoire_dir) is second


def test_a_rewrite_by_loragate_is_seen(grimoire_dir: Path) -> None:
    before = load_studio(grimoire_dir)
    register_lora(
        grimoire_dir,
        RegisteredLora(name="v1", path="/loras/v1.safetensors", trigger_word="zk", family="sdxl"),
    )
    assert before.loras == [] and [lora.name for lora in load_studio(grimoire_dir).loras] == ["v1"]


def test_a_problem_is_remembered_and_cleared_by_a_fix(grimoire_dir: Path) -> None:
    eye_file = grimoire_dir / "eye.md"
    eye_file.write_text("---\nstyle_words: [unclosed\n---\n")
    for _ in range(2):
        with pytest.raises(GrimoireError, match="not valid YAML"):
            load_eye(grimoire_dir)
    eye_file.write_text("---\nstyle_words: [closed]\n---\n")
    assert load_eye(grimoire_dir).style_words == ["closed"]


# --- through the app: every page still answers, and says what is wrong ----------------

PAGES = (
    "/",
    "/projects/new",
    "/projects/mira",
    "/projects/mira/captions",
    "/projects/mira/captions/auto",
    "/projects/mira/audit",
    "/projects/mira/gates/dataset",
    "/projects/mira/config",
    "/projects/mira/gates/config",
    "/projects/mira/environment",
)
NOTICE = re.compile(r'<p class="notice notice-error grimoire-problem"[^>]*>([^<]*)</p>')


@pytest.fixture
def mira(client: TestClient, make_intent) -> ProjectContext:  # type: ignore[no-untyped-def]
    workspace: Workspace = client.app.state.workspace  # type: ignore[attr-defined]
    return caption_project(
        workspace,
        mira_intent(make_intent, training_type="style", must_vary=""),
        [f"{TRIGGER}, lighthouse", f"{TRIGGER}, owl"],
    )


@pytest.mark.parametrize("name", ["eye.md", "studio.md"])
@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_pages_show_a_notice_and_work_with_defaults(
    client: TestClient,
    mira: ProjectContext,
    grimoire_dir: Path,
    make_intent,  # type: ignore[no-untyped-def]
    name: str,
    corruption: str,
) -> None:
    assert all(not NOTICE.search(client.get(url).text) for url in PAGES[:3])
    corrupt, words = CORRUPTIONS[corruption]
    corrupt(grimoire_dir / name)
    for url in PAGES:
        page = client.get(url)
        assert page.status_code == 200, url
        notices = NOTICE.findall(page.text)
        assert len(notices) == 1 and name in notices[0], url
        assert words in notices[0] and "works with that file's defaults" in notices[0]
    image = image_id(mira, "10_mira/000.png")
    edited = client.post(
        f"/projects/mira/captions/{image}/text",
        data={"version": 1, "text": f"{TRIGGER}, lighthouse at dusk"},
        headers={"hx-request": "true"},
    )
    assert edited.status_code == 200 and "lighthouse at dusk</textarea>" in edited.text
    form = make_intent(name="Second").model_dump() | {"understood": "yes"}
    form["base_model_path"], form["base_model"] = form["base_model"], "__path__"
    created = client.post("/projects", data=form, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"].endswith("/projects/second")
