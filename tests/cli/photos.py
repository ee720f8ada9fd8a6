"""A folder of real photos with caption files, as an artist would import it, and a
project it suits (an SD 1.5 object LoRA: ten 576×512 photos pass Gate 1 once their
captions are approved)."""

from __future__ import annotations

from pathlib import Path

from app.projects import Intent
from tests.dataset import builders as b

TRIGGER = "zkteapot"
IMAGES = 10


def photo_folder(root: Path, count: int = IMAGES, concept: str = "3_teapot") -> Path:
    """``root/<concept>/NN.png`` with ``NN.txt`` beside each; returns ``root``."""
    for seed in range(count):
        b.save(b.photo(900 + seed, (576, 512)), root / concept / f"{seed:02}.png")
        (root / concept / f"{seed:02}.txt").write_text(
            f"{TRIGGER}, on a table, photo {seed}", encoding="utf-8"
        )
    return root


def teapot_intent(make_intent) -> Intent:  # type: ignore[no-untyped-def]
    return make_intent(  # type: ignore[no-any-return]
        name="Teapot",
        training_type="object",
        trigger_word=TRIGGER,
        model_family="sd15",
        caption_format="mixed",
        must_vary="",
    )
