"""The words that matter to a caption check: style vocabulary, the artist's fixed traits
and what must vary, and how each is found in a caption.

Matching is deliberately literal and explainable: a finding always names the words it
found, so an artist can see at once whether loragate misread a caption. Case,
underscores, hyphens and a plural ``s`` do not matter ("Watercolors", "cross_hatching").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources as importlib_resources
from typing import Literal

from app.captions.text import ParsedCaption

StyleCategory = Literal["medium", "technique", "look", "phrase", "ambiguous", "yours"]
STYLE_CATEGORIES: tuple[str, ...] = ("medium", "technique", "look", "phrase", "ambiguous")
# A whole tag may carry a Danbooru qualifier: "watercolor (medium)", "ink (medium)".
_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$")
_LIST_SEPARATOR = re.compile(r"[,;\n]+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
# Filler words never stand for a "must vary" answer on their own (words shorter than
# four letters are skipped anyway).
_FILLER = frozenset(
    {"with", "from", "their", "your", "different", "various", "many"}
    | {"every", "each", "other", "more", "less", "lots", "very"}
)


@dataclass(frozen=True)
class StyleTerm:
    phrase: str
    category: StyleCategory

    @property
    def blocking(self) -> bool:
        """Whether this word, in most captions, may block Gate 1: not for words that are
        often content ("a painting on the wall")."""
        return self.category != "ambiguous"


def loose_key(text: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", text.lower()).split()).rstrip(".")


@cache
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Whole words, any case, ``_``/``-``/space between words, optional plural."""
    words = [re.escape(word) for word in loose_key(phrase).split()]
    if not words:
        raise ValueError("An empty phrase matches nothing.")
    body = r"[\s_\-]+".join(words)
    if phrase.rstrip()[-1:].isalnum():
        body += r"(?:s|es)?"
    start = r"(?<![\w])" if phrase.lstrip()[:1].isalnum() else ""
    end = r"(?![\w])" if phrase.rstrip()[-1:].isalnum() else ""
    return re.compile(start + body + end, re.IGNORECASE)


def mentions(text: str, phrase: str) -> bool:
    return bool(phrase_pattern(phrase).search(text))


def tag_is(tag: str, phrase: str) -> bool:
    """A tag *is* the phrase, allowing a Danbooru qualifier and a plural."""
    key = loose_key(_QUALIFIER.sub("", tag))
    wanted = loose_key(phrase)
    return key in (wanted, wanted + "s", wanted + "es")


def parse_list(text: str) -> tuple[str, ...]:
    """The interview's free-text lists ("red scarf, scar over left eye" or one per line,
    bullets allowed) as items, in order, each once."""
    items: list[str] = []
    seen: set[str] = set()
    for raw in _LIST_SEPARATOR.split(text or ""):
        item = _BULLET.sub("", raw).strip().strip(".").strip()
        if item and loose_key(item) not in seen:
            seen.add(loose_key(item))
            items.append(item)
    return tuple(items)


# --- style words -------------------------------------------------------------------


