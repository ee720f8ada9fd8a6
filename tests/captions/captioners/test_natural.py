"""The natural-language captioner on a tiny, randomly initialised BLIP saved by conftest:
the real transformers loading (local files only, no remote code) and generation. Its
words are random; the tests assert on what the artist relies on, not on the words."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app.captions.captioners import (
    CaptionerUnavailable,
    CaptionRecipe,
    NaturalSettings,
    caption_rest,
    caption_sample,
    load_captioner,
)
from app.captions.captioners.natural import ImageToTextCaptioner
from app.captions.intent import CaptionIntent
from app.captions.text import starts_with_trigger
from app.grimoire import CaptionerPaths, Studio

pytestmark = pytest.mark.slow  # torch and transformers load in a few seconds
MakeImage = Callable[..., Path]
SHORT = NaturalSettings(max_new_tokens=6, num_beams=2, batch_size=2)


@pytest.fixture(scope="module")
def blip(blip_folder: Path) -> ImageToTextCaptioner:
    captioner = load_captioner(
        Studio(captioners=CaptionerPaths(natural=str(blip_folder))), "natural", Path("/"), SHORT
    )
    assert isinstance(captioner, ImageToTextCaptioner)
    return captioner


def test_blip_loads_from_its_folder_and_writes_sentences(
    blip: ImageToTextCaptioner, make_image: MakeImage
) -> None:
    images = [
        make_image("red.png", (255, 0, 0)),
        make_image("clear.png", (0, 0, 255, 0), mode="RGBA"),
    ]
    batch = blip.caption(images)
    assert blip.model_type == "blip" and blip.prompt == ""
    assert [raw.path for raw in batch.captions] == images and not batch.failures
    assert all(isinstance(raw.sentence, str) and raw.tags == () for raw in batch.captions)
    # Deterministic decoding: the sample the artist approves is what the batch writes.
    assert blip.caption(images[:1]).captions[0].sentence == batch.captions[0].sentence


def test_sample_then_rest_gives_drafts_in_natural_form(
    blip: ImageToTextCaptioner, make_image: MakeImage
) -> None:
    images = [make_image(f"{n}.png", (40 * n, 90, 200)) for n in range(7)]
    intent = CaptionIntent.build(
        training_type="character", trigger="mirakz", caption_format="natural", must_stay="red scarf"
    )
    sample = caption_sample(blip, images, intent, n=5)
    assert len(sample.drafts) == 5 and sample.source == "natural:blip-tiny"
    rest = caption_rest(
        blip, images, intent, CaptionRecipe(), sample=[d.path for d in sample.drafts]
    )
    drafts = sample.drafts + rest.drafts
    assert sorted(d.path for d in drafts) == sorted(images)
    for draft in drafts:
        assert draft.status == "draft"
        assert starts_with_trigger(draft.text, "mirakz")
        body = draft.text.removeprefix("mirakz").lstrip(", ")
        assert not body or (body[0].isupper() and body[-1] in ".!?")


def test_missing_tokenizer_is_named(blip_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "blip"
    shutil.copytree(blip_folder, folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(CaptionerUnavailable) as raised:
        ImageToTextCaptioner(folder)
    message = str(raised.value)
    assert f"{folder} is missing tokenizer.json or vocab.txt or tokenizer_config.json" in message
    assert "the model's configuration" not in message  # config.json is there


def test_no_natural_captioner_configured_says_where(tmp_path: Path) -> None:
    with pytest.raises(CaptionerUnavailable) as raised:
        load_captioner(Studio(), "natural", tmp_path)
    assert "captioners: natural:" in str(raised.value)
    assert "config.json" in str(raised.value)


def test_models_that_need_remote_code_are_refused(blip_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "remote"
    shutil.copytree(blip_folder, folder)
    config = json.loads((folder / "config.json").read_text("utf-8"))
    config["model_type"] = "florence2_custom"
    config["auto_map"] = {
        "AutoModelForCausalLM": "modeling_florence2.Florence2ForConditionalGeneration"
    }
    (folder / "config.json").write_text(json.dumps(config), "utf-8")
    with pytest.raises(CaptionerUnavailable, match="trust_remote_code"):
        ImageToTextCaptioner(folder)
