"""Caption sidecars on disk: where one lives, writing it so a crash never leaves half a
file, and telling whether it was changed outside loragate since loragate last wrote or
read it.

A write goes through ``app.fsutil.atomic_write_text`` (temp file in the same folder,
fsync, rename, fsync the folder): the sidecar is always the old text or the new text,
never a mix. What loragate wrote is remembered as the file's SHA-256 and mtime on the
``caption`` row; a file whose mtime moved is hashed, and only a different hash counts
as an outside edit (a ``touch`` does not).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from app.captions.sidecar_decode import MAX_CAPTION_BYTES, decode_caption
from app.dataset.files import caption_path_for
from app.fsutil import atomic_write_text
from app.models import Caption
from app.paths import safe_join


@dataclass(frozen=True)
class SidecarFile:
    sha256: str
    mtime_ns: int


@dataclass(frozen=True)
class OutsideChange:
    """The sidecar as it is now, when it no longer holds what loragate wrote."""

    text: str | None  # None: the file was deleted
    encoding: str = "utf-8"

    @property
    def deleted(self) -> bool:
        return self.text is None


def sidecar_path(dataset_root: Path, image_path: str) -> Path:
    return safe_join(dataset_root, caption_path_for(image_path))


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_sidecar(path: Path, text: str) -> SidecarFile:
    """Write the caption atomically; the text is one line, without a line break (kohya
    reads the first line)."""
    data = text.encode("utf-8")
    atomic_write_text(path, text)
    return SidecarFile(digest_bytes(data), path.stat().st_mtime_ns)


def read_sidecar_text(path: Path) -> tuple[str, str, bytes]:
    """(text, encoding, raw bytes) of a sidecar; the text is stripped of surrounding
    whitespace and a byte-order mark."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_CAPTION_BYTES)
    text, encoding = decode_caption(data)
    return text.strip(), encoding, data


def outside_change(path: Path, caption: Caption) -> OutsideChange | None:
    """What the sidecar holds now when it differs from what loragate last wrote or read;
    None when it is unchanged."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return OutsideChange(None)
    if stat.st_mtime_ns == caption.sidecar_mtime_ns:
        return None
    try:
        text, encoding, data = read_sidecar_text(path)
    except FileNotFoundError:
        return OutsideChange(None)
    if digest_bytes(data) == caption.sidecar_sha256:
        return None
    return OutsideChange(text, encoding)
