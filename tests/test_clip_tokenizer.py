from __future__ import annotations

from app.clip_tokenizer import USABLE_TOKENS, clip_tokenizer, count_tokens
from app.settings import Settings


def test_ids_match_real_clip(settings: Settings) -> None:
    ids = clip_tokenizer(settings)("a photo of a cat")["input_ids"]
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert len(clip_tokenizer(settings)) == 49408


def test_counts_exclude_start_and_end(settings: Settings) -> None:
    assert count_tokens("a photo of a cat", settings) == 5
    long_caption = ", ".join(["red scarf"] * 40)
    assert count_tokens(long_caption, settings) > USABLE_TOKENS
