"""journal.md: one Markdown line per decision, whatever the words in it hold."""

from __future__ import annotations

from sqlmodel import select

from app.journal import journal_path
from app.models import Event
from app.projects import create_project
from app.workspace import Workspace


def test_a_line_is_one_line_and_never_html(workspace: Workspace, make_intent) -> None:  # type: ignore[no-untyped-def]
    project, _ = create_project(
        workspace,
        make_intent(name="Ink <b>wash</b> & co", must_stay="thick outlines\n- **forged** entry"),
    )
    lines = journal_path(workspace.project_dir(project.slug)).read_text().splitlines()
    entries = [line for line in lines if line.startswith("- **")]
    assert not any(line.startswith("- **forged**") for line in lines)
    text = "\n".join(entries)
    assert "Ink &lt;b&gt;wash&lt;/b&gt; &amp; co" in text and "<b>" not in text
    assert "Must stay fixed: thick outlines\\n- **forged** entry" in text
    # The database keeps the words as they were; only the Markdown file escapes them.
    with workspace.db.reading() as session:
        messages = [event.message for event in session.exec(select(Event))]
    assert any("Ink <b>wash</b> & co" in message for message in messages)
