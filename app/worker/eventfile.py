"""A job's event file: one JSON object per line, appended by the child, read by the
supervisor from a byte offset. A line counts once it ends with a newline, so a line
the child is still writing is read on the next pass, never half."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# At most this much is read per pass, so one chatty job cannot hold the supervisor.
READ_CHUNK = 8 << 20
END = "end"  # the type of the last event of every job


class EventWriter:
    """Appends events; each line is one ``write`` on an O_APPEND file, so lines never
    interleave and a killed child leaves at worst one unfinished last line."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, type_: str, **data: Any) -> None:
        line = strict_json({"type": type_, "t": round(time.time(), 3), **data})
        os.write(self._fd, line.encode() + b"\n")

    def close(self) -> None:
        os.close(self._fd)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def strict_json(value: Any) -> str:
    """JSON that every reader takes: a loss that went NaN or infinite is written as
    null. Python would write a bare NaN, which SQLite's JSON functions and a browser's
    JSON.parse both refuse, so one bad step would hide a run's whole chart."""
    try:
        return json.dumps(value, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), default=str, allow_nan=False)


@dataclass(frozen=True)
class Line:
    end: int  # the file's length after this line
    type: str
    data: str  # JSON text, safe to send as one SSE data line


def read_lines(path: Path, offset: int) -> list[Line]:
    """The complete lines after ``offset`` (up to READ_CHUNK bytes of them)."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            chunk = file.read(READ_CHUNK)
    except FileNotFoundError:
        return []
    cut = chunk.rfind(b"\n")
    if cut < 0:
        return []
    lines = []
    position = offset
    for raw in chunk[: cut + 1].splitlines(keepends=True):
        position += len(raw)
        lines.append(_parse(raw, position))
    return lines


# EventWriter's lines start so; their type is read without parsing the whole line.
OWN_PREFIX = '{"type": "'


def _parse(raw: bytes, end: int) -> Line:
    text = raw.decode("utf-8", "replace").rstrip("\n")
    trusted = "\r" not in text and "NaN" not in text and "Infinity" not in text
    if trusted and text.startswith(OWN_PREFIX) and text.endswith("}"):
        close = text.find('"', len(OWN_PREFIX))
        if close > 0:
            return Line(end, text[len(OWN_PREFIX) : close], text)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        # Something else reached the file (a stray print): kept, as a log line.
        return Line(end, "log", json.dumps({"type": "log", "line": text}))
    if "\r" in text or "NaN" in text or "Infinity" in text:
        # JSON allows a bare CR between tokens; SSE would read it as a line break. A
        # writer other than ours may have put a bare NaN in.
        text = strict_json(value)
    return Line(end, str(value.get("type", "log")), text)
