"""Zip archives and uploads: zip slip, zip bombs (entries, size, ratio) and links are
refused with a plain message, before anything is written."""

from __future__ import annotations

import io
import logging
import random
import signal
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.dataset.files import BAD_NAME_REASON
from app.dataset.staging import (
    ArchiveRefused,
    StagingFolder,
    UploadTooLarge,
    save_stream,
    save_uploads,
    unpack_zip,
)
from app.models import Job
from app.paths import UnsafePathError
from app.settings import REPO_ROOT, Settings
from app.workspace import Workspace
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


def test_entries_that_cannot_be_written_are_skipped_with_the_reason(
    tmp_path: Path, settings: Settings
) -> None:
    """``a.jpg`` and ``a.jpg/b.jpg`` cannot both exist (in either order), nor can an
    entry twice; an entry compressed with a method zipfile lacks cannot be read. Each is
    skipped and listed; the rest unpacks."""
    entries = {"a.jpg": _png(), "a.jpg/b.jpg": _png(), "c/": b"", "c": _png(), "ok.png": _png()}
    unpacked = unpack_zip(_zip(entries), tmp_path / "one", settings)
    assert unpacked.files == 2 and (tmp_path / "one" / "ok.png").is_file()
    assert unpacked.skipped == [
        {"path": "a.jpg/b.jpg", "why": "its folder has the name of a file in the zip"},
        {"path": "c", "why": "its name is also a folder in the zip"},
    ]
    reverse = unpack_zip(_zip({"x/y.png": _png(), "x": _png()}), tmp_path / "two", settings)
    assert reverse.skipped == [{"path": "x", "why": "its name is also a folder in the zip"}]

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("good.png", _png())
        archive.writestr("odd.png", _png())  # stored: its method field is patched below
    data = bytearray(buffer.getvalue())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.rfind(signature)  # the second entry's local and central headers
        data[at + offset : at + offset + 2] = (99).to_bytes(2, "little")  # AES: unsupported
    odd = unpack_zip(io.BytesIO(bytes(data)), tmp_path / "three", settings)
    assert odd.files == 1
    assert odd.skipped == [
        {"path": "odd.png", "why": "compressed with a method loragate cannot unpack"}
    ]


def test_names_flagged_utf8_that_are_not_refuse_the_archive(
    tmp_path: Path, settings: Settings
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cafe.png", _png())
    data = bytearray(buffer.getvalue().replace(b"cafe.png", b"caf\xe9.png"))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset : at + offset + 2] = (0x800).to_bytes(2, "little")  # "names are UTF-8"
    with pytest.raises(ArchiveRefused, match="file names are UTF-8 text, but at least one"):
        unpack_zip(io.BytesIO(bytes(data)), tmp_path, settings)


def test_a_staging_folder_goes_whatever_stops_the_upload(settings: Settings) -> None:
    with pytest.raises(RuntimeError), StagingFolder(settings) as failed:
        (failed.path / "half.png").write_bytes(b"x")
        raise RuntimeError("anything at all")
    assert not failed.path.exists()
    with StagingFolder(settings) as refused:
        pass  # a refusal returns without handing the folder over
    assert not refused.path.exists()
    with StagingFolder(settings) as started:
        owned = started.hand_over()
    assert owned.path.is_dir()  # the import job removes it
    owned.remove()
    assert not owned.path.exists()
    assert not list(owned.path.parent.iterdir())  # its lock file went with it


def test_upload_names_are_made_clean_or_refused(tmp_path: Path) -> None:
    names = ["caf\udce9.png", "ok.png", "ok.png", "../out.png", "ok.png/inner.png", "\ud800.png"]
    saved = save_uploads([io.BytesIO(b"x") for _ in names], names, tmp_path, 100)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["_.png", "café.png", "ok.png"]
    assert saved.renamed == [
        {"from": "caf\\xe9.png", "to": "café.png", "why": BAD_NAME_REASON},
        {"from": "\\ud800.png", "to": "_.png", "why": BAD_NAME_REASON},
    ]
    assert saved.skipped == [
        {"path": "ok.png", "why": "sent twice"},
        {"path": "../out.png", "why": "a path that leaves its folder: refused"},
        {
            "path": "ok.png/inner.png",
            "why": "its folder has the name of a file among the files sent",
        },
    ]


