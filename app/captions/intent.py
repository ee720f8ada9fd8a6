"""What the caption checks and the auto-captioners need to know about a project: the
intent interview's answers plus the artist's style words, as plain values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.captions.text import CAPTION_FORMATS, check_trigger
from app.captions.vocabulary import StyleTerm, parse_list, style_terms
from app.grimoire import Eye
from app.intent import TRAINING_TYPES

if TYPE_CHECKING:  # the tables: `loragate audit DIR` lints captions without a database
    from app.models import Project


@dataclass(frozen=True)
class CaptionIntent:
    training_type: str  # style | character | concept | object
    trigger: str
    caption_format: str  # booru | natural | mixed
    must_vary: tuple[str, ...] = ()
    must_stay: tuple[str, ...] = ()
    style_words: tuple[str, ...] = ()  # the artist's own, from grimoire/eye.md

    def __post_init__(self) -> None:
        if self.training_type not in TRAINING_TYPES:
            raise ValueError(
                f"“{self.training_type}” is not a training type loragate knows "
                f"({', '.join(TRAINING_TYPES)})."
            )
        if self.caption_format not in CAPTION_FORMATS:
            raise ValueError(
                f"“{self.caption_format}” is not a caption format loragate knows "
                f"({', '.join(CAPTION_FORMATS)})."
            )
        object.__setattr__(self, "trigger", check_trigger(self.trigger))

    @classmethod
    def build(
        cls,
        *,
        training_type: str,
        trigger: str,
        caption_format: str,
        must_vary: str | Iterable[str] = "",
        must_stay: str | Iterable[str] = "",
        style_words: Iterable[str] = (),
    ) -> CaptionIntent:
        """From the interview's free text ("red scarf, scar" or one per line) or lists."""
        return cls(
            training_type=training_type,
            trigger=trigger,
            caption_format=caption_format,
            must_vary=_items(must_vary),
            must_stay=_items(must_stay),
            style_words=_items(style_words),
        )

    @classmethod
    def from_project(cls, project: Project, eye: Eye | None = None) -> CaptionIntent:
        return cls.build(
            training_type=project.training_type,
            trigger=project.trigger_word,
            caption_format=project.caption_format,
            must_vary=project.must_vary,
            must_stay=project.must_stay,
            style_words=eye.style_words if eye else (),
        )

    @property
    def is_style(self) -> bool:
        return self.training_type == "style"

    def style_terms(self) -> tuple[StyleTerm, ...]:
        return style_terms(self.style_words)


def _items(value: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return parse_list(value)
    return parse_list("\n".join(value))
