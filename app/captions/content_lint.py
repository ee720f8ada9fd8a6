"""The content-style lint: what the captions will teach the trigger word, checked before
any GPU time is spent.

Pure functions from captions and intent to findings. Per-caption findings have the
image path as subject (shown on the card); dataset-level ones have ``captions``.

Severities, and why:

- ``block`` only where training would very likely waste the run, and the fix is one
  batch edit away:
  - ``caption.missing_trigger``: a caption that does not start with the trigger word
    teaches the image to no trigger at all (only possible after an outside edit: every
    loragate write path enforces it);
  - ``caption.style_in_most_captions`` (style LoRA): one style word in at least half of
    the captions; most training steps then teach that word the look instead of the
    trigger. Words that are often content ("painting") never block;
  - ``caption.fixed_trait_in_most_captions``: a trait the artist listed as "must stay"
    named in at least half of the captions, so the trait is learned by its own words
    and the trigger alone forgets it.
- ``warn`` for everything a person should look at but that can be intended or that
  loragate can misread: one caption naming the style or a fixed trait, a tag in nearly
  every caption, a "must vary" answer never described, a caption in another format, a
  caption with nothing but the trigger.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.captions.intent import CaptionIntent
from app.captions.text import (
    ParsedCaption,
    parse_caption,
    shorten,
    starts_with_trigger,
    tag_key,
)
from app.captions.vocabulary import (
    StyleTerm,
    caption_mentions,
    describes,
    loose_key,
    style_term_in_tag,
    style_terms_in,
    tag_is,
    vary_hints,
)
from app.findings import Finding
from app.words import plural

# At least this share of captions naming one style word or fixed trait blocks Gate 1:
# from then on most training steps teach that word instead of the trigger.
MOST_CAPTIONS_SHARE = 0.5
# A tag in at least this share of captions is "in nearly every caption": the model
# cannot tell it from the trigger (app/docs/content-style.md, "A tag in every caption").
NEARLY_EVERY_SHARE = 0.9
# Below this many captions "nearly every" means little: in three captions of one
# character every shared tag is in all of them.
NEARLY_EVERY_MIN_CAPTIONS = 5
# A natural-language caption with this many tags (and no sentence) is a tag list.
TAG_LIST_MIN_TAGS = 3

DATASET_SUBJECT = "captions"
# The audit's trigger check, superseded by the lint's stricter one (trigger first).
SUPERSEDED_CODES = frozenset({"caption.missing_trigger"})

Caption = tuple[str, str]  # (image path relative to the dataset, caption text)


def _quoted(words: Sequence[str]) -> str:
    """Words from captions, quoted; each cut short (``shorten``), so one pasted essay
    in a caption cannot bloat every page and report that shows the finding."""
    return ", ".join(f"“{shorten(word)}”" for word in words)


def _parse(text: str, intent: CaptionIntent) -> ParsedCaption:
    return parse_caption(text, intent.caption_format, intent.trigger)


# --- per caption -------------------------------------------------------------------


def lint_caption(path: str, text: str, intent: CaptionIntent) -> list[Finding]:
    """Findings about one caption alone (what its card shows while it is edited)."""
    return _caption_findings(path, text, _read(text, intent), intent)


@dataclass(frozen=True)
class _Read:
    """One caption, parsed once, with what the checks look for in it."""

    parsed: ParsedCaption
    style: tuple[StyleTerm, ...]
    traits: tuple[str, ...]


def _read(text: str, intent: CaptionIntent) -> _Read:
    parsed = _parse(text, intent)
    style = tuple(style_terms_in(parsed, intent.style_terms())) if intent.is_style else ()
    traits = tuple(trait for trait in intent.must_stay if caption_mentions(parsed, trait))
    return _Read(parsed, style, traits)


def _caption_findings(path: str, text: str, read: _Read, intent: CaptionIntent) -> list[Finding]:
    findings: list[Finding] = []
    if not starts_with_trigger(text, intent.trigger):
        findings.append(_missing_trigger(path, intent))
    if not read.parsed.segments:
        findings.append(_nothing_described(path, intent))
    if read.style:
        findings.append(_style_words(path, read.style, intent))
    if read.traits:
        findings.append(_fixed_traits(path, read.traits, intent))
    mismatch = _format_mismatch(read.parsed, intent.caption_format)
    if mismatch:
        findings.append(_format_finding(path, mismatch, intent))
    return findings


def _missing_trigger(path: str, intent: CaptionIntent) -> Finding:
    return Finding(
        code="caption.missing_trigger",
        severity="block",
        subject=path,
        message=f"The caption does not start with the trigger word “{intent.trigger}”.",
        why="The trigger word is what switches your LoRA on. An image whose caption does "
        "not start with it teaches the model without it, so part of what you train is "
        "not bound to the trigger, and trainers that keep the first tag in place keep the "
        "wrong one.",
        fix="Open the caption and save it: loragate puts the trigger word back first. If "
        "the caption file was edited outside loragate, review that edit.",
        source="captioning-guide#the-trigger-word-comes-first",
    )


def _nothing_described(path: str, intent: CaptionIntent) -> Finding:
    return Finding(
        code="caption.nothing_described",
        severity="warn",
        subject=path,
        message="The caption holds only the trigger word: nothing in the image is described.",
        why="Whatever a caption leaves unsaid is learned as part of the trigger word. With "
        "nothing described, the subject, the background and the pose of this image all "
        "become part of what the trigger means.",
        fix="Describe what is in the image and what changes from image to image, after "
        "the trigger word.",
        source="captioning-guide#describe-every-image",
    )


def _style_words(path: str, found: Sequence[StyleTerm], intent: CaptionIntent) -> Finding:
    words = [term.phrase for term in found]
    yours = [term.phrase for term in found if term.category == "yours"]
    mine = f" ({_quoted(yours)} from your eye.md)" if yours else ""
    return Finding(
        code="caption.style_word",
        severity="warn",
        subject=path,
        message=f"The caption names the style: {_quoted(words)}{mine}.",
        why="In a style LoRA the trigger word must carry the look. A word in the caption "
        "that describes the look explains it already, so the trigger learns less of it "
        "and the word itself becomes tied to your style.",
        fix=f"Remove {_quoted(words)} from the caption and describe only what the image "
        "shows. Batch “remove tag” does it for every caption at once.",
        source="content-style#style-loras-caption-the-content",
    )


def _fixed_traits(path: str, traits: Sequence[str], intent: CaptionIntent) -> Finding:
    return Finding(
        code="caption.fixed_trait",
        severity="warn",
        subject=path,
        message=f"The caption names {_quoted(traits)}, which you listed as what must stay "
        "the same.",
        why="A trait named in the caption is learned as those words, not as part of the "
        f"trigger “{intent.trigger}”: prompting the trigger alone would then leave the "
        "trait out.",
        fix=f"Remove {_quoted(traits)} from the caption, so the trigger carries it.",
        source="content-style#character-and-object-loras-caption-what-varies",
    )


def _format_mismatch(parsed: ParsedCaption, caption_format: str) -> str | None:
    sentences, tags = parsed.sentences, parsed.tags
    if caption_format == "booru" and sentences:
        return f"The caption has a sentence ({_quoted(sentences[:1])}), but the project uses booru tags."
    if caption_format == "natural" and len(tags) >= TAG_LIST_MIN_TAGS:
        if sentences:
            return "The caption ends in a list of tags, but the project uses natural sentences."
        return "The caption is a list of tags, but the project uses natural sentences."
    if caption_format == "mixed" and tags and not sentences:
        return (
            "The caption is only tags, but the project's mixed format starts with a short sentence."
        )
    return None


def _format_finding(path: str, message: str, intent: CaptionIntent) -> Finding:
    return Finding(
        code="caption.format_mismatch",
        severity="warn",
        subject=path,
        message=message,
        why="The base model's text encoder reads one way of writing best, and the LoRA "
        "learns to answer prompts written the way its captions are. Captions in another "
        "format make the trigger respond less reliably to the prompts you will write.",
        fix=f"Rewrite the caption in the project's format ({intent.caption_format}), or "
        "change the project's caption format if this is how you want to prompt.",
        source="caption-formats#when-the-format-does-not-match",
    )


# --- the whole set -----------------------------------------------------------------


def lint_captions(captions: Sequence[Caption], intent: CaptionIntent) -> list[Finding]:
    """Every finding about a set of captions: each caption's own, then the ones only the
    whole set shows."""
    reads = [_read(text, intent) for _, text in captions]
    findings: list[Finding] = []
    for (path, text), read in zip(captions, reads, strict=True):
        findings.extend(_caption_findings(path, text, read, intent))
    if not reads:
        return findings
    findings.extend(_widespread_style(reads, intent))
    findings.extend(_widespread_traits(reads, intent))
    findings.extend(_undescribed_variation([read.parsed for read in reads], intent))
    findings.extend(_near_universal_tags([read.parsed for read in reads], intent))
    return findings


def _share(count: int, total: int) -> str:
    return f"{count} of {plural(total, 'caption')} ({round(100 * count / total)}%)"


def _is_most(count: int, total: int) -> bool:
    return count > 0 and count >= math.ceil(MOST_CAPTIONS_SHARE * total)


def _widespread_style(reads: list[_Read], intent: CaptionIntent) -> list[Finding]:
    counts: dict[StyleTerm, int] = {}
    for read in reads:
        for term in read.style:
            counts[term] = counts.get(term, 0) + 1
    findings = []
    for term, count in counts.items():
        if not term.blocking or not _is_most(count, len(reads)):
            continue
        findings.append(
            Finding(
                code="caption.style_in_most_captions",
                severity="block",
                subject=DATASET_SUBJECT,
                message=f"{_quoted([term.phrase])} describes the style and is in "
                f"{_share(count, len(reads))}.",
                why="When most captions name the look, most training steps teach that word "
                f"your style instead of the trigger “{intent.trigger}”. The LoRA would "
                "need the word in every prompt, and the word would drag your style into "
                "prompts that use it for other things.",
                fix=f"Remove {_quoted([term.phrase])} from the captions (batch “remove tag”), and "
                "describe what each image shows instead.",
                source="content-style#style-loras-caption-the-content",
            )
        )
    return findings


def _widespread_traits(reads: list[_Read], intent: CaptionIntent) -> list[Finding]:
    findings = []
    for trait in intent.must_stay:
        count = sum(trait in read.traits for read in reads)
        if not _is_most(count, len(reads)):
            continue
        findings.append(
            Finding(
                code="caption.fixed_trait_in_most_captions",
                severity="block",
                subject=DATASET_SUBJECT,
                message=f"{_quoted([trait])}, which you listed as what must stay the same, is named "
                f"in {_share(count, len(reads))}.",
                why="A trait that most captions name is learned by its own words. The "
                f"trigger “{intent.trigger}” alone would then produce the "
                f"{intent.training_type} without it, which is the opposite of what you "
                "asked for.",
                fix=f"Remove {_quoted([trait])} from the captions (batch “remove tag”), so the "
                "trigger carries it. If it is not really fixed, take it off the “must "
                "stay” list in the project.",
                source="content-style#character-and-object-loras-caption-what-varies",
            )
        )
    return findings


def _undescribed_variation(parsed: list[ParsedCaption], intent: CaptionIntent) -> list[Finding]:
    findings = []
    for item in intent.must_vary:
        category = vary_hints(item)
        if any(describes(caption, category) for caption in parsed):
            continue
        examples = [hint for hint in category.hints if hint != "*"][:4]
        example = f" (for example {_quoted(examples)})" if examples else ""
        findings.append(
            Finding(
                code="caption.must_vary_undescribed",
                severity="warn",
                subject=DATASET_SUBJECT,
                message=f"No caption seems to describe {_quoted([item])}, which you said must vary.",
                why="Something that changes between images but is never described cannot "
                "be told apart from the trigger word: the model learns it as part of your "
                "LoRA, and it will keep coming back.",
                fix=f"Describe {_quoted([item])} in the captions where it shows{example}. If your "
                "captions already do in other words, this warning can stay.",
                source="content-style#character-and-object-loras-caption-what-varies",
            )
        )
    return findings


def _near_universal_tags(parsed: list[ParsedCaption], intent: CaptionIntent) -> list[Finding]:
    total = len(parsed)
    if total < NEARLY_EVERY_MIN_CAPTIONS:
        return []
    counts: dict[str, int] = {}
    spelling: dict[str, str] = {}
    for caption in parsed:
        for key in {tag_key(tag) for tag in caption.tags}:
            counts[key] = counts.get(key, 0) + 1
        for tag in caption.tags:
            spelling.setdefault(tag_key(tag), tag)
    covered_elsewhere = [loose_key(trait) for trait in intent.must_stay]
    findings = []
    for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        tag = spelling[key]
        quoted = _quoted([tag])
        if count < NEARLY_EVERY_SHARE * total or key == tag_key(intent.trigger):
            continue
        if any(tag_is(tag, trait) for trait in covered_elsewhere):
            continue
        if intent.is_style and any(style_term_in_tag(t, tag) for t in intent.style_terms()):
            continue
        findings.append(
            Finding(
                code="caption.near_universal_tag",
                severity="warn",
                subject=DATASET_SUBJECT,
                message=f"{quoted} is in {_share(count, total)}: it will be absorbed by the "
                "trigger word. Is that intended?",
                why="A tag that never varies cannot be told apart from the trigger word: "
                "both come to mean the same thing, and later the LoRA only works fully "
                "when you prompt both.",
                fix=f"If {quoted} is part of what the trigger should mean, remove it from "
                "the captions so the trigger carries it alone. Keep it only if you will "
                "always prompt it with the trigger (a class word such as “woman”).",
                source="content-style#a-tag-in-every-caption",
            )
        )
    return findings
