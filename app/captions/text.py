"""Caption text as data: the trigger word, tags and sentences, and the edits a caption
goes through (trigger enforcement, batch tag operations, normalisation).

A caption is one line: the trigger word, a comma, then the description. Trainers read
only the first line of a caption file and split it at commas; kohya's ``keep_tokens = 1``
keeps the first comma-separated part in place while the rest is shuffled
(sd-scripts ``library/train_util.py``, ``read_caption`` and ``process_caption``). So the
trigger word is always its own first part, and every write path goes through
``prepare_caption`` (or ``enforce_trigger``) to keep it there.

How the text is cut depends on the project's caption format:

- ``booru``: comma-separated tags, nothing else; a part that reads like a sentence is
  still one part (the lint reports it).
- ``natural`` and ``mixed``: sentences first (text up to ``.``, ``!`` or ``?``), then the
  remaining text cut at commas into tags; a long unpunctuated part (six words, or four
  starting with "a"/"an") counts as a sentence, which is what image-to-text models write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

CaptionFormat = Literal["booru", "natural", "mixed"]
CAPTION_FORMATS: tuple[str, ...] = ("booru", "natural", "mixed")
SegmentKind = Literal["tag", "sentence"]

# When a comma-separated part reads as a sentence rather than a tag. Danbooru's common
# tags have at most five words ("yorha no. 2 type b") and rarely start with "a"/"an";
# image-to-text models write "a cat sleeping on a bed". "the" is no sign: copyright
# tags start with it ("the legend of zelda").
SENTENCE_MIN_WORDS = 6
ARTICLE_SENTENCE_MIN_WORDS = 4
# A part ending in . ! or ? is a sentence with at least three words, or two when it
# starts with a capital ("She smiles."), so "yorha no. 2 type b" is not cut at its period.
TERMINATED_SENTENCE_MIN_WORDS = 3
_ARTICLE_START = re.compile(r"^(?:a|an)\s", re.IGNORECASE)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)]*$")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n|\u2028|\u2029")
# Characters no caption should hold: C0 and C1 control characters (NUL, ESC, …; tab,
# line breaks, vertical tab and form feed are spacing and handled by ``flatten``) and the
# invisible marks that reorder how text is displayed (bidi overrides, embeddings,
# isolates, direction marks). A tokenizer reads them as noise, a trainer passes them to
# the text encoder, and a bidi override makes a caption display differently from what
# it says (a tag that looks like "smile" but is not, and cannot be clicked away).
_CONTROL_CHARACTERS = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# Quoted caption text in a finding or a message is cut to this many characters: one
# pasted essay must not fill every page and report that quotes it.
QUOTE_MAX_CHARS = 80
# A note about repeated phrases quotes at most this many of them.
REPEATS_QUOTED = 3

NOTE_EMPTY = (
    "The caption was empty; it now holds the trigger word alone: every caption must "
    "start with it. Describe the image after it."
)
NOTE_MISSING = (
    "The trigger word was missing; it was put back first: every caption must start with it."
)
NOTE_MOVED = (
    "The trigger word was not first; it was moved to the front: every caption must start "
    "with it, so that trainers which keep the first tag in place (kohya's keep_tokens) "
    "never shuffle it away."
)
NOTE_COMMA = (
    "A comma was put after the trigger word: trainers cut captions at commas, and the "
    "trigger must be a part of its own."
)
NOTE_REPEATED = "The trigger word appeared more than once; only the first one is kept."
NOTE_CONTROL = (
    "Invisible control characters were removed (such as NUL, or marks that reverse the "
    "direction of text): text encoders read them as noise, and they can make a caption "
    "look different from what it says."
)
NOTE_KEEP_TRIGGER = (
    "The trigger word cannot be removed or replaced: every caption must start with it. "
    "To use a different trigger word, change it in the project; loragate then rewrites "
    "every caption."
)


def note_inside(cut: TriggerCut) -> str:
    """What moving the trigger word out of the text did, quoted, so the artist can see a
    phrase it left half-said ("zkinkwash style" leaves "style")."""
    moved = (
        "The trigger word was only inside the text; it was moved to the front: every "
        "caption must start with it, on its own, before the first comma (and having it "
        "twice would teach it twice)."
    )
    if cut.before is None:
        return moved
    if not cut.after:
        return f"{moved} “{shorten(cut.before)}” was only the trigger word, so it went."
    return (
        f"{moved} “{shorten(cut.before)}” now reads “{shorten(cut.after)}”: check that it "
        "still says what you meant."
    )


def note_repeats(repeats: Sequence[str]) -> str | None:
    """What tidying removed: a phrase written twice is kept once, and the artist is told
    which, because a repeat can be on purpose (a weight trick) or a slip."""
    if not repeats:
        return None
    quoted = ", ".join(f"“{shorten(text)}”" for text in repeats[:REPEATS_QUOTED])
    more = len(repeats) - REPEATS_QUOTED
    if more > 0:
        quoted += f" and {more} more"
    return f"Written more than once, so kept only once: {quoted}."


def note_spelling(trigger: str) -> str:
    return (
        f"The trigger word's spelling was corrected to “{trigger}”: it must be written "
        "exactly the same way in every caption (some text encoders tell capitals apart)."
    )


@dataclass(frozen=True)
class Segment:
    text: str
    kind: SegmentKind


@dataclass(frozen=True)
class ParsedCaption:
    trigger: str | None  # the first part when it is the trigger word, as written
    segments: tuple[Segment, ...]
    caption_format: str

    @property
    def tags(self) -> list[str]:
        return [segment.text for segment in self.segments if segment.kind == "tag"]

    @property
    def sentences(self) -> list[str]:
        return [segment.text for segment in self.segments if segment.kind == "sentence"]


@dataclass(frozen=True)
class TagEdit:
    """The result of a batch operation on one caption: ``note`` explains anything the
    artist asked for that was not done, or that loragate did besides."""

    text: str
    changed: bool
    note: str | None = None


@dataclass(frozen=True)
class TagCount:
    tag: str
    count: int


@dataclass(frozen=True)
class TriggerCut:
    """The parts with the trigger's first whole-word occurrence cut out, and the part it
    was cut from as written (``before``) and as left (``after``; "" when nothing was
    left). ``before`` is None when the trigger was not found."""

    parts: list[str]
    before: str | None = None
    after: str = ""


# --- keys and splitting ------------------------------------------------------------


def shorten(text: str, limit: int = QUOTE_MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters with "…", for quoting a caption."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def strip_controls(text: str) -> tuple[str, bool]:
    """``text`` without control characters and bidi marks (see ``_CONTROL_CHARACTERS``;
    NEL, U+0085, is a line break), and whether any was removed."""
    cleaned = _CONTROL_CHARACTERS.sub("", text.replace("\x85", "\n"))
    return cleaned, cleaned != text.replace("\x85", "\n")


def tag_key(text: str) -> str:
    """What two spellings of a tag share: case, underscores and spacing do not matter
    ("Long_Hair" and "long hair" are the same tag)."""
    return " ".join(text.replace("_", " ").lower().split()).rstrip(".")


def word_count(text: str) -> int:
    return len(text.split())


def join_parts(parts: Iterable[str], space_after: str = ".!?") -> str:
    """Parts joined with a comma, or with a space after a part that ends in one of
    ``space_after`` (a finished sentence: "A woman walks. red scarf"). Empty parts and
    stray commas at their ends are dropped."""
    text = ""
    for part in (part.strip(" ,") for part in parts):
        if not part:
            continue
        if not text:
            text = part
        elif text.rstrip("\"'”’)")[-1:] in tuple(space_after):
            text = f"{text} {part}"
        else:
            text = f"{text}, {part}"
    return text


def flatten(text: str) -> str:
    """One line, single spaces. Lines are joined with a comma unless the line before
    already ends a phrase, because trainers read only a caption file's first line."""
    text = text.replace("\ufeff", "")
    lines = [_SPACES.sub(" ", line).strip() for line in _LINE_BREAKS.split(text)]
    joined = ""
    for line in filter(None, lines):
        if joined[-1:] in (",", ";"):
            joined = f"{joined} {line}"
        else:
            joined = join_parts([joined, line])
    return joined


