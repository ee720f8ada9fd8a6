"""The grid's prompts, three kinds (eval-methodology.md "What the grid shows"):

- ``caption``: like the training captions, with the trigger: does the LoRA do what it
  was trained on?
- ``new``: the trigger with a subject or scene the dataset does not have: does it
  generalise, or only reproduce the training images?
- ``leak``: a training caption with the trigger taken out: does the LoRA act without
  its trigger?
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["caption", "new", "leak"]
KINDS: tuple[Kind, ...] = ("caption", "new", "leak")
KIND_TITLES = {
    "caption": "like the training captions",
    "new": "new subject, with the trigger",
    "leak": "without the trigger",
}
# Subjects and scenes a dataset of each type rarely holds: what "generalise" means
# differs (a style should paint anything; a character should stand anywhere).
NEW_SUBJECTS = {
    "style": ("a lighthouse on a rocky coast at dusk", "a bowl of fruit on a kitchen table"),
    "character": ("standing in a busy street market", "sitting in a cafe, reading a book"),
    "concept": ("in a snowy forest at night", "on a desk in a bright office"),
    "object": ("on a wooden table in a kitchen", "in the grass of a park, daylight"),
}
FALLBACK_CAPTION = "a picture"


@dataclass(frozen=True)
class GridPrompt:
    kind: Kind
    text: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def without_trigger(caption: str, trigger: str) -> str:
    """The caption with every whole-word occurrence of the trigger removed, and the
    commas and spaces it leaves tidied."""
    text = re.sub(rf"(?<!\w){re.escape(trigger)}(?!\w)", "", caption, flags=re.I)
    parts = [part.strip() for part in text.split(",")]
    return ", ".join(part for part in parts if part) or FALLBACK_CAPTION


def with_trigger(trigger: str, text: str) -> str:
    return f"{trigger}, {text}"


def build_prompts(
    trigger: str, captions: list[str], training_type: str, per_kind: int = 2
) -> list[GridPrompt]:
    """``per_kind`` prompts of each kind, in the order caption, new, leak. Captions are
    the training captions (the trigger in them); the first ones are used, so that the
    same project gives the same grid every time."""
    usable = [c.strip() for c in captions if c.strip()][:per_kind]
    if not usable:
        usable = [with_trigger(trigger, FALLBACK_CAPTION)]
    with_trig = [
        c if re.search(rf"(?<!\w){re.escape(trigger)}(?!\w)", c, re.I) else with_trigger(trigger, c)
        for c in usable
    ]
    subjects = NEW_SUBJECTS.get(training_type, NEW_SUBJECTS["style"])[:per_kind]
    prompts = [GridPrompt("caption", text) for text in with_trig]
    prompts += [GridPrompt("new", with_trigger(trigger, subject)) for subject in subjects]
    prompts += [GridPrompt("leak", without_trigger(text, trigger)) for text in usable]
    return prompts
