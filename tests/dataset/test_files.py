"""The folder scan: names that are not UTF-8 never reach ``files`` or ``captions``, and
every name the scan reports can be stored and printed as UTF-8."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.dataset.files import scan_folder, shown_name, utf8_name
from tests.dataset import builders as b


def test_names_that_are_not_utf8_are_set_apart_with_a_clean_name(tmp_path: Path) -> None:
    b.save(b.photo(1, (64, 64)), tmp_path / "ok.png")
    b.save(b.photo(2, (64, 64)), b.raw_name(tmp_path, b"caf\xe9.png"))
    b.raw_name(tmp_path, b"caf\xe9.txt").write_text("zk")
    b.save(b.photo(3, (64, 64)), b.raw_name(tmp_path, b"d\xe9j\xe0") / "vu.png")
    b.raw_name(tmp_path, b".DS_Store\xff").write_bytes(b"junk")  # hidden: junk
    os.symlink(b.raw_name(tmp_path.parent, b"s\xe9cret.png"), b.raw_name(tmp_path, b"l\xefnk.png"))
    scan = scan_folder(tmp_path)
    assert [entry.path for entry in scan.files] == ["ok.png"] and scan.captions == {}
    assert sorted((e.shown, e.path) for e in scan.misnamed) == [
        ("caf\\xe9.png", "café.png"),
        ("caf\\xe9.txt", "café.txt"),
        ("d\\xe9j\\xe0/vu.png", "déjà/vu.png"),
    ]
    assert scan.junk == [".DS_Store\\xff"]
    assert [(link.path, link.target.endswith("s\\xe9cret.png")) for link in scan.links] == [
        ("l\\xefnk.png", True)
    ]
    # What is shown or stored (not ``on_disk``, which opens the file) is UTF-8 text.
    shown = {
        "junk": scan.junk,
        "links": [(link.path, link.target) for link in scan.links],
        "misnamed": [(entry.shown, entry.path) for entry in scan.misnamed],
    }
    json.dumps(shown, ensure_ascii=False).encode("utf-8")


def test_clean_and_shown_names() -> None:
    assert utf8_name("plain.png") == shown_name("plain.png") == "plain.png"
    # 0x81 has no character in Windows-1252; a lone high surrogate is no byte at all.
    assert utf8_name("a\udc81b\ud800.png") == "a_b_.png"
    assert shown_name("a\udc81b\ud800.png") == "a\\x81b\\ud800.png"