def split_parts(text: str) -> list[str]:
    """Comma-separated parts, stripped, empty ones dropped."""
    return [part.strip() for part in flatten(text).split(",") if part.strip()]


def check_trigger(trigger: str) -> str:
    word = " ".join(trigger.split())
    if not word:
        raise ValueError("The trigger word is empty; every caption must start with it.")
    if "," in word:
        raise ValueError("The trigger word contains a comma, so it would be cut in two.")
    return word


def _is_terminated_sentence(part: str) -> bool:
    if not _ENDS_SENTENCE.search(part):
        return False
    words = word_count(part)
    return words >= TERMINATED_SENTENCE_MIN_WORDS or (words >= 2 and part[:1].isupper())


def _is_sentence_like(part: str) -> bool:
    words = word_count(part)
    if words >= SENTENCE_MIN_WORDS:
        return True
    if words >= ARTICLE_SENTENCE_MIN_WORDS and _ARTICLE_START.match(part):
        return True
    return _is_terminated_sentence(part)


def _chunk_segments(text: str) -> list[Segment]:
    return [
        Segment(part, "sentence" if _is_sentence_like(part) else "tag")
        for part in (piece.strip() for piece in text.split(","))
        if part
    ]


def _sentence_pieces(text: str) -> list[str]:
    """Cut at sentence ends; a "sentence" too short to be one (an abbreviation's period)
    is glued back to what follows."""
    pieces: list[str] = []
    carry = ""
    for piece in _SENTENCE_END.split(text):
        piece = f"{carry} {piece}".strip() if carry else piece
        if _ENDS_SENTENCE.search(piece) and not _is_terminated_sentence(piece):
            carry = piece
            continue
        carry = ""
        pieces.append(piece)
    if carry:
        pieces.append(carry)
    return pieces


