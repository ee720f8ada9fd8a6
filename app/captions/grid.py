"""What the caption grid shows: one card per image (its caption, status, token count,
the caption check's findings, an edit made outside loragate), filtered and cut into
pages so a dataset of thousands stays quick, with the approval progress and the tag
frequencies. Reads only; the pages call ``store`` and ``batch`` to
change anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from sqlmodel import col, func, select

from app.captions.content_lint import DATASET_SUBJECT, lint_caption, lint_captions
from app.captions.intent import CaptionIntent
from app.captions.sidecar_checks import EXTENDED_TOKENS, FLUX_T5_TOKENS
from app.captions.sidecar_decode import CLIP_USABLE_TOKENS
from app.captions.sidecar_files import OutsideChange, outside_change, sidecar_path
from app.captions.store import (
    ImageFacts,
    captions_for_images,
    is_trainable_image,
    load_captions,
)
from app.captions.text import (
    TagCount,
    caption_tags,
    starts_with_trigger,
    tag_frequency,
    tag_key,
)
from app.dataset.inventory import dataset_dir
from app.dataset.records import load_rows, rows_by_id
from app.findings import Finding
from app.grimoire import GrimoireError
from app.models import Caption, DatasetImage
from app.workspace import ProjectContext

PER_PAGE = 48
# A caption note shared by at least this many captions is said once above the grid
# instead of on each card (500 cards saying the same two sentences hide the rest).
COMMON_NOTE_MIN = 3
TAG_PANEL_SIZE = 40
# Tags offered while typing in the tag filter (the panel shows the most frequent only;
# the filter takes any tag, these are suggestions).
KNOWN_TAGS_LIMIT = 2000
FILTERS: dict[str, str] = {
    "all": "All",
    "unapproved": "Not approved",
    "approved": "Approved",
    "flagged": "Flagged by the check",
    "missing_trigger": "Missing the trigger word",
    "over_limit": "Over the token limit",
    "outside": "Changed outside loragate",
    "no_caption": "No caption",
    "excluded": "Excluded",
}


def caption_intent(ctx: ProjectContext) -> CaptionIntent:
    """The project's intent with the artist's style words (none when eye.md cannot be
    read: the rest of the check still runs, and ``eye_problem`` says what is missing)."""
    try:
        eye = ctx.workspace.eye()
    except GrimoireError:
        eye = None
    return CaptionIntent.from_project(ctx.project, eye)


def eye_problem(ctx: ProjectContext) -> str | None:
    """Why the style check runs without the artist's own style words: eye.md cannot be
    read. None when it can, or when the project is not a style LoRA (only the style
    check reads them)."""
    if ctx.project.training_type != "style":
        return None
    try:
        ctx.workspace.eye()
    except GrimoireError as exc:
        return (
            "The style check is running without your own style words, because "
            f"grimoire/eye.md cannot be read: {exc} Fix the file; the check then flags "
            "your words again."
        )
    return None


@dataclass(frozen=True)
class TokenLimits:
    usable: int  # what the text encoder reads in one go
    extended: int  # the most a trainer can be told to read

    @classmethod
    def for_family(cls, family: str) -> TokenLimits:
        if family == "flux":
            # Flux reads prompts with T5 (512 tokens for dev); CLIP only adds a summary.
            return cls(FLUX_T5_TOKENS, FLUX_T5_TOKENS)
        return cls(CLIP_USABLE_TOKENS, EXTENDED_TOKENS)


@dataclass
class Card:
    image: DatasetImage
    caption: Caption | None
    findings: list[Finding]
    outside: OutsideChange | None
    limits: TokenLimits
    outside_missing_trigger: bool = False  # the file as edited outside lost the trigger
    note_above: bool = False  # its note is said once above the grid, not on the card

    @property
    def status(self) -> str:
        return self.caption.status if self.caption else "none"

    @property
    def version(self) -> int:
        return self.caption.version if self.caption else 0

    @property
    def text(self) -> str:
        return self.caption.text if self.caption else ""

    @property
    def tokens(self) -> int:
        return self.caption.tokens if self.caption else 0

    @property
    def note(self) -> str:
        """The note shown on the card itself."""
        return self.caption.note if self.caption and not self.note_above else ""

    @property
    def token_level(self) -> str:
        """ok | long (over what is read in one go) | too_long (over the most)."""
        if self.tokens > self.limits.extended:
            return "too_long"
        if self.tokens > self.limits.usable:
            return "long"
        return "ok"

    @property
    def missing_trigger(self) -> bool:
        return self.outside_missing_trigger or any(
            f.code == "caption.missing_trigger" for f in self.findings
        )

    @property
    def flagged(self) -> bool:
        return self.outside is not None or any(f.severity != "info" for f in self.findings)

    def matches(self, name: str) -> bool:
        included = self.image.included
        return {
            "all": True,
            "unapproved": included and self.status != "approved",
            "approved": self.status == "approved",
            "flagged": included and self.flagged,
            "missing_trigger": included and self.missing_trigger,
            "over_limit": self.token_level != "ok",
            "outside": self.outside is not None,
            "no_caption": self.caption is None,
            "excluded": not included,
        }[name]


@dataclass(frozen=True)
class Progress:
    approved: int
    included: int

    @property
    def complete(self) -> bool:
        return self.included > 0 and self.approved >= self.included


@dataclass
class GridQuery:
    filter: str = "all"
    tag: str = ""
    concept: str = ""
    page: int = 1
    image: str = ""  # one image's path: the link from a finding about that image

    def __post_init__(self) -> None:
        if self.filter not in FILTERS:
            self.filter = "all"
        self.tag = " ".join(self.tag.split())
        self.page = max(1, self.page)

    def params(self, **changes: object) -> dict[str, object]:
        """Query parameters for a link to this view (with ``changes``)."""
        values: dict[str, object] = {
            "filter": self.filter,
            "tag": self.tag,
            "concept": self.concept,
            "page": self.page,
            "image": self.image,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None, "all", 1)}


@dataclass(frozen=True)
class CommonNote:
    note: str
    count: int  # captions in the view that carry it


@dataclass
class Grid:
    query: GridQuery
    cards: list[Card]  # this page
    matching_ids: list[int]  # every image the filter matches, over all pages
    pages: int
    progress: Progress
    counts: dict[str, int]
    tags: list[TagCount]  # the most frequent, for the panel
    dataset_findings: list[Finding]
    concepts: list[str] = field(default_factory=list)
    known_tags: list[str] = field(default_factory=list)  # suggestions for the tag filter
    eye_problem: str | None = None
    common_notes: list[CommonNote] = field(default_factory=list)
    editable: int = 0  # images in the view a batch may change (the included ones)

    @property
    def total(self) -> int:
        return len(self.matching_ids)


def progress_of(rows: Iterable[DatasetImage], captions: dict[int, Caption]) -> Progress:
    included = [row for row in rows if row.included and is_trainable_image(row)]
    approved = sum(
        1
        for row in included
        if (caption := captions.get(row.id or 0)) is not None and caption.status == "approved"
    )
    return Progress(approved, len(included))


def current_progress(ctx: ProjectContext) -> Progress:
    """``progress_of`` the whole project, reading only the columns it needs: every click
    on the grid answers with it, so it must stay quick with thousands of images."""
    project_id = ctx.project.id
    with ctx.workspace.db.reading() as session:
        facts = session.exec(
            select(
                DatasetImage.id,
                DatasetImage.width,
                DatasetImage.height,
                DatasetImage.analysis_version,
                DatasetImage.metrics,
            ).where(DatasetImage.project_id == project_id, col(DatasetImage.included))
        ).all()
        approved = set(
            session.exec(
                select(Caption.image_id).where(
                    Caption.project_id == project_id, Caption.status == "approved"
                )
            ).all()
        )
    # A row of columns has the attributes is_trainable_image reads.
    included = [row.id for row in facts if is_trainable_image(cast("ImageFacts", row))]
    return Progress(sum(1 for image_id in included if image_id in approved), len(included))


def _has_tag(card: Card, key: str, ctx: ProjectContext) -> bool:
    if card.caption is None:
        return False
    tags = caption_tags(card.caption.text, ctx.project.caption_format, ctx.project.trigger_word)
    return any(tag_key(tag) == key for tag in tags)


def common_notes(captions: Iterable[Caption]) -> set[str]:
    """Notes that enough captions share to be said once above the grid."""
    counts = Counter(caption.note for caption in captions if caption.note)
    return {note for note, count in counts.items() if count >= COMMON_NOTE_MIN}


def caption_grid(ctx: ProjectContext, query: GridQuery, per_page: int = PER_PAGE) -> Grid:
    rows = [row for row in load_rows(ctx) if is_trainable_image(row)]
    captions = load_captions(ctx)
    intent = caption_intent(ctx)
    limits = TokenLimits.for_family(ctx.project.model_family)
    root = dataset_dir(ctx)
    linted = [
        (row.path, captions[row.id or 0].text)
        for row in rows
        if row.included and (row.id or 0) in captions
    ]
    by_path: dict[str, list[Finding]] = {}
    dataset_findings = []
    for found in lint_captions(linted, intent):
        if found.subject == DATASET_SUBJECT:
            dataset_findings.append(found)
        else:
            by_path.setdefault(found.subject, []).append(found)
    shared = common_notes(captions.values())
    cards = []
    for row in rows:
        caption = captions.get(row.id or 0)
        outside = outside_change(sidecar_path(root, row.path), caption) if caption else None
        cards.append(
            Card(
                row,
                caption,
                by_path.get(row.path, []),
                outside,
                limits,
                _lost_trigger(outside, ctx.project.trigger_word),
                note_above=caption is not None and caption.note in shared,
            )
        )
    counts = {name: sum(card.matches(name) for card in cards) for name in FILTERS}
    matching = [card for card in cards if card.matches(query.filter)]
    if query.concept:
        matching = [card for card in matching if card.image.concept == query.concept]
    if query.tag:
        key = tag_key(query.tag)
        matching = [card for card in matching if _has_tag(card, key, ctx)]
    if query.image:
        matching = [card for card in matching if card.image.path == query.image]
    in_view = Counter(card.caption.note for card in matching if card.note_above and card.caption)
    pages = max(1, -(-len(matching) // per_page))
    query.page = min(query.page, pages)
    start = (query.page - 1) * per_page
    included_texts = [text for _, text in linted]
    frequency = tag_frequency(included_texts, ctx.project.caption_format, ctx.project.trigger_word)
    return Grid(
        query=query,
        cards=matching[start : start + per_page],
        matching_ids=[card.image.id or 0 for card in matching],
        pages=pages,
        progress=progress_of(rows, captions),
        counts=counts,
        tags=frequency[:TAG_PANEL_SIZE],
        dataset_findings=dataset_findings,
        concepts=sorted({row.concept for row in rows}),
        known_tags=sorted(item.tag for item in frequency[:KNOWN_TAGS_LIMIT]),
        eye_problem=eye_problem(ctx),
        common_notes=[CommonNote(note, count) for note, count in in_view.most_common()],
        editable=sum(1 for card in matching if card.image.included),
    )


def _lost_trigger(outside: OutsideChange | None, trigger: str) -> bool:
    return (
        outside is not None
        and outside.text is not None
        and not starts_with_trigger(outside.text, trigger)
    )


def _shares_note(ctx: ProjectContext, caption: Caption) -> bool:
    if not caption.note:
        return False
    with ctx.workspace.db.reading() as session:
        count = session.exec(
            select(func.count())
            .select_from(Caption)
            .where(Caption.project_id == ctx.project.id, Caption.note == caption.note)
        ).one()
    return count >= COMMON_NOTE_MIN


def single_card(ctx: ProjectContext, image_id: int) -> Card | None:
    """One card, as the grid would show it (its caption's own findings only)."""
    rows = rows_by_id(ctx, [image_id])
    if not rows:
        return None
    row = rows[0]
    caption = captions_for_images(ctx, [image_id]).get(image_id)
    findings = []
    outside = None
    if caption is not None:
        if row.included:
            findings = lint_caption(row.path, caption.text, caption_intent(ctx))
        outside = outside_change(sidecar_path(dataset_dir(ctx), row.path), caption)
    return Card(
        row,
        caption,
        findings,
        outside,
        TokenLimits.for_family(ctx.project.model_family),
        _lost_trigger(outside, ctx.project.trigger_word),
        note_above=caption is not None and _shares_note(ctx, caption),
    )
