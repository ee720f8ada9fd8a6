"""How long the caption checks take on a large dataset.

Baseline: the grid's target of 1,000+ images. The lint, the tag-frequency panel and a
batch edit over every caption run again after each save, so each should take well under
a second for 1,000 captions (BUDGET_S below) on one core of this machine.

    .venv/bin/python -m bench.caption_lint [N]
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

from app.captions.content_lint import lint_captions
from app.captions.intent import CaptionIntent
from app.captions.text import prepare_caption, remove_tag, tag_frequency

BUDGET_S = 1.0
TAGS = (
    *("1girl", "solo", "smile", "long hair", "short hair", "red scarf", "blue sky", "night"),
    *("city", "street", "looking at viewer", "sitting", "standing", "outdoors", "indoors"),
    *("watercolor", "monochrome", "from side", "upper body", "full body", "cloud", "rain"),
)


def make_captions(count: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    captions = []
    for index in range(count):
        tags = rng.sample(TAGS, 12)
        sentence = "A woman in a red scarf stands on a street at night." if index % 3 == 0 else ""
        text = ", ".join(["zkinkwash", *([sentence] if sentence else []), *tags])
        captions.append((f"{index // 100}_concept/img{index:05}.png", text))
    return captions


def timed(label: str, run: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    verdict = "within" if seconds <= BUDGET_S * count / 1000 else "OVER"
    print(
        f"{label:<34} {seconds * 1000:8.1f} ms  ({verdict} the {BUDGET_S:.1f} s per 1,000 budget)"
    )
    return seconds


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    captions = make_captions(count)
    texts = [text for _, text in captions]
    intent = CaptionIntent.build(
        training_type="style",
        trigger="zkinkwash",
        caption_format="mixed",
        must_vary="subjects, lighting, background",
        must_stay="red scarf",
        style_words=["loose ink lines"],
    )
    print(f"{count} captions, mixed format, style LoRA")
    timed("lint_captions", lambda: lint_captions(captions, intent), count)
    timed("tag_frequency", lambda: tag_frequency(texts, "mixed", "zkinkwash"), count)
    timed(
        "remove_tag over every caption",
        lambda: [remove_tag(t, "rain", "zkinkwash", "mixed") for t in texts],
        count,
    )
    timed(
        "prepare_caption over every caption",
        lambda: [prepare_caption(t, "zkinkwash", "mixed") for t in texts],
        count,
    )


if __name__ == "__main__":
    main()
