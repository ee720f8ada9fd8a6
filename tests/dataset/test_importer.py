"""Importing from a folder: copies (originals untouched), kohya layout and captions kept,
content sniffing, junk listed, links refused, deterministic names."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from app.curation.importer import ImportRefused, import_folder, validate_source
from app.dataset.files import BAD_NAME_REASON, is_clean_name
from app.fsutil import new_file_mode
from tests.dataset import builders as b
from tests.unprivileged import open_folder, run_unprivileged

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


def test_a_named_pipe_is_listed_and_never_opened(tmp_path: Path) -> None:
    """A FIFO named like an image or a caption once blocked the import for good (and so
    the project: every later job got 409). It is refused, named, without being opened."""
    source = tmp_path / "source"
    b.save(b.photo(1), source / "a.png")
    (source / "a.txt").write_text("zk, a cat")
    with b.fifo_watchdog(source / "pipe.png") as unblocked:
        os.mkfifo(source / "b.txt")  # its image is missing: it would be copied as a caption
        report = import_folder(source, tmp_path / "dataset", max_pixels=LIMIT)
    assert not unblocked, "the import opened the named pipe"
    assert report.images == ["a.png"] and report.captions == ["a.txt"]
    refused = {item["path"]: item["why"] for item in report.refused}
    assert refused["pipe.png"] == "a named pipe (FIFO), not a regular file: skipped, never opened"
    assert refused["b.txt"].startswith("a named pipe (FIFO)")


def test_a_file_over_the_size_limit_is_refused_before_a_byte_is_copied(tmp_path: Path) -> None:
    """A PNG header followed by gigabytes of (sparse) zeros was copied in full, then
    called a decompression bomb. It is refused from its size, naming the limit."""
    source = tmp_path / "source"
    padded = b.save(b.photo(1, (64, 64)), source / "padded.png")
    with open(padded, "r+b") as handle:
        handle.truncate(3 * 1024**2)  # sparse: no disk used
    b.save(b.photo(2), source / "fine.png")
    (source / "long.txt").write_text("zk, " + "word " * 300_000)  # 1.5 MB of caption
    dataset = tmp_path / "dataset"
    report = import_folder(source, dataset, max_pixels=LIMIT, max_file_bytes=1024**2)
    assert report.images == ["fine.png"]
    refused = {item["path"]: item["why"] for item in report.refused}
    assert refused["padded.png"] == (
        "too large: 3.0 MB, more than the 1.0 MB one file may hold "
        "(LORAGATE_MAX_FILE_BYTES); it was not copied"
    )
    assert refused["long.txt"].startswith("too large: 1.4 MB")
    assert sorted(p.name for p in dataset.iterdir()) == ["fine.png"]


def test_imported_files_get_the_mode_open_would_give_them(tmp_path: Path) -> None:
    """mkstemp's 0600 made every imported image unreadable to a trainer running as
    another user (hard links into the training folder keep the mode)."""
    source = tmp_path / "source"
    b.save(b.photo(1), source / "10_mira" / "a.png")
    (source / "10_mira" / "a.txt").write_text("zk")
    (source / "10_mira" / "a.png").chmod(0o600)  # the original's own mode does not matter
    dataset = tmp_path / "dataset"
    import_folder(source, dataset, max_pixels=LIMIT)
    for name in ("10_mira/a.png", "10_mira/a.txt"):
        assert stat.S_IMODE((dataset / name).stat().st_mode) == new_file_mode(), name
    assert not [p for p in dataset.rglob(".*")]  # no temporary file left


def test_progress_counts_images_and_captions_apart(tmp_path: Path) -> None:
    """ "Copying images 4 of 4" for two images: captions were counted as images."""
    source = tmp_path / "source"
    for seed in (1, 2):
        b.save(b.photo(seed), source / f"{seed}.png")
        (source / f"{seed}.txt").write_text("zk")
    b.save(b.photo(3), source / "3.png")
    (source / "Thumbs.db").write_bytes(b"junk")
    seen: list[tuple[int, int, str]] = []
    report = import_folder(
        source,
        tmp_path / "dataset",
        max_pixels=LIMIT,
        progress=lambda done, total, message: seen.append((done, total, message)),
    )
    assert [s for s in seen if s[2] == "Copying images"][-1] == (3, 3, "Copying images")
    assert [s for s in seen if s[2] == "Copying captions"][-1] == (2, 2, "Copying captions")
    assert "(1 junk file ignored)" in report.summary()


def test_an_import_that_stops_part_way_leaves_the_dataset_as_it_was(tmp_path: Path) -> None:
    """A cancel (or a failed write) after some files were copied takes them back; what
    was in the dataset before stays."""
    source = tmp_path / "source"
    for seed in range(4):
        b.save(b.photo(seed), source / "5_new" / f"{seed}.png")
    dataset = tmp_path / "dataset"
    b.save(b.photo(9), dataset / "old.png")
    before = b.tree_digest(dataset)
    calls = 0

    def cancel_on_the_third() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        import_folder(source, dataset, max_pixels=LIMIT, check_cancelled=cancel_on_the_third)
    assert b.tree_digest(dataset) == before
    assert sorted(p.name for p in dataset.iterdir()) == ["old.png"]


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("/tmp/" + "a" * 300, "is 300 bytes long; a file or folder name can be at most 255"),
        ("/tmp/" + "é" * 200 + "/x", "is 400 bytes long"),
        ("/" + "a/" * 2100, "a path can be at most 4,096 bytes"),
        ("~nosuchuser/x", "no such user"),
    ],
)
def test_names_no_file_system_takes_are_refused_naming_the_limit(
    tmp_path: Path, given: str, words: str
) -> None:
    with pytest.raises(ImportRefused, match=words):
        validate_source(given, tmp_path / "ds")


def test_unreadable_files_and_folders_are_refused_and_the_import_completes() -> None:
    """As a user without root's rights: an unreadable caption once aborted the whole
    import with a raw [Errno 13] after the images were copied, and an unreadable
    subfolder was skipped without a word."""
    with open_folder() as root:
        source = root / "source"
        b.save(b.photo(1), source / "a.png")
        (source / "a.txt").write_text("zk, a cat")
        b.save(b.photo(2), source / "b.png")
        (source / "b.txt").write_text("zk, a dog")
        b.save(b.photo(3), source / "locked" / "c.png")
        b.save(b.photo(4), source / "closed" / "d.png")
        (source / "b.txt").chmod(0)
        (source / "locked").chmod(0)
        (source / "closed").chmod(0o644)  # listed, but not entered
        for path in (root, source):
            path.chmod(0o777)
        result = run_unprivileged(
            "import json; from pathlib import Path\n"
            "from app.curation.importer import import_folder\n"
            f"report = import_folder(Path({str(source)!r}), Path({str(root / 'ds')!r}), "
            f"max_pixels={LIMIT})\n"
            "print(json.dumps(report.to_json()))"
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert sorted(report["images"]) == ["a.png", "b.png"]
        assert report["captions"] == ["a.txt"]
        refused = {item["path"]: item["why"] for item in report["refused"]}
        assert refused["b.txt"] == (
            "cannot be read (permission denied): give your user read access to it "
            "(chmod u+r), then import again"
        )
        assert refused["locked"].startswith(
            "a folder that cannot be read (permission denied): nothing in it was imported"
        )
        assert refused["closed/d.png"].startswith("cannot be read (permission denied)")
