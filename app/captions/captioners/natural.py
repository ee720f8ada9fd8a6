"""A natural-language captioner: any transformers image-to-text model in a local folder
(BLIP, e.g. Salesforce/blip-image-captioning-base; Florence-2 in its transformers-native
form), through ``AutoProcessor`` and ``AutoModelForImageTextToText``.

Loaded with ``local_files_only`` (loragate never downloads) and without
``trust_remote_code``: a model that needs code from its hub repository is refused
with an explanation rather than run. Decoding is deterministic (beam search, no
sampling), so the sample the artist approves is what the batch run would have written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from app.captions.captioners.base import (
    LABELS,
    CaptionerUnavailable,
    LocalCaptioner,
    RawCaption,
    open_image,
    require_files,
)

LABEL = LABELS["natural"]
# Models this captioner runs, as named on Hugging Face (the page offers them as examples).
MODELS = (
    "Salesforce/blip-image-captioning-base",
    "Salesforce/blip-image-captioning-large",
    "Florence-2 in its transformers-native form",
)
NEEDS = (
    (("config.json",), "the model's configuration"),
    (
        ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"),
        "the weights",
    ),
    (("preprocessor_config.json", "processor_config.json"), "the image preprocessing settings"),
    (("tokenizer.json", "vocab.txt", "tokenizer_config.json"), "the tokenizer"),
)
# Models that are told what to do with a task prompt, and the one that asks for a
# caption (Florence-2's tasks: <CAPTION>, <DETAILED_CAPTION>, <MORE_DETAILED_CAPTION>).
TASK_PROMPTS = {"florence2": "<DETAILED_CAPTION>"}


def check_runtime() -> None:
    """transformers and torch, which run this captioner, come with every install."""


@dataclass(frozen=True)
class NaturalSettings:
    # BLIP can continue a start such as "a picture of"; Florence-2 needs a task prompt,
    # chosen automatically when this is empty.
    prompt: str = ""
    max_new_tokens: int = 60
    num_beams: int = 3
    batch_size: int = 4
    device: str | None = None  # None: the GPU when there is one, else the CPU

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.num_beams < 1 or self.batch_size < 1:
            raise ValueError("max new tokens, beams and batch size must be at least 1.")


def _model_type(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaptionerUnavailable(f"{folder / 'config.json'} cannot be read: {exc}.") from None
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    model_type = str(config.get("model_type", ""))
    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return model_type
    if "auto_map" in config:
        raise CaptionerUnavailable(
            f"The model in {folder} needs program code from its download page "
            "(trust_remote_code), which loragate never runs. Use a version of the model "
            "that transformers supports directly (for Florence-2, a transformers-native "
            "conversion), or a BLIP captioning model."
        )
    raise CaptionerUnavailable(
        f"The model in {folder} (type “{model_type or 'unknown'}”) is not an image-to-text "
        "model transformers knows. Use a BLIP captioning model such as "
        "Salesforce/blip-image-captioning-base, downloaded into that folder."
    )


class ImageToTextCaptioner(LocalCaptioner):
    kind = "natural"
    output = "sentences"

    def __init__(self, folder: Path, settings: NaturalSettings | None = None) -> None:
        require_files(folder, LABEL, "natural", NEEDS)
        self.folder = folder
        self.settings = settings or NaturalSettings()
        self.batch_size = self.settings.batch_size
        self.model_type = _model_type(folder)
        self.prompt = self.settings.prompt.strip() or TASK_PROMPTS.get(self.model_type, "")
        self._processor, self._model, self._device = _load(folder, self.settings.device)

    def load_image(self, path: Path) -> Image.Image:
        return _load_rgb(path)

    def infer(self, loaded: list[tuple[Path, Image.Image]]) -> list[RawCaption]:
        import torch

        pictures = [image for _, image in loaded]
        kwargs: dict[str, Any] = {"images": pictures, "return_tensors": "pt"}
        if self.prompt:
            kwargs["text"] = [self.prompt] * len(pictures)
        inputs = self._processor(**kwargs).to(self._device)
        with torch.inference_mode():
            generated = self._model.generate(
                **inputs,
                max_new_tokens=self.settings.max_new_tokens,
                num_beams=self.settings.num_beams,
                do_sample=False,
            )
        texts = self._processor.batch_decode(generated, skip_special_tokens=True)
        return [
            RawCaption(path, sentence=_clean(text, self.prompt))
            for (path, _), text in zip(loaded, texts, strict=True)
        ]


def _load_rgb(path: Path) -> Image.Image:
    image = open_image(path)
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def _clean(text: str, prompt: str) -> str:
    text = " ".join(text.split())
    if prompt.startswith("<") and text.startswith(prompt):
        # A task prompt is an instruction, not the start of the caption.
        text = text[len(prompt) :].strip()
    return text


def _load(folder: Path, device: str | None) -> tuple[Any, Any, str]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    chosen = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        processor = AutoProcessor.from_pretrained(
            folder, local_files_only=True, trust_remote_code=False
        )
        model = AutoModelForImageTextToText.from_pretrained(
            folder, local_files_only=True, trust_remote_code=False
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        # transformers reports missing, truncated or mismatched files with these.
        raise CaptionerUnavailable(
            f"The model in {folder} could not be loaded ({exc}). Copy the whole model "
            "folder again from its release."
        ) from None
    model.to(chosen)
    model.eval()
    return processor, model, chosen
