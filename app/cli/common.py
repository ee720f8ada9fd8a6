"""What every subcommand shares: opening the workspace, printing JSON, failing
with a plain message, and output that escapes control characters."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from app.printable import printable
from app.settings import Settings

if TYPE_CHECKING:
    from app.workspace import ProjectContext, Workspace


def open_workspace() -> Workspace:
    from app.workspace import Workspace

    return Workspace(Settings())


class _PrintableStream:
    """Writes text with control characters escaped, keeping tabs and line breaks: a
    file name in a message cannot send escape sequences to the terminal. JSON passes
    unchanged in meaning (the escapes are JSON's own)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text, keep="\n\t"))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def printable_output() -> None:
    """Route everything every command prints through ``_PrintableStream``; a name
    that is not valid UTF-8 (a surrogate escape) prints as a backslash escape."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _PrintableStream):
            continue
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
        setattr(sys, name, _PrintableStream(stream))


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def fail_usage(message: str) -> NoReturn:
    """Wrong usage: exit 2, like argparse does."""
    sys.stderr.write(f"loragate: {message}\n")
    raise SystemExit(2)


def project_context(workspace: Workspace, slug: str) -> ProjectContext:
    from app.projects import get_project

    project = get_project(workspace, slug)
    if project is None:
        fail_usage(f"there is no project “{slug}” (see `loragate project list`).")
    return workspace.context(project)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object for machines")


@contextmanager
def interrupt_at_safe_points() -> Iterator[Callable[[], None]]:
    """A check for long work that runs a process pool: Ctrl-C raises KeyboardInterrupt
    at the work's next call of the check, where the pool can still be shut down in
    order (not while it is starting workers); a second Ctrl-C raises at once."""
    pressed = False

    def on_ctrl_c(_signum: int, _frame: FrameType | None) -> None:
        nonlocal pressed
        if pressed:
            raise KeyboardInterrupt
        pressed = True

    def check() -> None:
        if pressed:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
