"""Importing from a folder: copies (originals untouched), kohya layout and captions kept,
content sniffing, junk listed, links refused, deterministic names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.dataset.files import BAD_NAME_REASON, is_clean_name
from app.dataset.importer import ImportRefused, import_folder, validate_source
from tests.dataset import builders as b

LIMIT = 89_478_485


def _source(root: Path) -> Path:
    b.save(b.photo(1), root / "20_mira" / "a.png")
    (root / "20_mira" / "a.txt").write_text("zkmira, smiling")
    b.save(b.photo(2), root / "5_mira_outfit" / "b.jpg", quality=90)
    (root / "5_mira_outfit" / "b.txt").write_text("zkmira, coat")
    b.save(b.photo(3), root / "5_mira_outfit" / "really_a_jpeg.png", format="JPEG")
    (root / "loose.webp").write_bytes(b"")  # empty
    (root / "notes.jpg").write_text("not a picture")
    b.png_claiming(root / "bomb.png", 40000, 40000)
    (root / ".DS_Store").write_bytes(b"junk")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._a.png").write_bytes(b"junk")
    (root / "Thumbs.db").write_bytes(b"junk")
    (root / "desktop.ini").write_text("[x]")
    outside = root.parent / "secret.png"
    b.save(b.photo(9), outside)
    os.symlink(outside, root / "20_mira" / "escape.png")
    os.symlink(root / "20_mira" / "a.png", root / "inside-link.png")
    return root


def test_import_copies_what_is_an_image_and_lists_the_rest(tmp_path: Path) -> None:
    source = _source(tmp_path / "source")
    before = b.tree_digest(source)
    dataset = tmp_path / "project" / "dataset"
    report = import_folder(source, dataset, max_pixels=LIMIT)

    assert sorted(report.images) == [
        "20_mira/a.png",
        "5_mira_outfit/b.jpg",
        "5_mira_outfit/really_a_jpeg.jpg",
    ]
    assert sorted(report.captions) == ["20_mira/a.txt", "5_mira_outfit/b.txt"]
    assert (dataset / "20_mira" / "a.txt").read_text() == "zkmira, smiling"
    assert (dataset / "20_mira" / "a.png").read_bytes() == (source / "20_mira/a.png").read_bytes()
    assert report.renamed == [
        {
            "from": "5_mira_outfit/really_a_jpeg.png",
            "to": "5_mira_outfit/really_a_jpeg.jpg",
            "why": "its content is JPEG, not what its extension said",
        }
    ]
    refused = {item["path"]: item["why"] for item in report.refused}
    assert refused["loose.webp"] == "an empty file"
    assert refused["notes.jpg"] == "not an image: text"
    assert "decompression bomb" in refused["bomb.png"]
    assert "outside the folder" in refused["20_mira/escape.png"]
    assert "inside-link.png" in refused
    assert sorted(report.junk) == [".DS_Store", "Thumbs.db", "__MACOSX/", "desktop.ini"]
    # The link was not followed: nothing of what it points at was copied.
    assert not (dataset / "20_mira" / "escape.png").exists()
    assert not any(p.is_symlink() for p in dataset.rglob("*"))
    # The originals are untouched.
    assert b.tree_digest(source) == before


def test_importing_again_is_deterministic(tmp_path: Path) -> None:
    source = tmp_path / "source"
    b.save(b.photo(1), source / "a.png")
    (source / "a.txt").write_text("zk")
    dataset = tmp_path / "dataset"
    import_folder(source, dataset, max_pixels=LIMIT)
    again = import_folder(source, dataset, max_pixels=LIMIT)
    assert again.images == [] and again.unchanged == ["a.png"]

    other = tmp_path / "other"
    b.save(b.photo(2), other / "a.png")  # same name, other picture
    (other / "a.txt").write_text("zk, other")
    first = import_folder(other, dataset, max_pixels=LIMIT)
    assert first.images == ["a-2.png"] and first.captions == ["a-2.txt"]
    assert (dataset / "a-2.txt").read_text() == "zk, other"
    b.save(b.photo(3), other / "a.png")
    second = import_folder(other, dataset, max_pixels=LIMIT)
    assert second.images == ["a-3.png"]


def test_names_that_are_not_utf8_are_copied_under_a_clean_name(tmp_path: Path) -> None:
    """A Latin-1 name (not UTF-8) is imported as the name it meant, listed as renamed;
    its caption still pairs with it (by the names on disk), also when a proper UTF-8
    ``café.jpg`` takes the clean name first."""
    source = tmp_path / "source"
    b.save(b.photo(1), source / "café.jpg", quality=90)
    (source / "café.txt").write_text("zk, the real café")
    b.save(b.photo(2), b.raw_name(source, b"caf\xe9.jpg"), quality=90)
    b.raw_name(source, b"caf\xe9.txt").write_bytes(b"zk, the latin-1 one")
    b.save(b.photo(3), b.raw_name(source, b"r\xe9sum\xe9") / "x.png")
    b.raw_name(source, b"\xff.txt").write_text("zk, orphan")  # 0xFF: ÿ in Windows-1252
    before = b.tree_digest(source)
    dataset = tmp_path / "dataset"
    report = import_folder(source, dataset, max_pixels=LIMIT)

    assert report.images == ["café.jpg", "café-2.jpg", "résumé/x.png"]
    assert (dataset / "café.txt").read_text() == "zk, the real café"
    assert (dataset / "café-2.txt").read_text() == "zk, the latin-1 one"
    assert (dataset / "ÿ.txt").read_text() == "zk, orphan"
    renamed = {item["from"]: (item["to"], item["why"]) for item in report.renamed}
    assert renamed["caf\\xe9.jpg"] == (
        "café-2.jpg",
        f"{BAD_NAME_REASON}; a different file already had this name",
    )
    assert renamed["caf\\xe9.txt"] == ("café-2.txt", BAD_NAME_REASON)
    assert renamed["r\\xe9sum\\xe9/x.png"][0] == "résumé/x.png"
    # Everything the report says can be stored and printed as UTF-8 (the journal, JSON).
    json.dumps(report.to_json(), ensure_ascii=False).encode("utf-8")
    assert all(is_clean_name(str(path)) for path in dataset.rglob("*"))
    assert b.tree_digest(source) == before


def test_a_utf16_caption_is_imported(tmp_path: Path) -> None:
    """Notepad's "Unicode" captions hold NUL bytes but are text: they are imported (and
    rewritten as UTF-8 when the project takes them in); a binary .txt is still refused."""
    source = tmp_path / "source"
    b.save(b.photo(1), source / "a.png")
    (source / "a.txt").write_bytes("zk, a cat".encode("utf-16"))
    b.save(b.photo(2), source / "b.png")
    (source / "b.txt").write_bytes(b"\x00\x01binary")
    report = import_folder(source, tmp_path / "dataset", max_pixels=LIMIT)
    assert report.captions == ["a.txt"]
    assert {"path": "b.txt", "why": "not a text file"} in report.refused


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("", "Type the full path"),
        ("relative/folder", "not a full path"),
        ("/does/not/exist", "Nothing exists"),
    ],
)
def test_bad_sources_are_refused_in_plain_words(tmp_path: Path, given: str, words: str) -> None:
    with pytest.raises(ImportRefused, match=words):
        validate_source(given, tmp_path / "ds")


def test_a_file_or_the_dataset_itself_is_refused(tmp_path: Path) -> None:
    picture = b.save(b.photo(1), tmp_path / "one.png")
    with pytest.raises(ImportRefused, match="is a file"):
        import_folder(picture, tmp_path / "ds", max_pixels=LIMIT)
    dataset = tmp_path / "project" / "dataset"
    dataset.mkdir(parents=True)
    with pytest.raises(ImportRefused, match="own dataset folder"):
        import_folder(tmp_path / "project", dataset, max_pixels=LIMIT)
