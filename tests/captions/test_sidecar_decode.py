"""Caption sidecars read as trainers read them, and the findings about them."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.captions.sidecar_checks import caption_findings
from app.captions.sidecar_decode import decode_caption, has_trigger, parse_sidecar
from app.dataset.files import FileEntry


def test_encodings_are_never_a_crash_and_say_what_was_assumed() -> None:
    assert decode_caption("zk, café".encode()) == ("zk, café", "utf-8")
    # A byte-order mark names its encoding and is never part of the text.
    assert decode_caption(b"\xef\xbb\xbfzk, bom") == ("zk, bom", "utf-8-bom")
    assert decode_caption("zk, café".encode("utf-16")) == ("zk, café", "utf-16-le")
    assert decode_caption(b"\xfe\xff" + "zk, café".encode("utf-16-be")) == (
        "zk, café",
        "utf-16-be",
    )
    assert decode_caption("zk, café".encode("utf-32")) == ("zk, café", "utf-32-le")
    assert decode_caption(b"\x00\x00\xfe\xff" + "zk".encode("utf-32-be")) == ("zk", "utf-32-be")
    # Cut inside a character (the reading limit): that character is replaced, no crash.
    assert decode_caption("zk, é".encode("utf-16")[:-1])[1] == "utf-16-le"
    assert decode_caption("zk, café".encode("cp1252")) == ("zk, café", "cp1252")
    # 0x81 is undefined in Windows-1252: only Latin-1 accepts it.
    assert decode_caption(b"zk \x81 odd")[1] == "latin-1"


def test_trigger_is_a_whole_word_on_the_first_line() -> None:
    assert has_trigger("ZkMira, standing", "zkmira")
    assert not has_trigger("zkmiras standing", "zkmira")
    assert has_trigger("a photo of mira-kz.", "mira-kz")
    assert not has_trigger("a zkmira-like girl", "zkmira")  # as the trainer reads it
    sidecar = parse_sidecar(b"a portrait\nzkmira, red scarf\n", "zkmira")
    assert not sidecar.trigger_in_first_line and sidecar.trigger_line == 2
    assert sidecar.first_line == "a portrait" and sidecar.extra_lines == 1


def test_tokens_are_counted_with_the_real_clip_tokenizer(settings) -> None:  # type: ignore[no-untyped-def]
    short = parse_sidecar(b"zk, a cat", "zk", settings)
    assert short.tokens is None  # too short to reach 75: the tokenizer is not loaded
    text = "zk, " + ", ".join(f"detail{i}" for i in range(40))
    assert parse_sidecar(text.encode(), "zk", settings).tokens > 75


def _entries(root: Path, names: list[str]) -> dict[str, FileEntry]:
    return {name: FileEntry(name, (root / name).stat().st_size, 0) for name in names}


def test_caption_findings_for_every_case(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    files = {
        "ok.txt": b"zk, a cat on a mat",
        "empty.txt": b"\n\n",
        "blank_first.txt": b"\nzk, below\n",
        "far.txt": ("zk, " + ", ".join(["red scarf standing"] * 80)).encode(),  # ~320 tokens
        "stray.txt": b"zk, nothing here",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    images = ["ok.png", "missing.png", "empty.png", "blank_first.png", "far.png"]
    found, read = caption_findings(
        tmp_path, images, _entries(tmp_path, list(files)), images, "zk", "sdxl", settings
    )
    codes = {(f.code, f.subject) for f in found}
    assert ("caption.missing", "missing.png") in codes
    assert ("caption.empty", "empty.png") in codes
    assert ("caption.empty", "blank_first.png") in codes
    assert ("caption.far_too_long", "far.png") in codes
    assert ("caption.orphan", "stray.txt") in codes
    assert not any(subject == "ok.png" for _, subject in codes)
    assert set(read) == {"ok.png", "empty.png", "blank_first.png", "far.png"}
    # Flux reads with T5 (512 tokens): the same caption is fine there.
    flux, _ = caption_findings(
        tmp_path, ["far.png"], _entries(tmp_path, ["far.txt"]), ["far.png"], "zk", "flux", settings
    )
    assert flux == []


def test_captions_with_a_byte_order_mark_say_what_was_found(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    """Notepad's "Unicode" (UTF-16) is read as such (the trigger is found, no false
    caption.missing_trigger); a UTF-8 mark, which sd-scripts keeps in front of the first
    tag, is reported too. Both findings say loragate rewrites the file as plain UTF-8."""
    files = {
        "notepad.txt": "zk, a cat on a mat".encode("utf-16"),
        "marked.txt": b"\xef\xbb\xbfzk, a cat on a mat",
        "big.txt": b"\xfe\xff" + "zk, a dog".encode("utf-16-be"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    images = ["notepad.png", "marked.png", "big.png"]
    found, read = caption_findings(
        tmp_path,
        images,
        _entries(tmp_path, list(files)),
        images,
        "zk",
        "sdxl",
        settings,
        rewritten=True,
    )
    by_subject = {(f.subject, f.code): f for f in found}
    assert set(by_subject) == {
        ("notepad.png", "caption.not_utf8"),
        ("big.png", "caption.not_utf8"),
        ("marked.png", "caption.byte_order_mark"),
    }
    notepad = by_subject["notepad.png", "caption.not_utf8"].message
    assert "UTF-16 (little-endian" in notepad and "Notepad" in notepad
    assert "“zk, a cat on a mat”" in notepad
    assert "UTF-16 (big-endian" in by_subject["big.png", "caption.not_utf8"].message
    marked = by_subject["marked.png", "caption.byte_order_mark"]
    assert marked.severity == "warn" and "“zk”" in marked.message
    for item in found:
        assert "rewrites the file as plain UTF-8" in item.message
    assert read["notepad.png"].first_line == "zk, a cat on a mat"
    assert read["notepad.png"].trigger_in_first_line


def test_token_limits_match_the_tokenizer_module() -> None:
    from app.captions.sidecar_checks import EXTENDED_TOKENS
    from app.captions.sidecar_decode import CLIP_USABLE_TOKENS
    from app.clip_tokenizer import EXTENDED_USABLE_TOKENS, USABLE_TOKENS

    assert (CLIP_USABLE_TOKENS, EXTENDED_TOKENS) == (USABLE_TOKENS, EXTENDED_USABLE_TOKENS)


def test_a_caption_that_is_not_utf8_blocks_a_folder_trained_as_it_is(
    tmp_path: Path,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """`loragate audit DIR` judges a folder a trainer reads as it is: sd-scripts'
    read_caption raises UnicodeDecodeError on a Windows-1252 or UTF-16 caption. In a
    project (captions rewritten as UTF-8 on the way in) the same file is a warning."""
    files = {
        "accents.txt": "zk, café au lait".encode("cp1252"),
        "notepad.txt": "zk, a cat".encode("utf-16"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(UnicodeDecodeError):  # what sd-scripts does: open(..., encoding="utf-8")
        (tmp_path / "accents.txt").read_text(encoding="utf-8")
    images = ["accents.png", "notepad.png"]
    entries = _entries(tmp_path, list(files))
    as_is, _ = caption_findings(tmp_path, images, entries, images, "zk", "sdxl", settings)
    by_subject = {f.subject: f for f in as_is if f.code == "caption.not_utf8"}
    accents = by_subject["accents.png"]
    assert accents.severity == "block"
    assert "Windows-1252" in accents.message and "UnicodeDecodeError" in accents.message
    assert "`iconv -f WINDOWS-1252 -t UTF-8 accents.txt > fixed.txt`" in accents.fix
    notepad = by_subject["notepad.png"]
    assert notepad.severity == "block" and "UTF-16" in notepad.message
    assert "iconv -f UTF-16 -t UTF-8" in notepad.fix
    in_project, _ = caption_findings(
        tmp_path, images, entries, images, "zk", "sdxl", settings, rewritten=True
    )
    assert {f.severity for f in in_project if f.code == "caption.not_utf8"} == {"warn"}
