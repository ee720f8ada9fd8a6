"""Reading a caption sidecar (``image.txt`` next to ``image.png``) the way trainers will,
and saying plainly what was assumed when the file is not what they expect.

kohya sd-scripts opens captions as UTF-8 and uses the first line only. Here a file that
is not UTF-8 is still read, never crashing, and the finding says what was found:

- a byte-order mark says the encoding outright: UTF-8 with a mark (which sd-scripts
  keeps in front of the first tag, since it opens files as plain "utf-8"), UTF-16
  (Windows Notepad's "Unicode") or UTF-32, little- or big-endian;
- otherwise UTF-8, then Windows-1252 (the usual culprit), then Latin-1 (which accepts
  any byte).

Whatever was found, loragate writes the caption back as plain UTF-8 (no mark) when it
takes it in (``sync``), and notes that it did.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from app.captions.text import trigger_pattern
from app.fsutil import open_regular
from app.settings import Settings

MAX_CAPTION_BYTES = 1024 * 1024
CLIP_USABLE_TOKENS = 75  # app.clip_tokenizer.USABLE_TOKENS, without importing transformers


@dataclass(frozen=True)
class Sidecar:
    text: str  # the whole file, decoded, without a byte-order mark
    encoding: str  # utf-8, or a key of ENCODING_WORDS
    first_line: str  # what trainers read, stripped
    extra_lines: int  # non-empty lines after the first
    tokens: int | None  # CLIP tokens of the first line; None: too short to reach the limit
    trigger_in_first_line: bool
    trigger_line: int | None  # 1-based line holding the trigger when not the first

    @property
    def is_utf8(self) -> bool:
        return self.encoding == "utf-8"

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()


# What each encoding other than plain UTF-8 is, in words for findings and notes.
ENCODING_WORDS = {
    "utf-8-bom": "UTF-8 with a byte-order mark",
    "utf-16-le": "UTF-16 (little-endian, with a byte-order mark: Windows Notepad's “Unicode”)",
    "utf-16-be": "UTF-16 (big-endian, with a byte-order mark)",
    "utf-32-le": "UTF-32 (little-endian, with a byte-order mark)",
    "utf-32-be": "UTF-32 (big-endian, with a byte-order mark)",
    "cp1252": "Windows-1252 (Western European)",
    "latin-1": "Latin-1 (ISO 8859-1)",
}
# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = {
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
    "utf-8-bom": codecs.BOM_UTF8,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
}


def text_bom(data: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``data`` announces, if any."""
    return next((encoding for encoding, mark in _BOMS.items() if data.startswith(mark)), None)


def decode_caption(data: bytes) -> tuple[str, str]:
    """(text without a byte-order mark, encoding) for any bytes."""
    marked = text_bom(data)
    if marked is not None:
        body = data[len(_BOMS[marked]) :]
        codec = "utf-8" if marked == "utf-8-bom" else marked
        # A file cut at MAX_CAPTION_BYTES may end inside a character: replace that one.
        return body.decode(codec, errors="replace"), marked
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"  # every byte is a Latin-1 character


def encoding_note(encoding: str) -> str | None:
    """What taking in a caption file that was not plain UTF-8 did, for its note (None
    for plain UTF-8)."""
    if encoding == "utf-8":
        return None
    words = ENCODING_WORDS.get(encoding, encoding)
    if encoding == "utf-8-bom":
        return (
            "The caption file started with a UTF-8 byte-order mark, which trainers would "
            "read as part of the first tag; loragate saved it as plain UTF-8 without it."
        )
    if encoding.startswith("utf-"):
        return (
            f"The caption file was {words} text; loragate saved it as plain UTF-8, which "
            "trainers need."
        )
    return (
        f"The caption file was not UTF-8; loragate read it as {words} and saved it as "
        "plain UTF-8, which trainers need."
    )


def has_trigger(text: str, trigger: str) -> bool:
    """Whether the trigger appears as a whole word (case does not matter), as the
    caption editor and the trainer judge it."""
    return bool(trigger.strip()) and bool(trigger_pattern(trigger).search(text))


def parse_sidecar(data: bytes, trigger: str, settings: Settings | None = None) -> Sidecar:
    text, encoding = decode_caption(data[:MAX_CAPTION_BYTES])
    lines = text.splitlines()
    first_line = lines[0].strip() if lines else ""
    extra = [line for line in lines[1:] if line.strip()]
    trigger_line = None
    in_first = has_trigger(first_line, trigger)
    if not in_first:
        trigger_line = next(
            (number for number, line in enumerate(lines, 1) if has_trigger(line, trigger)), None
        )
    # Every CLIP token covers at least one character, so a line of at most 75
    # characters fits; only longer ones are worth loading the tokenizer (and
    # transformers, a second to import) for.
    tokens = None
    if len(first_line) > CLIP_USABLE_TOKENS:
        from app.clip_tokenizer import count_tokens

        tokens = count_tokens(first_line, settings)
    return Sidecar(
        text=text,
        encoding=encoding,
        first_line=first_line,
        extra_lines=len(extra),
        tokens=tokens,
        trigger_in_first_line=in_first,
        trigger_line=trigger_line,
    )


def read_sidecar(path: Path, trigger: str, settings: Settings | None = None) -> Sidecar:
    """Raises OSError when the file cannot be read (or is not a regular file)."""
    with open_regular(path) as handle:
        data = handle.read(MAX_CAPTION_BYTES)
    return parse_sidecar(data, trigger, settings)
