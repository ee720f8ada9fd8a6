"""Reading a caption sidecar (``image.txt`` next to ``image.png``) the way trainers will,
and saying plainly what was assumed when the file is not what they expect.

kohya sd-scripts opens captions as UTF-8 and uses the first line only. Here a file that
is not UTF-8 is still read (as Windows-1252, the usual culprit, or Latin-1, which
accepts any byte), never crashing, and the finding says which was assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.settings import Settings

MAX_CAPTION_BYTES = 1024 * 1024
CLIP_USABLE_TOKENS = 75  # app.clip_tokenizer.USABLE_TOKENS, without importing transformers


@dataclass(frozen=True)
class Sidecar:
    text: str  # the whole file, decoded, without a byte-order mark
    encoding: str  # utf-8 | cp1252 | latin-1
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


def decode_caption(data: bytes) -> tuple[str, str]:
    """(text, encoding) for any bytes."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"  # every byte is a Latin-1 character


@lru_cache(maxsize=64)
def _trigger_pattern(trigger: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(trigger.strip())}(?!\w)", re.IGNORECASE)


def has_trigger(text: str, trigger: str) -> bool:
    """Whether the trigger appears as a whole word (case does not matter)."""
    return bool(trigger.strip()) and bool(_trigger_pattern(trigger).search(text))


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
    with open(path, "rb") as handle:
        data = handle.read(MAX_CAPTION_BYTES)
    return parse_sidecar(data, trigger, settings)
