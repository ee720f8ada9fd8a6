"""From what a captioner saw to a draft caption for this project.

In order: tags the project must not have are dropped (a recognised character's name in
a character LoRA, the style vocabulary in a style LoRA, the "must stay" traits, the
artist's blacklist), sentences lose the same words (``scrub``), the result is
written in the project's format, the artist's template and prefix are applied, and the
trigger word is put first (``text.prepare_caption``). Every removal is noted on
the draft in plain words. A draft is never approved here: a person approves it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.captions.captioners.base import RawCaption, ScoredTag
from app.captions.intent import CaptionIntent
from app.captions.scrub import scrub_sentence
from app.captions.text import check_tag, join_parts, prepare_caption
from app.captions.vocabulary import (
    loose_key,
    mentions,
    parse_list,
    style_term_in_tag,
    tag_is,
)

PLACEHOLDER = "{caption}"


@dataclass(frozen=True)
class CaptionRecipe:
    """The artist's adjustments after reading the sample."""

    blacklist: tuple[str, ...] = ()  # tags or words never to write
    prefix: str = ""  # written right after the trigger word, e.g. "1girl" or "a photo of"
    template: str = PLACEHOLDER  # where the captioner's words go, e.g. "{caption}, outdoors"

    def __post_init__(self) -> None:
        if self.template.count(PLACEHOLDER) != 1:
            raise ValueError(
                f"The template must contain {PLACEHOLDER} exactly once: it marks where the "
                "captioner's words go."
            )
        if "\n" in self.prefix or "\n" in self.template:
            raise ValueError(
                "A caption is one line: the prefix and template cannot hold line breaks."
            )

    @classmethod
    def build(
        cls, *, blacklist: str | Iterable[str] = "", prefix: str = "", template: str = ""
    ) -> CaptionRecipe:
        """From form fields: a blacklist typed as "a, b" or one per line."""
        items = parse_list(blacklist if isinstance(blacklist, str) else "\n".join(blacklist))
        return cls(
            blacklist=tuple(check_tag(item) for item in items),
            prefix=" ".join(prefix.split()),
            template=template.strip() or PLACEHOLDER,
        )


@dataclass(frozen=True)
class CaptionDraft:
    path: Path
    text: str
    source: str  # the captioner and its model folder, e.g. "wd14:wd-vit-tagger-v3"
    notes: tuple[str, ...] = ()
    # Auto-captions are drafts until a person approves them; nothing here can say otherwise.
    status: Literal["draft"] = "draft"


def _quoted(words: Iterable[str]) -> str:
    return ", ".join(f"“{word}”" for word in words)


class _Removals:
    """Collects what was removed, by reason, for the draft's notes."""

    def __init__(self) -> None:
        self.by_reason: dict[str, list[str]] = {}

    def add(self, reason: str, word: str) -> None:
        words = self.by_reason.setdefault(reason, [])
        if loose_key(word) not in {loose_key(existing) for existing in words}:
            words.append(word)

    def notes(self) -> tuple[str, ...]:
        texts = {
            "character": "Removed the character name {words} the tagger recognised: in a "
            "character LoRA the trigger word is the character's name.",
            "style": "Removed {words}: they describe the style, which your trigger word "
            "should learn.",
            "trait": "Removed {words}: you listed them as what must stay the same, so the "
            "trigger word carries them.",
            "blacklist": "Removed by your blacklist: {words}.",
        }
        return tuple(
            texts[reason].format(words=_quoted(words))
            for reason, words in self.by_reason.items()
            if words
        )


def _tag_reason(tag: ScoredTag, intent: CaptionIntent, recipe: CaptionRecipe) -> str | None:
    if tag.category == "character" and intent.training_type == "character":
        return "character"
    # Like kohya's --undesired_tags: a blacklisted tag is matched whole ("hair" does not
    # take "long hair" with it), whatever its spelling.
    if any(tag_is(tag.name, word) for word in recipe.blacklist):
        return "blacklist"
    if intent.is_style and any(style_term_in_tag(t, tag.name) for t in intent.style_terms()):
        return "style"
    if any(mentions(tag.name, trait) for trait in intent.must_stay):
        return "trait"
    return None


def _kept_tags(
    tags: Iterable[ScoredTag], intent: CaptionIntent, recipe: CaptionRecipe, removed: _Removals
) -> list[str]:
    kept = []
    for tag in tags:
        reason = _tag_reason(tag, intent, recipe)
        if reason:
            removed.add(reason, tag.name)
        else:
            kept.append(tag.name)
    return kept


def _scrubbed_sentence(
    sentence: str, intent: CaptionIntent, recipe: CaptionRecipe, removed: _Removals
) -> str:
    text = sentence
    if intent.is_style:
        terms = intent.style_terms()
        text, words = scrub_sentence(
            text,
            [t.phrase for t in terms if t.category not in ("phrase", "ambiguous")],
            clauses=[t.phrase for t in terms if t.category == "phrase"],
            describing=[t.phrase for t in terms if t.category == "ambiguous"],
        )
        for word in words:
            removed.add("style", word)
    text, words = scrub_sentence(text, intent.must_stay)
    for word in words:
        removed.add("trait", word)
    text, words = scrub_sentence(text, recipe.blacklist)
    for word in words:
        removed.add("blacklist", word)
    return text


def _as_sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


def make_draft(
    raw: RawCaption, intent: CaptionIntent, recipe: CaptionRecipe, source: str
) -> CaptionDraft:
    removed = _Removals()
    parts = []
    if raw.sentence.strip():
        sentence = _scrubbed_sentence(raw.sentence, intent, recipe, removed)
        if intent.caption_format != "booru":
            sentence = _as_sentence(sentence)
        parts.append(sentence)
    parts.extend(_kept_tags(raw.tags, intent, recipe, removed))
    content = join_parts(parts)
    text = recipe.template.replace(PLACEHOLDER, content)
    if recipe.prefix:
        text = join_parts([recipe.prefix, text])
    # The captioner never knows the trigger word: putting it first is expected here, so
    # the "trigger was missing" note would only be noise on every draft.
    prepared, _ = prepare_caption(
        f"{intent.trigger}, {text}", intent.trigger, intent.caption_format
    )
    return CaptionDraft(raw.path, prepared, source, removed.notes())
