"""What every auto-captioner shares: its interface, its raw output, reading images, and
the plain-language error for a model folder that is not there or not complete.

A captioner only says what it sees. Turning that into a caption for this project
(trigger word first, style words and fixed traits out, the caption format, the
artist's blacklist) is ``drafts.make_draft``'s job, and the result is always a draft.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from app.dataset.pillow_guard import BOMB_ERRORS
from app.paths import UnsafePathError, user_path

ProgressFn = Callable[[int, int], None]  # (images done, images in this run)
CancelFn = Callable[[], bool]  # True: stop after the current batch, keep what is done
CaptionerKind = Literal["wd14", "natural"]
Output = Literal["tags", "sentences"]

STUDIO_HINT = "grimoire/studio.md"
# How the pages name each captioner.
LABELS: dict[str, str] = {"wd14": "WD14 tagger", "natural": "natural-language captioner"}


def source_words(source: str) -> str:
    """A caption's source as the pages say it: "wd14:wd-vit-tagger-v3" is the "WD14
    tagger (wd-vit-tagger-v3)"; a model folder named like the kind ("wd14:wd14") adds
    nothing and is left out. An unknown source is shown as it is."""
    kind, _, folder = source.partition(":")
    label = LABELS.get(kind)
    if label is None:
        return source
    return label if not folder or folder == kind else f"{label} ({folder})"


class CaptionerUnavailable(RuntimeError):
    """The captioner cannot run; the message says exactly what to put where."""


@dataclass(frozen=True)
class ScoredTag:
    name: str  # as written in captions: "long hair", not "long_hair"
    score: float
    category: Literal["general", "character"]


@dataclass(frozen=True)
class RawCaption:
    """What the model said about one image, before any project rule is applied. Kept so
    that the artist's adjustments after the sample re-apply without running the model
    again."""

    path: Path
    tags: tuple[ScoredTag, ...] = ()  # a tagger's output, in caption order
    sentence: str = ""  # an image-to-text model's output


@dataclass(frozen=True)
class ImageFailure:
    path: Path
    reason: str


@dataclass
class CaptionBatch:
    captions: list[RawCaption] = field(default_factory=list)
    failures: list[ImageFailure] = field(default_factory=list)
    cancelled: bool = False


class Captioner(Protocol):
    kind: CaptionerKind
    output: Output

    @property
    def source(self) -> str:
        """How drafts name their origin: the captioner and its model folder."""
        ...

    def caption(
        self,
        images: Sequence[Path],
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
    ) -> CaptionBatch: ...


def require_files(
    folder: Path, label: str, studio_key: str, needs: Sequence[tuple[Sequence[str], str]]
) -> None:
    """Raise CaptionerUnavailable naming every missing file. ``needs`` lists, for each
    required file, the names that satisfy it and what it is."""
    where = f"“captioners: {studio_key}:” in {STUDIO_HINT}"
    wanted = "; ".join(f"{' or '.join(names)} ({what})" for names, what in needs)
    if not folder.is_dir():
        raise CaptionerUnavailable(
            f"The {label} folder {folder} (set as {where}) does not exist. Create it and "
            f"put these files in it: {wanted}. Or point {where} at the folder that holds "
            "them."
        )
    missing = [
        (names, what) for names, what in needs if not any((folder / n).is_file() for n in names)
    ]
    if missing:
        listed = "; ".join(f"{' or '.join(names)} ({what})" for names, what in missing)
        raise CaptionerUnavailable(
            f"The {label} folder {folder} is missing {listed}. Put the missing files in "
            f"{folder}, next to the others from the same model release, or point {where} "
            "at a folder that has them all."
        )


def resolve_folder(
    configured: str | None,
    grimoire_dir: Path,
    label: str,
    studio_key: str,
    needs: Sequence[tuple[Sequence[str], str]],
) -> Path:
    """The model folder studio.md names; a relative path is read from the grimoire
    folder, ``~`` is the home folder."""
    if not configured or not str(configured).strip():
        wanted = " and ".join(" or ".join(names) for names, _ in needs)
        raise CaptionerUnavailable(
            f"No {label} is set up. Put a folder holding {wanted} on this computer and "
            f"write its path as “captioners: {studio_key}:” in {STUDIO_HINT}, or download one "
            "by name on the auto-caption page (`loragate models pull`)."
        )
    try:
        folder = user_path(str(configured).strip())
    except UnsafePathError as exc:
        raise CaptionerUnavailable(
            f"The {label} folder in {STUDIO_HINT} cannot be used: {exc}"
        ) from None
    return folder if folder.is_absolute() else grimoire_dir / folder


def open_image(path: Path) -> Image.Image:
    """The image upright (EXIF orientation applied), fully decoded, with its alpha.
    Raises ValueError with a plain reason for anything that is not a readable image."""
    try:
        with Image.open(path) as opened:
            # Pillow only warns between 1x and 2x its pixel limit; a bomb is refused here.
            limit = Image.MAX_IMAGE_PIXELS
            if limit and opened.width * opened.height > limit:
                raise Image.DecompressionBombError(f"{opened.width}×{opened.height} pixels")
            image = ImageOps.exif_transpose(opened)
            image.load()
            return image
    except FileNotFoundError:
        raise ValueError("The file is gone.") from None
    except (UnidentifiedImageError, *BOMB_ERRORS):
        raise ValueError(
            "The file is not an image loragate can read, or it is too large."
        ) from None
    except OSError as exc:
        raise ValueError(f"The image could not be read: {exc}.") from None


T = TypeVar("T")


def run_in_batches(
    images: Sequence[Path],
    batch_size: int,
    load: Callable[[Path], T],
    infer: Callable[[list[tuple[Path, T]]], list[RawCaption]],
    progress: ProgressFn | None,
    should_cancel: CancelFn | None,
) -> CaptionBatch:
    """The loop both captioners share: load, infer a batch, report, check for cancel
    between batches. An unreadable image is recorded and skipped, never fatal."""
    result = CaptionBatch()
    total = len(images)
    done = 0
    if progress:
        progress(0, total)
    for start in range(0, total, max(1, batch_size)):
        if should_cancel and should_cancel():
            result.cancelled = True
            break
        chunk = images[start : start + max(1, batch_size)]
        loaded: list[tuple[Path, T]] = []
        for path in chunk:
            try:
                loaded.append((path, load(path)))
            except ValueError as exc:
                result.failures.append(ImageFailure(path, str(exc)))
        if loaded:
            result.captions.extend(infer(loaded))
        done += len(chunk)
        if progress:
            progress(done, total)
    return result


class LocalCaptioner:
    """What both captioners share: a model folder, and a batched run over images.
    Subclasses set ``kind``, ``output``, ``folder`` and ``batch_size`` and provide
    ``load_image`` and ``infer``."""

    kind: CaptionerKind
    output: Output
    folder: Path
    batch_size: int

    @property
    def source(self) -> str:
        return f"{self.kind}:{self.folder.name}"

    def caption(
        self,
        images: Sequence[Path],
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
    ) -> CaptionBatch:
        return run_in_batches(
            images, self.batch_size, self.load_image, self.infer, progress, should_cancel
        )

    def load_image(self, path: Path) -> Any:
        raise NotImplementedError

    def infer(self, loaded: list[tuple[Path, Any]]) -> list[RawCaption]:
        raise NotImplementedError