def _segments(body: str, caption_format: str) -> list[Segment]:
    if caption_format == "booru":
        return _chunk_segments(body)
    segments: list[Segment] = []
    for piece in _sentence_pieces(body):
        stripped = piece.strip(" ,")
        if not stripped:
            continue
        if _is_terminated_sentence(stripped):
            segments.extend(_leading_tags_and_sentence(stripped))
        else:
            segments.extend(_chunk_segments(stripped))
    return segments


def _leading_tags_and_sentence(piece: str) -> list[Segment]:
    """ "1girl, solo, A woman walks." keeps its leading tags apart from the sentence: the
    sentence starts at the first part with a capital letter. Without one, the whole
    piece is the sentence ("a woman, smiling, walks on the street.")."""
    parts = [part.strip() for part in piece.split(",") if part.strip()]
    start = next((index for index, part in enumerate(parts) if part[:1].isupper()), 0)
    head = [Segment(part, "tag") for part in parts[:start]]
    return [*head, Segment(", ".join(parts[start:]), "sentence")]


# --- parse and render --------------------------------------------------------------


def parse_caption(text: str, caption_format: str, trigger: str | None = None) -> ParsedCaption:
    flat = flatten(text)
    found_trigger: str | None = None
    body = flat
    if trigger:
        first, _, rest = flat.partition(",")
        if tag_key(first) == tag_key(trigger):
            found_trigger = first.strip()
            body = rest
    return ParsedCaption(found_trigger, tuple(_segments(body, caption_format)), caption_format)


def render_caption(parsed: ParsedCaption) -> str:
    """One line: parts joined with a comma, or a space after a finished sentence. In a
    booru caption always a comma, so a tag ending in a period ("st.") never merges with
    the next one."""
    pieces = [parsed.trigger] if parsed.trigger else []
    pieces.extend(segment.text for segment in parsed.segments)
    return join_parts(pieces, "" if parsed.caption_format == "booru" else ".!?")


