"""Auto-captioners that run local models: a WD14 tagger for booru tags and an
image-to-text model for sentences. Their folders are listed in grimoire/studio.md
(``captioners: wd14:`` and ``natural:``); nothing is downloaded.

The integration calls ``load_captioner`` once, then ``caption_sample`` /
``redraft`` / ``caption_rest`` (``flow``), and stores each ``CaptionDraft`` as a draft.
"""

from __future__ import annotations

from pathlib import Path

from app.captions.captioners.base import (
    CaptionBatch,
    Captioner,
    CaptionerKind,
    CaptionerUnavailable,
    ImageFailure,
    RawCaption,
    ScoredTag,
    resolve_folder,
)
from app.captions.captioners.drafts import CaptionDraft, CaptionRecipe, make_draft
from app.captions.captioners.flow import (
    DEFAULT_SAMPLE_SIZE,
    CaptionRun,
    caption_rest,
    caption_sample,
    pick_sample,
    redraft,
)
from app.captions.captioners.natural import NaturalSettings
from app.captions.captioners.wd14 import Wd14Settings
from app.grimoire import Studio

CAPTIONER_OUTPUT = {"wd14": "tags", "natural": "sentences"}


def captioner_folder(studio: Studio, kind: CaptionerKind, grimoire_dir: Path) -> Path:
    from app.captions.captioners import natural, wd14

    module = wd14 if kind == "wd14" else natural
    return resolve_folder(
        getattr(studio.captioners, kind), grimoire_dir, module.LABEL, kind, module.NEEDS
    )


def load_captioner(
    studio: Studio,
    kind: CaptionerKind,
    grimoire_dir: Path,
    settings: Wd14Settings | NaturalSettings | None = None,
) -> Captioner:
    """The captioner studio.md names, loaded and ready; CaptionerUnavailable says what
    to put where when it cannot be."""
    folder = captioner_folder(studio, kind, grimoire_dir)
    if kind == "wd14":
        from app.captions.captioners.wd14 import Wd14Tagger

        if settings is not None and not isinstance(settings, Wd14Settings):
            raise TypeError("The WD14 tagger takes Wd14Settings.")
        return Wd14Tagger(folder, settings)
    if kind == "natural":
        from app.captions.captioners.natural import ImageToTextCaptioner

        if settings is not None and not isinstance(settings, NaturalSettings):
            raise TypeError("The natural-language captioner takes NaturalSettings.")
        return ImageToTextCaptioner(folder, settings)
    raise ValueError(f"“{kind}” is not a captioner loragate knows (wd14, natural).")


def format_advice(kind: CaptionerKind, caption_format: str) -> str | None:
    """A plain warning when a captioner writes another format than the project's."""
    output = CAPTIONER_OUTPUT[kind]
    if output == "tags" and caption_format == "natural":
        return (
            "The WD14 tagger writes booru tags, but this project uses natural sentences: "
            "you would rewrite every caption. The natural-language captioner fits better."
        )
    if output == "sentences" and caption_format == "booru":
        return (
            "The natural-language captioner writes sentences, but this project uses booru "
            "tags: you would rewrite every caption. The WD14 tagger fits better."
        )
    if caption_format == "mixed" and output == "tags":
        return "Mixed captions start with a short sentence: add one to each draft as you review."
    return None


__all__ = [
    "DEFAULT_SAMPLE_SIZE",
    "CaptionBatch",
    "CaptionDraft",
    "CaptionRecipe",
    "CaptionRun",
    "Captioner",
    "CaptionerUnavailable",
    "ImageFailure",
    "NaturalSettings",
    "RawCaption",
    "ScoredTag",
    "Wd14Settings",
    "caption_rest",
    "caption_sample",
    "captioner_folder",
    "format_advice",
    "load_captioner",
    "make_draft",
    "pick_sample",
    "redraft",
]