def _data_lines(name: str) -> list[str]:
    """The lines of a data file in app/data, without blank lines and comments."""
    text = (importlib_resources.files("app") / "data" / name).read_text("utf-8")
    return [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


@cache
def builtin_style_terms() -> tuple[StyleTerm, ...]:
    terms = []
    for line in _data_lines("style_vocabulary.txt"):
        category, _, phrase = line.partition(":")
        category = category.strip()
        if category not in STYLE_CATEGORIES or not phrase.strip():
            raise ValueError(f"style_vocabulary.txt: cannot read the line {line!r}")
        terms.append(StyleTerm(phrase.strip(), category))  # type: ignore[arg-type]
    return tuple(terms)


def style_terms(artist_words: Iterable[str]) -> tuple[StyleTerm, ...]:
    """The artist's own style words (from eye.md) first, then the built-in vocabulary,
    each phrase once."""
    return _style_terms(tuple(artist_words))


@cache
def _style_terms(artist_words: tuple[str, ...]) -> tuple[StyleTerm, ...]:
    seen: set[str] = set()
    terms = []
    own = [StyleTerm(word.strip(), "yours") for word in artist_words if word.strip()]
    for term in [*own, *builtin_style_terms()]:
        if loose_key(term.phrase) not in seen:
            seen.add(loose_key(term.phrase))
            terms.append(term)
    return tuple(terms)


def style_term_in_tag(term: StyleTerm, tag: str) -> bool:
    if term.category == "phrase":
        return mentions(tag, term.phrase)
    return tag_is(tag, term.phrase)


def style_term_in_sentence(term: StyleTerm, sentence: str) -> bool:
    if term.category == "ambiguous":
        # "a painting of a lighthouse" describes the picture; "a painting on the wall"
        # is content.
        return bool(_describing_pattern(term.phrase).search(sentence))
    return mentions(sentence, term.phrase)


@cache
def _describing_pattern(phrase: str) -> re.Pattern[str]:
    return re.compile(phrase_pattern(phrase).pattern + r"\s+(?:of|by)\b", re.IGNORECASE)


def _tag_forms(tag: str) -> set[str]:
    """The keys a whole tag answers to: itself without a qualifier, and its singular."""
    key = loose_key(_QUALIFIER.sub("", tag))
    forms = {key}
    for plural in ("es", "s"):
        if key.endswith(plural):
            forms.add(key[: -len(plural)])
    return forms


@cache
def _term_key(phrase: str) -> str:
    return loose_key(phrase)


def style_terms_in(parsed: ParsedCaption, terms: Sequence[StyleTerm]) -> list[StyleTerm]:
    """The style terms a caption uses. Whole tags are looked up by key (a caption's tags
    are read once, not once per term): this runs on every caption at every save."""
    tag_forms: set[str] = set()
    for tag in parsed.tags:
        tag_forms |= _tag_forms(tag)
    found = []
    for term in terms:
        if term.category == "phrase":
            in_tags = any(mentions(tag, term.phrase) for tag in parsed.tags)
        else:
            in_tags = _term_key(term.phrase) in tag_forms
        if in_tags or any(style_term_in_sentence(term, s) for s in parsed.sentences):
            found.append(term)
    return _drop_contained(found)


def _drop_contained(found: list[StyleTerm]) -> list[StyleTerm]:
    """ "oil painting" found also finds "painting": name only the longer phrase."""
    keys = [loose_key(term.phrase) for term in found]
    return [
        term
        for term, key in zip(found, keys, strict=True)
        if not any(other != key and re.search(rf"\b{re.escape(key)}\b", other) for other in keys)
    ]


# --- fixed traits and things that vary -----------------------------------------------


def caption_mentions(parsed: ParsedCaption, phrase: str) -> bool:
    pattern = phrase_pattern(phrase)
    return any(pattern.search(segment.text) for segment in parsed.segments)


@dataclass(frozen=True)
class VaryCategory:
    names: tuple[str, ...]
    hints: tuple[str, ...]  # ("*",) means any description at all

    @property
    def any_description(self) -> bool:
        return self.hints == ("*",)


@cache
def vary_categories() -> tuple[VaryCategory, ...]:
    categories = []
    for line in _data_lines("vary_hints.txt"):
        names, _, hints = line.partition(":")
        categories.append(
            VaryCategory(
                tuple(loose_key(name) for name in names.split(",") if name.strip()),
                tuple(hint.strip() for hint in hints.split(",") if hint.strip()),
            )
        )
    return tuple(categories)


def vary_hints(item: str) -> VaryCategory:
    """The words that show a caption describes a "must vary" answer: a known category's
    hints, else the answer itself and its own meaningful words."""
    key = loose_key(item)
    for category in vary_categories():
        if key in category.names:
            return category
    words = [word for word in key.split() if len(word) >= 4 and word not in _FILLER]
    return VaryCategory((key,), (item, *words))


def describes(parsed: ParsedCaption, category: VaryCategory) -> bool:
    if category.any_description:
        return bool(parsed.segments)
    return any(caption_mentions(parsed, hint) for hint in category.hints)
