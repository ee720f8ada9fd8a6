from __future__ import annotations

import sys
from importlib import resources

import pytest

from app.intent import MODEL_FAMILIES, TRAINING_TYPES, check_trigger_word, is_common_word
from app.resources import check_source


@pytest.mark.parametrize("word", ["zkinkwash", "ohwx", "mira_kz", "sks-style"])
def test_rare_tokens_pass_cleanly(word: str) -> None:
    check = check_trigger_word(word)
    assert check.ok and check.warnings == [], check


@pytest.mark.parametrize("word", ["lantern", "castle", "dragon"])
def test_common_english_words_are_warned(word: str) -> None:
    check = check_trigger_word(word)
    assert check.ok
    assert any("common English word" in w for w in check.warnings)
    # The warning offers a rare alternative that is not itself common.
    suggestion = check.warnings[0].split("“")[2].split("”")[0]
    assert not is_common_word(suggestion)


def test_common_words_are_known_without_wordfreq(monkeypatch: pytest.MonkeyPatch) -> None:
    """loragate ships the word list instead of installing wordfreq (58 MB) for it."""
    monkeypatch.setitem(sys.modules, "wordfreq", None)  # cannot be imported
    assert is_common_word("lantern") and is_common_word("Castle") and is_common_word("café")
    assert not is_common_word("ohwx") and not is_common_word("zkinkwash")
    assert any("common English word" in w for w in check_trigger_word("red_lantern").warnings)
    header = (resources.files("app") / "data" / "common_words.txt").read_text("utf-8")[:2000]
    assert "CC BY-SA 4.0" in header and "wordfreq" in header  # its licence travels with it
    assert (resources.files("app") / "data" / "LICENSE-wordfreq").is_file()


@pytest.mark.parametrize("word", ["1girl", "solo", "masterpiece"])
def test_booru_tags_are_warned(word: str) -> None:
    assert any("booru tag" in w for w in check_trigger_word(word).warnings)


def test_space_is_warned() -> None:
    assert any("space" in w for w in check_trigger_word("zq inkwash").warnings)


def test_every_type_explains_content_style_with_a_source() -> None:
    for training_type in TRAINING_TYPES.values():
        assert training_type.content_style and training_type.example
        assert check_source(training_type.source) is None, training_type.source


def test_families_have_native_resolutions() -> None:
    assert {k: f.resolution for k, f in MODEL_FAMILIES.items()} == {
        "sd15": 512,
        "sd2": 768,
        "sdxl": 1024,
        "flux": 1024,
    }
