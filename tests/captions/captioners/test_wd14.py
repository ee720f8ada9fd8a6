"""The WD14 tagger on a tiny ONNX model built by conftest: real onnxruntime inference,
the reference preprocessing, thresholds, and the messages for missing or mismatched
files."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.captions.autocaption import captioner_problem
from app.captions.captioners import CaptionerUnavailable, Wd14Settings, load_captioner
from app.captions.captioners.wd14 import Wd14Tagger, caption_name, prepare_image
from app.grimoire import CaptionerPaths, Studio
from app.projects import create_project
from app.workspace import Workspace
from tests.captions.autocaption_setup import use_tagger
from tests.captions.caption_projects import mira_intent

from .conftest import TAGGER_SIZE

MakeImage = Callable[..., Path]


def names(tagger: Wd14Tagger, paths: list[Path]) -> dict[str, list[str]]:
    batch = tagger.caption(paths)
    return {raw.path.name: [tag.name for tag in raw.tags] for raw in batch.captions}


def test_tags_follow_the_picture(wd14_folder: Path, make_image: MakeImage) -> None:
    red = make_image("red.png", (255, 0, 0))
    blue = make_image("blue.png", (0, 0, 255))
    found = names(Wd14Tagger(wd14_folder), [red, blue])
    # Blue and red are only told apart when channels go in as BGR, as the model expects.
    assert "red shirt" in found["red.png"] and "blue sky" not in found["red.png"]
    assert "blue sky" in found["blue.png"] and "red shirt" not in found["blue.png"]
    # Character tags above their threshold come first.
    assert found["blue.png"][0] == "hatsune miku"
    assert "hatsune miku" not in found["red.png"]


def test_ratings_are_never_written_and_underscores_become_spaces(
    wd14_folder: Path, make_image: MakeImage
) -> None:
    found = names(Wd14Tagger(wd14_folder), [make_image("red.png", (255, 0, 0))])["red.png"]
    assert not {"general", "sensitive", "questionable", "explicit"} & set(found)
    assert "traditional media" in found
    assert "^_^" in found  # a kaomoji keeps its underscore


def test_narrow_images_are_padded_with_white(wd14_folder: Path, make_image: MakeImage) -> None:
    strip = make_image("strip.png", (255, 0, 0), size=(4, 48))
    found = names(Wd14Tagger(wd14_folder), [strip])["strip.png"]
    assert "white background" in found and "red shirt" not in found


def test_transparent_pixels_are_white(wd14_folder: Path, make_image: MakeImage) -> None:
    clear = make_image("clear.png", (255, 0, 0, 0), mode="RGBA")
    found = names(Wd14Tagger(wd14_folder), [clear])["clear.png"]
    assert "white background" in found and "red shirt" not in found


def test_general_threshold_decides_borderline_tags(
    wd14_folder: Path, make_image: MakeImage
) -> None:
    image = make_image("red.png", (255, 0, 0))
    assert "long hair" in names(Wd14Tagger(wd14_folder), [image])["red.png"]
    strict = Wd14Tagger(wd14_folder, Wd14Settings(general_threshold=0.6))
    assert "long hair" not in names(strict, [image])["red.png"]


def test_prepare_image_matches_the_reference_layout() -> None:
    pixels = prepare_image(Image.new("RGB", (16, 32), (255, 0, 0)), TAGGER_SIZE)
    assert pixels.shape == (TAGGER_SIZE, TAGGER_SIZE, 3) and pixels.dtype == np.float32
    assert pixels[16, 16].tolist() == [0.0, 0.0, 255.0]  # BGR, 0-255, no normalisation
    assert pixels[16, 0].tolist() == [255.0, 255.0, 255.0]  # white side padding


@pytest.mark.parametrize(
    ("raw", "written"),
    [("long_hair", "long hair"), ("^_^", "^_^"), ("(o)_(o)", "(o)_(o)"), ("x_x", "x_x")],
)
def test_caption_names(raw: str, written: str) -> None:
    assert caption_name(raw) == written


def test_unreadable_images_are_skipped_with_a_reason(
    wd14_folder: Path, make_image: MakeImage, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    good = make_image("red.png", (255, 0, 0))
    batch = Wd14Tagger(wd14_folder).caption([broken, good])
    assert [raw.path for raw in batch.captions] == [good]
    assert [failure.path for failure in batch.failures] == [broken]
    assert "not an image" in batch.failures[0].reason


def test_progress_is_reported_and_cancel_keeps_what_is_done(
    wd14_folder: Path, make_image: MakeImage
) -> None:
    images = [make_image(f"{n}.png", (255, 0, 0)) for n in range(5)]
    tagger = Wd14Tagger(wd14_folder, Wd14Settings(batch_size=2))
    reports: list[tuple[int, int]] = []
    batch = tagger.caption(
        images,
        progress=lambda done, total: reports.append((done, total)),
        should_cancel=lambda: len(reports) >= 2,  # after the first batch is reported
    )
    assert batch.cancelled
    assert [raw.path for raw in batch.captions] == images[:2]
    assert reports == [(0, 5), (2, 5)]


# --- missing or wrong files ---------------------------------------------------------


def studio_with(wd14: str | None) -> Studio:
    return Studio(captioners=CaptionerPaths(wd14=wd14))


def test_no_tagger_configured_says_where_to_write_it(tmp_path: Path) -> None:
    with pytest.raises(CaptionerUnavailable) as raised:
        load_captioner(studio_with(None), "wd14", tmp_path)
    message = str(raised.value)
    assert "captioners: wd14:" in message and "studio.md" in message
    assert "model.onnx" in message and "selected_tags.csv" in message


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(CaptionerUnavailable, match="does not exist"):
        load_captioner(studio_with(str(tmp_path / "nowhere")), "wd14", tmp_path)


def test_a_missing_file_is_named_exactly(wd14_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tagger"
    folder.mkdir()
    shutil.copy(wd14_folder / "model.onnx", folder / "model.onnx")
    with pytest.raises(CaptionerUnavailable) as raised:
        load_captioner(studio_with(str(folder)), "wd14", tmp_path)
    message = str(raised.value)
    assert f"{folder} is missing selected_tags.csv" in message
    assert "missing model.onnx" not in message


def test_a_relative_folder_is_read_from_the_grimoire(wd14_folder: Path) -> None:
    tagger = load_captioner(studio_with(wd14_folder.name), "wd14", wd14_folder.parent)
    assert tagger.source == f"wd14:{wd14_folder.name}"


def test_tags_from_another_tagger_are_refused(wd14_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(wd14_folder, folder)
    lines = (folder / "selected_tags.csv").read_text("utf-8").splitlines()
    (folder / "selected_tags.csv").write_text("\n".join(lines[:-2]) + "\n", "utf-8")
    with pytest.raises(CaptionerUnavailable, match="different taggers"):
        Wd14Tagger(folder)


def test_a_csv_that_is_not_a_tag_list_is_refused(wd14_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "badcsv"
    shutil.copytree(wd14_folder, folder)
    (folder / "selected_tags.csv").write_text("id,label\n1,cat\n", "utf-8")
    with pytest.raises(CaptionerUnavailable, match="tag_id,name,category,count"):
        Wd14Tagger(folder)


def test_a_broken_model_file_is_refused_plainly(wd14_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(wd14_folder, folder)
    (folder / "model.onnx").write_bytes(b"\x08\x01garbage")
    with pytest.raises(CaptionerUnavailable, match="could not be loaded as an ONNX model"):
        Wd14Tagger(folder)


def test_thresholds_outside_zero_and_one_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Wd14Settings(general_threshold=1.5)


def test_without_onnxruntime_the_tagger_names_the_extra_that_installs_it(
    wd14_folder: Path,
    workspace: Workspace,
    make_intent: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make run` installs loragate without the captioners extra: onnxruntime is absent
    (None in sys.modules is how Python marks a module that cannot be imported)."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    install = f"`{sys.executable} -m pip install 'loragate[captioners]'`"
    with pytest.raises(CaptionerUnavailable) as caught:
        load_captioner(Studio(captioners=CaptionerPaths(wd14=str(wd14_folder))), "wd14", Path())
    assert "onnxruntime" in str(caught.value) and install in str(caught.value)
    assert "natural-language captioner" in str(caught.value)

    # The captions page says so before the artist starts a run.
    project, _ = create_project(workspace, mira_intent(make_intent))
    use_tagger(workspace, wd14_folder)
    assert install in (captioner_problem(workspace.context(project), "wd14") or "")
