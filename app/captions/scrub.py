"""Taking words out of a machine-written sentence while keeping it a sentence.

Only auto-captioner drafts go through this (an artist's own sentences are never cut:
see ``text.remove_tag``), and the artist reads every draft before approving it.
The patterns cover how image-to-text models phrase style and traits: "a watercolor
painting of a lighthouse", "a woman in a red scarf", "with a scar", "in the style of
hokusai", and a bare word as the last resort; then the articles and joining words left
dangling are tidied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.captions.vocabulary import phrase_pattern

_MARK = "\x00"  # where something was taken out, so the article before it can be fixed
_ARTICLE = r"(?:a|an|the)"
_OWNER = r"(?:a|an|the|her|his|their|its|my)"
_PICTURE_NOUN = (
    r"(?:painting|drawing|illustration|sketch|picture|image|photo|photograph|render|"
    r"rendering|artwork|art|print|piece|portrait)s?"
)
_DESCRIBES = r"(?:of|showing|depicting|featuring)"
_DANGLING_WORD = re.compile(
    r"\s*\b(?:a|an|the|her|his|their|its|my|and|or|with|of|in|wearing|by|featuring)\b\s*"
    rf"(?=[{_MARK}\s]*(?:[,.;!?]|$))",
    re.IGNORECASE,
)
_ARTICLE_BEFORE_MARK = re.compile(rf"\b(a|an|A|An)(\s*{_MARK}+\s*)(\w)")


def remove_describing(sentence: str, phrase: str) -> str:
    """Only the "a painting of" use of a word (it may also be content elsewhere)."""
    body = phrase_pattern(phrase).pattern
    pattern = (
        rf"\b{_ARTICLE}\s+(?:[\w-]+\s+){{0,2}}?{body}(?:\s+{_PICTURE_NOUN})?\s+{_DESCRIBES}\s+"
    )
    return re.sub(pattern, _MARK, sentence, flags=re.IGNORECASE)


def remove_clause(sentence: str, phrase: str) -> str:
    """A phrase and the rest of its clause: "in the style of hokusai", "art by x"."""
    body = phrase_pattern(phrase).pattern
    return re.sub(rf"\s*{body}[^,.;!?]*", _MARK, sentence, flags=re.IGNORECASE)


def remove_phrase(sentence: str, phrase: str) -> str:
    """A word or phrase wherever it stands, with the words that only served it."""
    body = phrase_pattern(phrase).pattern
    patterns = (
        # "a watercolor painting of a lighthouse" -> "a lighthouse"
        rf"\b{_ARTICLE}\s+(?:[\w-]+\s+){{0,2}}?{body}(?:\s+{_PICTURE_NOUN})?\s+{_DESCRIBES}\s+",
        # "a lighthouse in watercolor", "in a red scarf", "in a watercolor style"
        rf"\s*\bin\s+(?:{_OWNER}\s+)?(?:[\w-]+\s+)?{body}(?:\s+(?:style|manner))?(?![\w])",
        # "with a red scarf", "wearing her red scarf"
        rf"\s*\b(?:with|wearing|has|having)\s+(?:{_OWNER}\s+)?(?:[\w-]+\s+)?{body}(?![\w])",
        # "a girl with red hair and a red scarf"
        rf"\s*\b(?:and|or)\s+(?:{_OWNER}\s+)?{body}(?![\w])",
        # anything else: the words themselves
        body,
    )
    for pattern in patterns:
        changed = re.sub(pattern, _MARK, sentence, flags=re.IGNORECASE)
        if changed != sentence:
            return changed
    return sentence


def tidy(sentence: str) -> str:
    """Fix what removals leave behind: a/an before the next word, dangling articles and
    joining words, doubled spaces and commas."""
    text = _ARTICLE_BEFORE_MARK.sub(_fix_article, sentence)
    previous = None
    while previous != text:
        previous = text
        text = _DANGLING_WORD.sub(" ", text)
    text = text.replace(_MARK, " ")
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;!?])", r"\1", text)
    text = re.sub(r"([,;])(?:\s*[,;])+", r"\1", text)
    text = re.sub(r"[,;]\s*([.!?])", r"\1", text)
    return text.strip(" ,;")


def _fix_article(match: re.Match[str]) -> str:
    article, gap, following = match.group(1), match.group(2), match.group(3)
    wanted = "an" if following.lower() in "aeiou" else "a"
    if article[0].isupper():
        wanted = wanted.capitalize()
    return f"{wanted}{gap}{following}"


def scrub_sentence(
    sentence: str,
    phrases: Sequence[str] = (),
    *,
    clauses: Sequence[str] = (),
    describing: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """The sentence without ``phrases`` (anywhere), ``clauses`` (with the rest of their
    clause) and ``describing`` words (only as "a painting of"); and what was removed."""
    removed: list[str] = []
    text = sentence
    for remover, words in (
        (remove_clause, clauses),
        (_remove_everywhere, phrases),
        (remove_describing, describing),
    ):
        for phrase in words:
            changed = remover(text, phrase)
            if changed != text:
                removed.append(phrase)
                text = changed
    return (tidy(text) if removed else sentence), removed


def _remove_everywhere(sentence: str, phrase: str) -> str:
    while (after := remove_phrase(sentence, phrase)) != sentence:
        sentence = after
    return sentence