def test_not_a_zip(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(ArchiveRefused, match="not a zip"):
        unpack_zip(io.BytesIO(b"PK but not really"), tmp_path, settings)


def test_uploads_are_written_inside_staging_within_the_limit(tmp_path: Path) -> None:
    assert save_stream(io.BytesIO(b"12345"), tmp_path, "10_mira/a.png", 10) == 5
    assert (tmp_path / "10_mira" / "a.png").read_bytes() == b"12345"
    with pytest.raises(UploadTooLarge):
        save_stream(io.BytesIO(b"x" * 11), tmp_path, "big.png", 10)
    assert not (tmp_path / "big.png").exists()
    for bad in ("../escape.png", "/abs.png", "a\\b.png", "nul\x00.png", "caf\udce9.png"):
        with pytest.raises(UnsafePathError):
            save_stream(io.BytesIO(b"x"), tmp_path, bad, 10)
    assert not (tmp_path.parent / "escape.png").exists()


def test_an_entry_with_a_name_too_long_is_skipped_naming_the_limit(
    tmp_path: Path, settings: Settings
) -> None:
    """A 300-byte entry name made the error handler raise the same error again (500)."""
    long_name = "10_mira/" + "a" * 296 + ".png"
    unpacked = unpack_zip(_zip({long_name: _png(), "ok.png": _png()}), tmp_path, settings)
    assert unpacked.files == 1 and (tmp_path / "ok.png").is_file()
    assert unpacked.skipped == [
        {
            "path": long_name,
            "why": f"The name “{'a' * 30}…aa.png” is 300 bytes long; a file or folder name "
            "can be at most 255 bytes.",
        }
    ]


def test_files_over_the_per_file_limit_are_skipped_in_zips_and_uploads(
    tmp_path: Path, settings: Settings
) -> None:
    """One limit (``max_file_bytes``) for every way in, named in the reason; the rest of
    the archive or the upload goes on."""
    big = bytes(random.Random(1).getrandbits(8) for _ in range(200_000))  # incompressible
    small = settings.model_copy(update={"max_file_bytes": 100_000})
    why = (
        "too large: 195.3 KB, more than the 97.7 KB one file may hold "
        "(LORAGATE_MAX_FILE_BYTES); it was not copied"
    )
    unpacked = unpack_zip(_zip({"big.png": big, "ok.png": _png()}), tmp_path / "zip", small)
    assert unpacked.skipped == [{"path": "big.png", "why": why}]
    assert sorted(p.name for p in (tmp_path / "zip").iterdir()) == ["ok.png"]

    sent = tmp_path / "upload"
    saved = save_uploads(
        [io.BytesIO(big), io.BytesIO(_png())],
        ["big.png", "ok.png"],
        sent,
        10**9,
        max_file_bytes=100_000,
    )
    assert saved.skipped == [{"path": "big.png", "why": why.replace("195.3 KB, more", "more")}]
    assert sorted(p.name for p in sent.iterdir()) == ["ok.png"]
    with pytest.raises(UploadTooLarge):  # past the upload's own limit: the whole upload
        save_uploads([io.BytesIO(big)], ["big.png"], sent, 150_000, max_file_bytes=10**6)


_CRASH = """
import os, signal, sys
from pathlib import Path
from app.dataset.staging import StagingFolder
from app.settings import Settings
staging = StagingFolder(Settings(data_dir=Path(sys.argv[1])))
(staging.path / "10_mira").mkdir()
(staging.path / "10_mira" / "half.png").write_bytes(b"x" * 1000)
print(staging.path, flush=True)
if sys.argv[2] == "crash":
    os.kill(os.getpid(), signal.SIGKILL)  # what a kill -9 or a power cut leaves
sys.stdin.read()  # a live upload: holds its folder until told to stop
"""


def test_stale_staging_is_removed_on_start_and_live_staging_is_kept(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A server killed while unpacking left data/staging/<uuid> behind for good. A
    folder is live while a process holds its lock (the kernel drops it when the process
    dies): the leftover of a killed process goes when loragate starts, with a log line;
    a live one, in this process or another, stays."""

    def start(mode: str, **extra: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", _CRASH, str(settings.data_dir), mode],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
            **extra,
        )

    crashed = start("crash")
    leftover = Path(crashed.stdout.readline().strip())  # type: ignore[union-attr]
    assert crashed.wait(30) == -signal.SIGKILL
    crashed.stdout.close()  # type: ignore[union-attr]
    other = start("live", stdin=subprocess.PIPE)
    elsewhere = Path(other.stdout.readline().strip())  # type: ignore[union-attr]
    try:
        with StagingFolder(settings) as here:
            assert leftover.is_dir() and elsewhere.is_dir()
            with caplog.at_level(logging.WARNING, logger="app.dataset.staging"):
                Workspace(settings).close()
            assert not leftover.exists()
            assert not leftover.with_name(leftover.name + ".lock").exists()
            assert here.path.is_dir() and elsewhere.is_dir()
        assert f"Removed the staging folder {leftover} (1 file, 1000 bytes)" in caplog.text
        assert str(elsewhere) not in caplog.text
    finally:
        other.communicate("", timeout=30)


@pytest.mark.parametrize(("state", "kept"), [("interrupted", True), ("done", False)])
def test_the_staging_of_an_import_that_is_not_over_survives_a_restart(
    settings: Settings, state: str, kept: bool
) -> None:
    """A restart cuts an import of an upload short: Resume imports from its staging
    folder, so the clean-up on start spares it; once the job is over it goes."""
    first = Workspace(settings)
    with StagingFolder(settings) as staging:
        (staging.path / "001.png").write_bytes(_png())
        owned = staging.hand_over()  # the lock is let go: the job's child takes it
    with first.db.writing() as session:
        session.add(Job(kind="dataset.import", state=state, params={"staging": str(owned.path)}))
    first.close()
    Workspace(settings).close()  # the next start
    assert owned.path.is_dir() is kept
