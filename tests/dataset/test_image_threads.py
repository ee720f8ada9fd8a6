"""Reading an image in one thread never changes the warning filters of another.

``warnings.catch_warnings`` swaps the process-wide filter list: a thread that leaves one
while the main thread is inside its own restores the list it saw on entry, and the main
thread's filters are gone. FastAPI silences a pydantic warning that way while it builds
routes, so a thumbnail made by the server's threadpool (or an import or audit in a job
thread) at that moment turned the silenced warning into an error under
``filterwarnings = error``. Each reader here is held inside ``Image.open`` (a trace
function of its own thread waits there) until the main thread is inside its block, so
the overlap happens on every run, not by chance.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from PIL import Image

from app.captions.captioners.base import open_image
from app.curation.importer import identify
from app.dataset.measure_file import analyze_bytes, pixel_digest, probe_header
from app.dataset.thumbs import write_thumbnail
from tests.dataset import builders as b

LIMIT = 89_478_485


class SilencedByALibrary(UserWarning):
    """Stands for pydantic's UnsupportedFieldAttributeWarning, which FastAPI silences
    while it builds a route (``fastapi/_compat/v2.py``, ``ModelField.__post_init__``)."""


READERS: dict[str, Callable[[Path], object]] = {
    "thumbnail (server threadpool)": lambda p: write_thumbnail(p, p.with_suffix(".webp"), LIMIT),
    "identify (import job)": lambda p: identify(p, LIMIT).kind == "image",
    "analyze (audit job)": lambda p: analyze_bytes(p.read_bytes(), LIMIT)["kind"] == "image",
    "pixel digest (audit job)": lambda p: pixel_digest(str(p), LIMIT),
    "header probe (records)": lambda p: probe_header(str(p), LIMIT),
    "captioner image (autocaption job)": open_image,
}


def held_in_image_open(inside: threading.Event, release: threading.Event) -> Any:
    def trace(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is Image.open.__code__:
            inside.set()
            release.wait(30)

    return trace


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_a_library_that_silences_a_warning_keeps_it_silenced_while_an_image_is_read(
    tmp_path: Path, reader: Callable[[Path], object]
) -> None:
    picture = b.save(b.photo(3, (64, 48)), tmp_path / "mira.png")
    inside, release = threading.Event(), threading.Event()
    results: list[object] = []

    def read() -> None:
        sys.settrace(held_in_image_open(inside, release))  # this thread only
        try:
            results.append(reader(picture))
        finally:
            sys.settrace(None)

    reading = threading.Thread(target=read)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        before = list(warnings.filters)
        reading.start()
        assert inside.wait(30)
        with warnings.catch_warnings():  # what FastAPI does while it builds a route
            warnings.simplefilter("ignore", SilencedByALibrary)
            release.set()
            reading.join(timeout=30)
            warnings.warn("no effect in this context", SilencedByALibrary, stacklevel=1)
        assert warnings.filters == before  # nothing of the reader's left behind

    assert not reading.is_alive()
    assert results and results[0] not in (None, False)  # the image itself was read


READ_ALL = """
import sys
from pathlib import Path
from app.dataset.measure_file import analyze_path
from app.curation.importer import identify
from app.dataset.thumbs import write_thumbnail
for name in sys.argv[1:]:
    path = Path(name)
    print(identify(path, {limit}).kind, analyze_path(name, {limit})["metrics"]["kind"],
          write_thumbnail(path, path.with_suffix(".webp"), {limit}))
"""


def test_odd_files_are_read_quietly_and_a_bomb_refused_with_the_apps_own_filters(
    tmp_path: Path,
) -> None:
    """A real process with Python's default warning filters, as ``loragate serve`` runs:
    Pillow's complaint about a palette's transparency stays out of the log, and a header
    between 1× and 2× Pillow's limit (where Pillow only warns) is still a bomb."""
    palette = b.photo(5, (64, 48)).convert("P")
    palette.info["transparency"] = bytes([0, 128] + [255] * 14)
    odd = b.save(palette, tmp_path / "palette.png")
    bomb = b.png_claiming(tmp_path / "bomb.png", 10_000, 10_000)  # 1.1× Pillow's limit
    done = subprocess.run(
        [sys.executable, "-c", READ_ALL.format(limit=LIMIT), str(odd), str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["image image True", "bomb bomb False"]
    assert done.stderr == ""
