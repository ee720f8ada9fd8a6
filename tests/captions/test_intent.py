"""The caption checks read the project's interview answers and the artist's eye.md."""

from __future__ import annotations

from app.captions.intent import CaptionIntent
from app.grimoire import update_doc
from app.projects import create_project
from app.workspace import Workspace


def test_intent_from_a_real_project_and_eye(workspace: Workspace, make_intent) -> None:  # type: ignore[no-untyped-def]
    project, _ = create_project(
        workspace,
        make_intent(
            training_type="character",
            trigger_word="mirakz",
            caption_format="natural",
            must_vary="pose, background\n- expression",
            must_stay="red scarf; scar over left eye.",
        ),
    )
    update_doc(
        workspace.grimoire_dir / "eye.md",
        lambda front: front.__setitem__("style_words", ["loose ink lines"]),
    )
    intent = CaptionIntent.from_project(project, workspace.eye())
    assert intent.trigger == "mirakz"
    assert intent.must_vary == ("pose", "background", "expression")
    assert intent.must_stay == ("red scarf", "scar over left eye")
    assert intent.style_words == ("loose ink lines",)
    assert intent.style_terms()[0].phrase == "loose ink lines"