def _dedupe(segments: Iterable[Segment], trigger: str | None) -> list[Segment]:
    return _dedupe_noting(segments, trigger)[0]


def _dedupe_noting(
    segments: Iterable[Segment], trigger: str | None
) -> tuple[list[Segment], list[str]]:
    """Each phrase once (the first spelling wins), and the repeats that went."""
    seen: set[str] = {tag_key(trigger)} if trigger else set()
    kept, dropped = [], []
    for segment in segments:
        key = tag_key(segment.text)
        if key in seen:
            dropped.append(segment.text)
            continue
        seen.add(key)
        kept.append(segment)
    return kept, dropped


def _normalize(text: str, caption_format: str, trigger: str | None) -> tuple[str, list[str]]:
    parsed = parse_caption(text, caption_format, trigger)
    cleaned = [Segment(_SPACES.sub(" ", s.text).strip(), s.kind) for s in parsed.segments]
    deduped, dropped = _dedupe_noting(cleaned, parsed.trigger)
    return render_caption(ParsedCaption(parsed.trigger, tuple(deduped), caption_format)), dropped


def normalize_caption(text: str, caption_format: str, trigger: str | None = None) -> str:
    """Same meaning, tidy form: one line, single spaces, no empty parts or trailing
    commas, each tag once (the first spelling wins)."""
    return _normalize(text, caption_format, trigger)[0]


# --- the trigger word --------------------------------------------------------------


def _word_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in phrase.replace("_", " ").split()]
    return re.compile(r"(?<![\w])" + r"[\s_]+".join(words) + r"(?![\w])", re.IGNORECASE)


def trigger_pattern(trigger: str) -> re.Pattern[str]:
    """The trigger as a whole word (or words), in any case: not part of a longer word,
    a hyphenated word or a possessive ("zkstyle-like", "zkstyle's" do not count)."""
    words = [re.escape(word) for word in trigger.replace("_", " ").split()]
    return re.compile(r"(?<![\w'’-])" + r"[\s_]+".join(words) + r"(?![\w'’-])", re.IGNORECASE)


def without_first_occurrence(parts: list[str], trigger: str) -> TriggerCut:
    """``parts`` with the trigger's first whole-word occurrence cut out of the part that
    holds it (a part left empty goes): the move both the caption editor and the native
    trainer make, so a stored caption trains as the artist saw it. The cut part is kept
    as it was and as it is left, for the note that tells the artist."""
    pattern = trigger_pattern(trigger)
    for index, part in enumerate(parts):
        found = pattern.search(part)
        if found is None:
            continue
        joined = " ".join((part[: found.start()] + " " + part[found.end() :]).split())
        cleaned = re.sub(r"\s+([,.;:!?])", r"\1", joined).lstrip(" .!?;:")
        kept = [*parts[:index], *([cleaned] if cleaned else []), *parts[index + 1 :]]
        return TriggerCut(kept, part, cleaned)
    return TriggerCut(parts)


def mentions(text: str, phrase: str) -> bool:
    """True when ``phrase`` is in ``text`` as whole words (a tag, or inside a sentence);
    case, underscores and spacing do not matter."""
    return _word_pattern(phrase).search(flatten(text)) is not None


def starts_with_trigger(text: str, trigger: str) -> bool:
    """True when the caption's first comma-separated part is exactly the trigger word."""
    parts = split_parts(text)
    return bool(parts) and parts[0] == check_trigger(trigger)


