"""A WD14-style booru tagger run with onnxruntime, from a local folder holding
``model.onnx`` and ``selected_tags.csv`` (SmilingWolf's wd-*-tagger releases, and the
taggers kohya's sd-scripts uses).

Follows the reference implementations exactly, because a tagger given differently
prepared pixels gives quietly worse tags: SmilingWolf's wd-tagger space (``app.py``,
``Predictor.prepare_image``) and sd-scripts ``finetune/tag_images_by_wd14_tagger.py``.

- The image is composited on white (transparent pixels become white), padded to a
  square with white, centred, then resized to the model's input size with bicubic
  resampling.
- Channels go in as BGR, float32 in 0-255 (no normalisation), laid out NHWC
  ``[batch, height, width, 3]``; the input size is read from the model.
- Row *i* of ``selected_tags.csv`` (columns ``tag_id,name,category,count``) names output
  *i*; category 9 is a rating, 0 a general tag, 4 a character. The model's outputs are
  already probabilities (its last layer is a sigmoid).
- Underscores become spaces, except in kaomoji such as ``^_^``.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from app.captions.captioners.base import (
    LABELS,
    CaptionerUnavailable,
    LocalCaptioner,
    RawCaption,
    ScoredTag,
    open_image,
    require_files,
)

MODEL_FILE = "model.onnx"
TAGS_FILE = "selected_tags.csv"
NEEDS = (
    ((MODEL_FILE,), "the tagger network"),
    ((TAGS_FILE,), "its list of tags, with columns tag_id,name,category,count"),
)
LABEL = LABELS["wd14"]
# Releases this tagger runs, as named on Hugging Face (the page offers them as examples).
MODELS = (
    "SmilingWolf/wd-vit-tagger-v3",
    "SmilingWolf/wd-swinv2-tagger-v3",
    "SmilingWolf/wd-convnext-tagger-v3",
)
CATEGORY_GENERAL = 0
CATEGORY_CHARACTER = 4
# The size every WD14 tagger was trained at, for a model whose input size is not fixed.
DEFAULT_INPUT_SIZE = 448
_TWO_LETTERS = re.compile(r"[a-z]{2}", re.IGNORECASE)


@dataclass(frozen=True)
class Wd14Settings:
    # The defaults of SmilingWolf's wd-tagger space and sd-scripts: 0.35 for general
    # tags, 0.85 for characters (a wrong character name is worse than none).
    general_threshold: float = 0.35
    character_threshold: float = 0.85
    batch_size: int = 4

    def __post_init__(self) -> None:
        for name in ("general_threshold", "character_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name.replace('_', ' ')} must be between 0 and 1, not {value}.")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1.")


@dataclass(frozen=True)
class Label:
    name: str
    category: int


def caption_name(raw: str) -> str:
    """``long_hair`` → ``long hair``; kaomoji (``^_^``, ``>_<``, ``(o)_(o)``) keep their
    underscore: they have no two letters in a row."""
    return raw.replace("_", " ") if _TWO_LETTERS.search(raw) else raw


def read_labels(path: Path) -> list[Label]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptionerUnavailable(f"{path} cannot be read as UTF-8 text: {exc}.") from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    if header[:3] != ["tag_id", "name", "category"]:
        raise CaptionerUnavailable(
            f"{path} does not look like a WD14 tag list: its first line should be "
            f"“tag_id,name,category,count”, not “{','.join(header)}”."
        )
    labels = []
    for number, row in enumerate(rows[1:], start=2):
        try:
            labels.append(Label(row[1], int(row[2])))
        except (IndexError, ValueError):
            raise CaptionerUnavailable(
                f"{path}, line {number}: expected a tag name and a numeric category."
            ) from None
    return labels


def prepare_image(image: Image.Image, size: int) -> np.ndarray:
    """One image as the tagger expects it: [size, size, 3] float32 BGR in 0-255."""
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    rgb = canvas.convert("RGB")
    side = max(rgb.size)
    square = Image.new("RGB", (side, side), (255, 255, 255))
    square.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
    if side != size:
        square = square.resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(square, dtype=np.float32)
    return np.ascontiguousarray(pixels[:, :, ::-1])


class Wd14Tagger(LocalCaptioner):
    kind = "wd14"
    output = "tags"

    def __init__(self, folder: Path, settings: Wd14Settings | None = None) -> None:
        require_files(folder, LABEL, "wd14", NEEDS)
        self.folder = folder
        self.settings = settings or Wd14Settings()
        self.labels = read_labels(folder / TAGS_FILE)
        self._session = _open_session(folder / MODEL_FILE)
        model_input = self._session.get_inputs()[0]
        shape = list(model_input.shape)
        if len(shape) != 4 or shape[3] != 3:
            raise CaptionerUnavailable(
                f"{folder / MODEL_FILE} is not a WD14-style tagger: it takes input shaped "
                f"{shape}, not [batch, height, width, 3]."
            )
        self._input_name = model_input.name
        self.input_size = shape[1] if isinstance(shape[1], int) else DEFAULT_INPUT_SIZE
        fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.batch_size = fixed_batch or self.settings.batch_size
        self._pad_to = fixed_batch
        outputs = self._session.get_outputs()[0].shape
        if outputs and isinstance(outputs[-1], int) and outputs[-1] != len(self.labels):
            raise CaptionerUnavailable(
                f"{TAGS_FILE} lists {len(self.labels)} tags but {MODEL_FILE} gives "
                f"{outputs[-1]} scores: the two files come from different taggers. Put the "
                f"pair from one release in {folder}."
            )

    def load_image(self, path: Path) -> np.ndarray:
        return prepare_image(open_image(path), self.input_size)

    def scores(self, batch: np.ndarray) -> np.ndarray:
        count = batch.shape[0]
        if self._pad_to and count < self._pad_to:
            # A model exported with a fixed batch size needs full batches.
            filler = np.zeros((self._pad_to - count, *batch.shape[1:]), dtype=np.float32)
            batch = np.concatenate([batch, filler])
        probabilities = self._session.run(None, {self._input_name: batch})[0]
        return np.asarray(probabilities, dtype=np.float64)[:count]

    def infer(self, loaded: list[tuple[Path, np.ndarray]]) -> list[RawCaption]:
        batch = np.stack([pixels for _, pixels in loaded])
        return [
            RawCaption(path, tags=self.tags_for(row))
            for (path, _), row in zip(loaded, self.scores(batch), strict=True)
        ]

    def tags_for(self, scores: np.ndarray) -> tuple[ScoredTag, ...]:
        """Characters above their threshold first (the surest, most specific tags), then
        general tags above theirs, each group by score, highest first."""
        characters, general = [], []
        for label, score in zip(self.labels, scores, strict=False):
            value = float(score)
            if label.category == CATEGORY_CHARACTER and value >= self.settings.character_threshold:
                characters.append(ScoredTag(caption_name(label.name), value, "character"))
            elif label.category == CATEGORY_GENERAL and value >= self.settings.general_threshold:
                general.append(ScoredTag(caption_name(label.name), value, "general"))
        characters.sort(key=lambda tag: -tag.score)
        general.sort(key=lambda tag: -tag.score)
        return (*characters, *general)


def check_runtime() -> None:
    """onnxruntime runs the tagger; it comes with the ``captioners`` extra only, since
    nothing else in loragate needs it."""
    if importlib.util.find_spec("onnxruntime") is None:
        raise CaptionerUnavailable(
            "The WD14 tagger runs on the onnxruntime package, which is not installed in "
            f"loragate's Python. Install it with `{sys.executable} -m pip install "
            "'loragate[captioners]'` (in a loragate checkout: `make run "
            "EXTRAS=captioners`), then start the captioner again; or choose the "
            "natural-language captioner, which needs nothing more."
        )


def _open_session(path: Path) -> Any:
    check_runtime()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the artist cannot act on graph notes
    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise CaptionerUnavailable(
            f"{path} could not be loaded as an ONNX model ({type(exc).__name__}). The file "
            "may be incomplete: copy it again from the tagger's release."
        ) from None
