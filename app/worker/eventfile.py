"""A job's event file: one JSON object per line, appended by the child, read by the
supervisor from a byte offset. A line counts once it ends with a newline, so a line
the child is still writing is read on the next pass, never half."""

from __future__ import annotations

import json
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
        line = json.dumps({"type": type_, "t": round(time.time(), 3), **data}, default=str)
        os.write(self._fd, line.encode() + b"\n")

    def close(self) -> None:
        os.close(self._fd)


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
    if text.startswith(OWN_PREFIX) and text.endswith("}") and "\r" not in text:
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
    if "\r" in text:
        # JSON allows a bare CR between tokens; SSE would read it as a line break.
        text = json.dumps(value)
    return Line(end, str(value.get("type", "log")), text)