def enforce_trigger(text: str, trigger: str, caption_format: str) -> tuple[str, str | None]:
    """The caption with the trigger word first, as a part of its own, exactly once as a
    standalone part; and a plain-language note saying what was changed and why (None
    when nothing was). The rest of the text is left as it was."""
    trigger = check_trigger(trigger)
    key = tag_key(trigger)
    flat = flatten(text).strip(" ,")
    parts = split_parts(flat)
    if not parts:
        return trigger, NOTE_EMPTY
    first, rest = parts[0], parts[1:]
    notes: list[str] = []
    if tag_key(first) == key:
        if first != trigger:
            notes.append(note_spelling(trigger))
    elif first.lower().startswith(trigger.lower() + " "):
        rest = [first[len(trigger) :].strip(), *rest]
        notes.append(NOTE_COMMA)
    elif any(tag_key(part) == key for part in rest):
        rest = [first, *rest]
        notes.append(NOTE_MOVED)
    elif trigger_pattern(trigger).search(flat):
        cut = without_first_occurrence(parts, trigger)
        rest = cut.parts
        notes.append(note_inside(cut))
    else:
        rest = parts
        notes.append(NOTE_MISSING)
    repeated = [part for part in rest if tag_key(part) == key]
    if repeated and NOTE_MOVED not in notes:
        notes.append(NOTE_REPEATED)
    rest = [part for part in rest if tag_key(part) != key]
    if not notes:
        return flat, None
    return ", ".join([trigger, *rest]), " ".join(notes)


def prepare_caption(text: str, trigger: str, caption_format: str) -> tuple[str, str | None]:
    """What every write path stores: the normalised caption with the trigger enforced,
    without control characters, and a note saying what was changed beyond spacing and
    commas (control characters, the trigger word, a phrase written twice)."""
    text, stripped = strip_controls(text)
    enforced, note = enforce_trigger(text, trigger, caption_format)
    normalized, repeats = _normalize(enforced, caption_format, trigger)
    notes = [NOTE_CONTROL if stripped else None, note, note_repeats(repeats)]
    return normalized, " ".join(n for n in notes if n) or None


def change_trigger(text: str, old: str, new: str, caption_format: str) -> tuple[str, str | None]:
    """Rewrite a caption for a new trigger word: the old one goes wherever it stands
    (as a part of its own, or inside a sentence), the new one comes first."""
    old, new = check_trigger(old), check_trigger(new)
    parts = split_parts(text)
    kept = [part for part in parts if tag_key(part) != tag_key(old)]
    body = _word_pattern(old).sub(new, ", ".join(kept))
    if len(kept) == len(parts) and body == ", ".join(kept):
        return prepare_caption(text, new, caption_format)
    result, _ = prepare_caption(f"{new}, {body}", new, caption_format)
    return result, f"The trigger word changed from “{old}” to “{new}”."


# --- tags --------------------------------------------------------------------------


def check_tag(tag: str) -> str:
    cleaned = " ".join(tag.split())
    if not cleaned:
        raise ValueError("The tag is empty.")
    if "," in cleaned:
        raise ValueError(
            f"“{cleaned}” contains a comma, which would make it two tags: add them one at a time."
        )
    return cleaned


def caption_tags(text: str, caption_format: str, trigger: str) -> list[str]:
    """The caption's tags, without the trigger word (wherever it stands)."""
    key = tag_key(trigger)
    return [tag for tag in parse_caption(text, caption_format, trigger).tags if tag_key(tag) != key]


def tag_frequency(texts: Iterable[str], caption_format: str, trigger: str) -> list[TagCount]:
    """How many captions hold each tag (once per caption), most frequent first; the
    trigger word is not counted. The first spelling met stands for the tag."""
    counts: dict[str, int] = {}
    spelling: dict[str, str] = {}
    trigger_key = tag_key(trigger)
    for text in texts:
        keys = set()
        for tag in caption_tags(text, caption_format, trigger):
            key = tag_key(tag)
            if key == trigger_key or key in keys:
                continue
            keys.add(key)
            spelling.setdefault(key, tag)
            counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], spelling[item[0]]))
    return [TagCount(spelling[key], count) for key, count in ordered]


def _finish(
    original: str, segments: list[Segment], trigger: str, caption_format: str, notes: list[str]
) -> TagEdit:
    """The edited caption, prepared like every write; ``changed`` compares it with the
    caption as stored, so a batch changes (and can undo) exactly those it reports."""
    trigger = check_trigger(trigger)
    text, _ = prepare_caption(
        render_caption(ParsedCaption(trigger, tuple(segments), caption_format)),
        trigger,
        caption_format,
    )
    _, trigger_note = enforce_trigger(original, trigger, caption_format)
    all_notes = [note for note in [*notes, trigger_note] if note]
    return TagEdit(text, text != original, " ".join(all_notes) or None)


