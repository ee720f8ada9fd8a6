"""Captions as the trainer feeds them: the trigger word first, then, per step, caption
dropout and tag shuffling that keeps the first ``keep_tokens`` tags in place (so the
trigger never moves), as sd-scripts does (``--shuffle_caption --keep_tokens``)."""

from __future__ import annotations

import random


def split_tags(caption: str) -> list[str]:
    return [tag.strip() for tag in caption.split(",") if tag.strip()]


def trigger_first(caption: str, trigger: str) -> str:
    """The caption with the trigger word as its first tag, exactly once as a tag."""
    trigger = trigger.strip()
    if not trigger:
        return ", ".join(split_tags(caption))
    tags = [tag for tag in split_tags(caption) if tag.lower() != trigger.lower()]
    if tags and tags[0].lower().startswith(trigger.lower() + " "):
        # A sentence that already opens with the trigger ("zkstyle painting of ...").
        return ", ".join(tags)
    return ", ".join([trigger, *tags])


class CaptionMaker:
    """Per-step caption variation. Its random state belongs to the run's checkpoint so a
    resumed run draws the same dropouts and shuffles as an uninterrupted one."""

    def __init__(self, shuffle: bool, keep_tokens: int, dropout_rate: float, seed: int) -> None:
        self.shuffle = shuffle
        self.keep_tokens = keep_tokens
        self.dropout_rate = dropout_rate
        self.rng = random.Random(f"loragate-captions-{seed}")

    def make(self, caption: str) -> str:
        if self.dropout_rate > 0 and self.rng.random() < self.dropout_rate:
            return ""
        if not self.shuffle:
            return caption
        tags = split_tags(caption)
        fixed, rest = tags[: self.keep_tokens], tags[self.keep_tokens :]
        self.rng.shuffle(rest)
        return ", ".join(fixed + rest)

    @property
    def texts_are_known(self) -> bool:
        """Whether every text this maker returns is the caption itself or "" (so text
        encoder outputs can be computed once, up front)."""
        return not self.shuffle
