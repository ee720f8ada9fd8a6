"""The reference documents in ``app/docs/``: plain-language explanations with citations,
served at ``/docs/{name}``. Every finding's ``source`` is ``{name}#{anchor}`` and must
name a heading that exists (tests check every source in the code base)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin

from app.paths import UnsafePathError, safe_join
from app.settings import PACKAGE_DIR

RESOURCES_DIR = PACKAGE_DIR / "docs"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)?$")
_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$", re.M)


# The longest name a document here has is well under this; a longer one from a URL
# would make a file name past the file system's limit (255 bytes).
MAX_NAME_CHARS = 100


class UnknownDocument(LookupError):
    """No document by that name; ``str()`` says so in plain words."""


def heading_slug(title: str) -> str:
    """GitHub-style anchors: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower().strip()).replace(" ", "-")


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})
    md.enable("table")
    anchors_plugin(
        md, min_level=1, max_level=4, slug_func=heading_slug, permalink=True, permalinkSymbol="#"
    )
    return md


@dataclass(frozen=True)
class Document:
    name: str
    title: str
    html: str
    anchors: frozenset[str]


def document_path(name: str) -> Path:
    if len(name) > MAX_NAME_CHARS:
        raise UnknownDocument(
            f"There is no document with a name that long: document names are at most "
            f"{MAX_NAME_CHARS} characters."
        )
    unknown = UnknownDocument(f"There is no document called “{name}”.")
    if not _NAME.match(name):
        raise unknown
    try:
        path = safe_join(RESOURCES_DIR, f"{name}.md")
    except UnsafePathError:
        raise unknown from None
    if not path.is_file():
        raise unknown
    return path


def list_documents() -> list[tuple[str, str]]:
    """(name, title) of every document, sorted by name."""
    found = []
    for path in sorted(RESOURCES_DIR.rglob("*.md")):
        name = path.relative_to(RESOURCES_DIR).with_suffix("").as_posix()
        if _NAME.match(name):
            found.append((name, _title(path.read_text("utf-8"), name)))
    return found


def _title(text: str, fallback: str) -> str:
    match = re.search(r"^#\s+(.+)$", text, re.M)
    return match.group(1).strip() if match else fallback


@lru_cache(maxsize=64)
def _load(path: Path, mtime_ns: int) -> Document:
    text = path.read_text("utf-8")
    name = path.relative_to(RESOURCES_DIR).with_suffix("").as_posix()
    anchors = frozenset(heading_slug(match.group(2)) for match in _HEADING.finditer(text))
    return Document(
        name=name, title=_title(text, name), html=_markdown().render(text), anchors=anchors
    )


def load_document(name: str) -> Document:
    path = document_path(name)
    return _load(path, path.stat().st_mtime_ns)


def source_href(source: str) -> str:
    """The URL a finding's source points at."""
    return f"/docs/{source}"


def check_source(source: str) -> str | None:
    """None when ``{name}#{anchor}`` resolves, else what is wrong with it."""
    name, _, anchor = source.partition("#")
    try:
        document = load_document(name)
    except UnknownDocument:
        return f"no document app/docs/{name}.md"
    if anchor and anchor not in document.anchors:
        return f"app/docs/{name}.md has no heading with anchor #{anchor}"
    return None
