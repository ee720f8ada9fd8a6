"""The demo's photos: real photographs that scikit-image ships inside its wheel
(``skimage/data``), read as files. The package is located, never imported: none of its
code (nor SciPy's) loads.

Each photo's licence is the one scikit-image's ``skimage/data/_fetchers.py`` states for
it: public domain or CC0, and one (coins.png) with no known copyright restrictions. Two files are flawed on purpose so that the audit has
something to say: an exact copy of one photo under another name, and one photo shrunk
far below what the model trains at.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from app.demo import DEMO_TRIGGER, DemoRefused


class SamplesMissing(DemoRefused):
    """scikit-image (which ships the photos) is not installed; the message says what to do."""


@dataclass(frozen=True)
class Sample:
    file: str  # in skimage/data
    tags: str  # the caption after the trigger word: the content, never the style
    licence: str


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "astronaut.png",
        "1girl, astronaut, spacesuit, holding helmet, american flag, smile",
        "NASA, public domain",
    ),
    Sample("camera.png", "1boy, camera, tripod, coat, grass, outdoors", "CC0, Lav Varshney"),
    Sample(
        "chelsea.png", "cat, tabby cat, looking to the side, whiskers", "CC0, Stefan van der Walt"
    ),
    Sample("coffee.png", "coffee cup, saucer, spoon, table, still life", "CC0, Rachel Michetti"),
    Sample("rocket.jpg", "rocket, launch pad, sky, clouds, tower", "SpaceX, public domain"),
    Sample(
        "hubble_deep_field.jpg", "galaxies, stars, space, dark background", "NASA, public domain"
    ),
    Sample(
        "coins.png", "coins, many coins, grid, monochrome", "Brooklyn Museum, no known restrictions"
    ),
    Sample("horse.png", "horse, silhouette, white background", "CC0, Andreas Preuss"),
    Sample("brick.png", "brick wall, bricks, mortar, close-up", "CC0, CC0Textures"),
    Sample("grass.png", "grass, blades of grass, close-up, nature", "CC0, CC0Textures"),
    Sample("gravel.png", "gravel, stones, ground, close-up", "CC0, CC0Textures"),
    Sample("retina.jpg", "retina, eye, blood vessels, medical image", "CC0, Mikael Häggström"),
    Sample(
        "clock_motion.png", "wall clock, motion blur, numbers", "public domain, Stefan van der Walt"
    ),
)
# The planted flaws, by the file name they get in the demo's folder.
DUPLICATE = ("chelsea.png", "chelsea-again.png")
TOO_SMALL = ("coffee.png", "coffee-tiny.png", (72, 48))


def samples_dir() -> Path:
    """skimage/data inside the installed wheel."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SamplesMissing(
            "The demo's photos come with scikit-image, which is not installed. Run "
            "`make run` again (it installs loragate's requirements), or "
            "`.venv/bin/pip install scikit-image`."
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [sample.file for sample in SAMPLES if not (folder / sample.file).is_file()]
    if missing:
        raise SamplesMissing(
            f"scikit-image is installed but its sample photos are missing from {folder} "
            f"({', '.join(missing)}). Reinstall it: `.venv/bin/pip install --force-reinstall "
            "scikit-image`."
        )
    return folder


def _caption(tags: str) -> str:
    return f"{DEMO_TRIGGER}, {tags}\n"


def write_demo_photos(target: Path) -> list[str]:
    """The demo's photos and their captions in ``target`` (a folder to import from).
    Returns the image file names."""
    source = samples_dir()
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for sample in SAMPLES:
        shutil.copyfile(source / sample.file, target / sample.file)
        (target / Path(sample.file).with_suffix(".txt").name).write_text(
            _caption(sample.tags), "utf-8"
        )
        names.append(sample.file)
    tags = {sample.file: sample.tags for sample in SAMPLES}
    original, copy = DUPLICATE
    shutil.copyfile(source / original, target / copy)
    (target / Path(copy).with_suffix(".txt").name).write_text(_caption(tags[original]), "utf-8")
    names.append(copy)
    original, small, size = TOO_SMALL
    with Image.open(source / original) as image:
        image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(target / small)
    (target / Path(small).with_suffix(".txt").name).write_text(_caption(tags[original]), "utf-8")
    names.append(small)
    return names