def _unchanged(text: str, trigger: str, caption_format: str, note: str) -> TagEdit:
    prepared, _ = prepare_caption(text, trigger, caption_format)
    return TagEdit(prepared, prepared != text, note)


def add_tag(
    text: str, tag: str, trigger: str, caption_format: str, *, first: bool = False
) -> TagEdit:
    """Add a tag at the end (or right after the trigger word with ``first``); a tag the
    caption already has is not added twice."""
    tag = check_tag(tag)
    if tag_key(tag) == tag_key(trigger):
        return _unchanged(
            text, trigger, caption_format, "That is the trigger word: it is already first."
        )
    parsed = parse_caption(text, caption_format, trigger)
    segments = list(parsed.segments)
    if any(tag_key(existing) == tag_key(tag) for existing in parsed.tags):
        return _finish(text, segments, trigger, caption_format, [])
    new = Segment(tag, "tag")
    segments = [new, *segments] if first else [*segments, new]
    return _finish(text, segments, trigger, caption_format, [])


def remove_tag(text: str, tag: str, trigger: str, caption_format: str) -> TagEdit:
    """Remove a tag wherever it stands as a tag. Sentences are left whole: cutting a
    word out of a sentence can change what it says, so the note asks for a hand edit."""
    tag = check_tag(tag)
    if tag_key(tag) == tag_key(trigger):
        return _unchanged(text, trigger, caption_format, NOTE_KEEP_TRIGGER)
    parsed = parse_caption(text, caption_format, trigger)
    key = tag_key(tag)
    # A whole part equal to the tag goes, even one long enough to read as a sentence.
    kept = [segment for segment in parsed.segments if tag_key(segment.text) != key]
    notes = []
    pattern = _word_pattern(tag)
    if any(pattern.search(s.text) for s in kept if s.kind == "sentence"):
        notes.append(
            f"“{tag}” is also part of a sentence here. loragate leaves sentences whole, "
            "because cutting words out of them can change what they say: edit this "
            "caption by hand."
        )
    return _finish(text, kept, trigger, caption_format, notes)


def replace_tag(text: str, old: str, new: str, trigger: str, caption_format: str) -> TagEdit:
    """Replace a tag with another, as a tag and as the same words inside sentences."""
    old, new = check_tag(old), check_tag(new)
    trigger_key = tag_key(trigger)
    if tag_key(old) == trigger_key:
        return _unchanged(text, trigger, caption_format, NOTE_KEEP_TRIGGER)
    if tag_key(new) == trigger_key:
        return _unchanged(
            text,
            trigger,
            caption_format,
            f"“{new}” is the trigger word, which is already first in every caption: "
            f"remove “{old}” instead if it should go.",
        )
    parsed = parse_caption(text, caption_format, trigger)
    pattern = _word_pattern(old)
    segments = []
    for segment in parsed.segments:
        if tag_key(segment.text) == tag_key(old):
            segments.append(Segment(new, "tag"))
        elif segment.kind == "sentence":
            segments.append(Segment(pattern.sub(new, segment.text), "sentence"))
        else:
            segments.append(segment)
    return _finish(text, _dedupe(segments, parsed.trigger), trigger, caption_format, [])


__all__ = [
    "CAPTION_FORMATS",
    "ParsedCaption",
    "Segment",
    "TagCount",
    "TagEdit",
    "TriggerCut",
    "add_tag",
    "caption_tags",
    "change_trigger",
    "check_tag",
    "check_trigger",
    "enforce_trigger",
    "join_parts",
    "mentions",
    "normalize_caption",
    "parse_caption",
    "prepare_caption",
    "remove_tag",
    "render_caption",
    "replace_tag",
    "shorten",
    "starts_with_trigger",
    "strip_controls",
    "tag_frequency",
    "tag_key",
]
