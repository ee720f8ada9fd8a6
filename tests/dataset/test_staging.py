"""Zip archives and uploads: zip slip, zip bombs (entries, size, ratio) and links are
refused with a plain message, before anything is written."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from app.dataset.staging import ArchiveRefused, UploadTooLarge, save_stream, unpack_zip
from app.paths import UnsafePathError
from app.settings import Settings
from tests.dataset import builders as b


def _zip(entries: dict[str, bytes], **extra: zipfile.ZipInfo) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for info in extra.values():
            archive.writestr(info, "target.png")
    buffer.seek(0)
    return buffer


def _png() -> bytes:
    buffer = io.BytesIO()
    b.photo(1, (64, 64)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_good_zip_unpacks_with_its_folders(tmp_path: Path, settings: Settings) -> None:
    link = zipfile.ZipInfo("10_mira/link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip({"10_mira/a.png": _png(), "10_mira/a.txt": b"zk"}, link=link)
    unpacked = unpack_zip(archive, tmp_path, settings)
    assert unpacked.files == 2
    assert (tmp_path / "10_mira" / "a.txt").read_bytes() == b"zk"
    assert unpacked.skipped == [{"path": "10_mira/link.png", "why": "a link: not followed"}]
    assert not (tmp_path / "10_mira" / "link.png").exists()


@pytest.mark.parametrize(
    "name", ["../evil.png", "/etc/evil.png", "a/../../evil.png", "a\\..\\evil"]
)
def test_zip_slip_refuses_the_whole_archive(tmp_path: Path, settings: Settings, name: str) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    archive = _zip({"fine.png": _png(), name: b"x"})
    with pytest.raises(ArchiveRefused, match="zip slip"):
        unpack_zip(archive, staging, settings)
    assert list(staging.iterdir()) == []
    assert not (tmp_path / "evil.png").exists()


def test_zip_bombs_are_refused_before_unpacking(tmp_path: Path, settings: Settings) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    bomb = _zip({"zeros.png": b"\x00" * (4 * 1024 * 1024)})  # ~1000× compression
    with pytest.raises(ArchiveRefused, match="zip bombs"):
        unpack_zip(bomb, staging, settings)
    assert list(staging.iterdir()) == []

    few = settings.model_copy(update={"max_zip_entries": 3})
    with pytest.raises(ArchiveRefused, match="4 entries"):
        unpack_zip(_zip({f"{i}.png": _png() for i in range(4)}), staging, few)

    small = settings.model_copy(update={"max_zip_uncompressed_bytes": 1000})
    with pytest.raises(ArchiveRefused, match="would unpack to"):
        unpack_zip(_zip({"a.png": _png()}), staging, small)


def test_not_a_zip(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(ArchiveRefused, match="not a zip"):
        unpack_zip(io.BytesIO(b"PK but not really"), tmp_path, settings)


def test_uploads_are_written_inside_staging_within_the_limit(tmp_path: Path) -> None:
    assert save_stream(io.BytesIO(b"12345"), tmp_path, "10_mira/a.png", 10) == 5
    assert (tmp_path / "10_mira" / "a.png").read_bytes() == b"12345"
    with pytest.raises(UploadTooLarge):
        save_stream(io.BytesIO(b"x" * 11), tmp_path, "big.png", 10)
    assert not (tmp_path / "big.png").exists()
    for bad in ("../escape.png", "/abs.png", "a\\b.png", "nul\x00.png"):
        with pytest.raises(UnsafePathError):
            save_stream(io.BytesIO(b"x"), tmp_path, bad, 10)
    assert not (tmp_path.parent / "escape.png").exists()
