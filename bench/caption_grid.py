"""How quickly the caption grid answers on a large dataset, over HTTP (a real app, a real
SQLite file, real caption files), against a named baseline: the same grid rendering
every card on one page (what a grid without pages or windows does).

    .venv/bin/python bench/caption_grid.py [N]      (default 1,000 images)

Printed: the first load (which takes in N caption files), a page load, a filter, a
click on a thumbnail (approve; the median of several clicks), a batch tag removal over
every caption and its undo, and the baseline's page load. The targets: a page load
under a second for 1,000 images, a page that stays the same size whatever N is, and an
approval that answers in under 300 ms with 500 images (``bench/caption_grid.py 500``).
Nothing here is part of the tests.
"""

from __future__ import annotations

import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient
from PIL import Image

import app.web.captions as captions_view
from app.captions.grid import PER_PAGE, caption_grid
from app.dataset.inventory import dataset_dir
from app.main import create_app
from app.projects import Intent, create_project
from app.settings import REPO_ROOT, Settings

TRIGGER = "zkbench"
TAGS = ("red scarf", "night", "street", "smile", "sitting", "rain", "window", "city")
BUDGET_S = 1.0
# An approval (a click on a thumbnail) must feel immediate while reviewing 500 images.
APPROVE_GOAL_S = 0.3
APPROVE_GOAL_IMAGES = 500
CLICKS = 9


def timed(label: str, run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(f"{label:<46} {seconds * 1000:9.1f} ms")
    return seconds


def build(root: Path, count: int) -> tuple[Settings, Path]:
    grimoire = root / "grimoire"
    shutil.copytree(REPO_ROOT / "grimoire", grimoire, ignore=shutil.ignore_patterns("training"))
    (grimoire / "training").mkdir()
    model = root / "base.safetensors"
    model.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    return Settings(grimoire_dir=grimoire, data_dir=root / "data"), model


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory(prefix="loragate-bench-grid-") as folder:
        root = Path(folder)
        settings, model = build(root, count)
        app = create_app(settings)
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            workspace = app.state.workspace
            project, _ = create_project(
                workspace,
                Intent(
                    name="Bench",
                    training_type="character",
                    trigger_word=TRIGGER,
                    base_model=str(model),
                    model_family="sdxl",
                    caption_format="booru",
                ),
            )
            ctx = workspace.context(project)
            images = dataset_dir(ctx) / "10_bench"
            images.mkdir(parents=True)
            for index in range(count):
                Image.new("RGB", (16, 16), (index % 256, 40, 90)).save(images / f"{index:05}.png")
                tags = [TAGS[(index + k) % len(TAGS)] for k in range(4)]
                (images / f"{index:05}.txt").write_text(
                    f"{TRIGGER}, pose {index}, " + ", ".join(tags)
                )
            print(f"{count} images, one concept, booru captions; {PER_PAGE} cards per page")
            url = "/projects/bench/captions"
            timed("first load (takes in every caption file)", lambda: client.get(url))
            page = client.get(url).text
            paged = timed("page load", lambda: client.get(url))
            timed(
                "filter: a tag",
                lambda: client.get(url + "?tag=night", headers={"hx-request": "true"}),
            )
            card = re.search(r'id="card-(\d+)"', page).group(1)  # type: ignore[union-attr]
            clicks = []
            for version in range(1, CLICKS + 1):  # approve, take back, approve, ...
                start = time.perf_counter()
                client.post(
                    f"{url}/{card}/approve",
                    data={"version": version},
                    headers={"hx-request": "true"},
                )
                clicks.append(time.perf_counter() - start)
            click = statistics.median(clicks)
            print(
                f"{'click a thumbnail (approve), median of ' + str(CLICKS):<46} "
                f"{click * 1000:9.1f} ms (slowest {max(clicks) * 1000:.1f} ms)"
            )
            timed(
                "batch: remove a tag from every caption",
                lambda: client.post(
                    f"{url}/batch",
                    data={"operation": "remove", "tag": "night", "scope": "filter"},
                    headers={"hx-request": "true"},
                ),
            )
            timed(
                "undo the batch", lambda: client.post(f"{url}/undo", headers={"hx-request": "true"})
            )
            print(f"page size: {len(page) / 1024:.0f} KB ({page.count('caption-card ')} cards)")

            # The baseline: the same view with every card on one page.
            original = captions_view.caption_grid
            captions_view.caption_grid = lambda ctx, query, per_page=PER_PAGE: caption_grid(  # type: ignore[assignment]
                ctx, query, per_page=count
            )
            try:
                whole = client.get(url).text
                everything = timed("baseline: every card on one page", lambda: client.get(url))
            finally:
                captions_view.caption_grid = original
            print(f"baseline page size: {len(whole) / 1024:.0f} KB")
            print(
                f"paged load is {everything / paged:.1f}× faster than the baseline; "
                f"page load {'within' if paged <= BUDGET_S else 'OVER'} and click "
                f"{'within' if click <= BUDGET_S else 'OVER'} the {BUDGET_S:.0f} s budget"
            )
            goal = "met" if click < APPROVE_GOAL_S else "NOT met"
            print(
                f"approval: {click * 1000:.0f} ms against the goal of under "
                f"{APPROVE_GOAL_S * 1000:.0f} ms with {APPROVE_GOAL_IMAGES} images: {goal}"
                + ("" if count == APPROVE_GOAL_IMAGES else f" (this run has {count} images)")
            )


if __name__ == "__main__":
    main()
