from __future__ import annotations

from pathlib import Path

import pytest

from app.grimoire import (
    GrimoireError,
    RegisteredLora,
    load_eye,
    load_studio,
    register_lora,
)


def test_shipped_defaults_parse(grimoire_dir: Path) -> None:
    studio = load_studio(grimoire_dir)
    assert studio.base_models == []
    assert studio.gpu.currency == "USD"
    assert load_eye(grimoire_dir).style_words == []


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
