"""Every `source="doc#anchor"` in the code base must point at a heading that exists:
a finding whose "why" link is dead is a defect."""

from __future__ import annotations

import re

import pytest

from app.resources import check_source, list_documents, load_document
from app.settings import REPO_ROOT

SOURCE_LITERAL = re.compile(r"""source\s*[=:]\s*f?["']([a-z0-9/-]+#[a-z0-9-]+)["']""")


def _sources_in_code() -> list[tuple[str, str]]:
    found = []
    for path in sorted((REPO_ROOT / "app").rglob("*.py")):
        for match in SOURCE_LITERAL.finditer(path.read_text("utf-8")):
            found.append((str(path.relative_to(REPO_ROOT)), match.group(1)))
    return found


def test_the_scan_finds_sources() -> None:
    assert len(_sources_in_code()) >= 3


@pytest.mark.parametrize(("where", "source"), _sources_in_code())
def test_every_source_resolves(where: str, source: str) -> None:
    assert check_source(source) is None, f"{where}: {source}: {check_source(source)}"


def test_every_document_has_a_title_and_renders() -> None:
    documents = list_documents()
    assert {"training-concepts", "content-style"} <= {name for name, _ in documents}
    for name, title in documents:
        assert title != name, f"app/docs/{name}.md needs a '# Title' line"
        assert load_document(name).html


def test_check_source_reports_problems() -> None:
    assert "no document" in (check_source("nope#x") or "")
    assert "no heading" in (check_source("content-style#nope") or "")
