"""A folder with one of every problem the audit knows, built once per session, and its
audit (shared by the tests that each check one finding)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.curation.folder_audit import AuditOptions, AuditReport, audit_folder
from app.dataset.cache import MemoryCache
from tests.dataset import builders as b

TRIGGER = "zkmira"


def build_problem_folder(root: Path) -> Path:
    """Every fixture the issue lists, in a folder of kohya layout."""
    concept = root / "10_mira"
    concept.mkdir(parents=True)

    def captioned(name: str, caption: str = f"{TRIGGER}, a picture") -> None:
        (concept / name).with_suffix(".txt").write_text(caption, "utf-8")

    for seed in range(6):  # ordinary, unrelated, sharp pictures
        b.save(b.photo(seed), concept / f"good{seed}.png")
        captioned(f"good{seed}.png")
    b.truncated_jpeg(concept / "truncated.jpg")
    (concept / "zero.jpg").write_bytes(b"")
    (concept / "notes.jpg").write_text("these are my notes, not a picture\n")
    b.png_claiming(concept / "bomb.png", 40000, 40000)
    b.animated_gif(concept / "animated.gif")
    b.save(b.photo(30).convert("CMYK"), concept / "cmyk.jpg", quality=92)
    b.sixteen_bit_png(concept / "deep.png")
    b.transparent_png(concept / "cutout.png", real=True)
    b.transparent_png(concept / "opaque_alpha.png", real=False)
    b.exif_rotated_jpeg(concept / "rotated.jpg")
    base = b.photo(40)
    b.save(b.blurred(b.photo(41)), concept / "blurred.png")
    b.save(b.photo(42), concept / "compressed.jpg", quality=12)
    b.save(base, concept / "original.png")
    b.save(base, concept / "same_pixels.bmp")  # exact duplicate (other bytes, same pixels)
    b.save(b.resized(b.photo(43)), concept / "near_a.png")
    b.save(b.photo(43), concept / "near_b.jpg", quality=80)  # re-encoded
    b.save(b.brightened(b.photo(43)), concept / "near_c.png")  # brightened
    b.save(b.photo(44, (1200, 300)), concept / "panorama.png")
    b.save(b.photo(45, (200, 160)), concept / "tiny.png")
    for name in [
        "truncated.jpg",
        "animated.gif",
        "cmyk.jpg",
        "deep.png",
        "cutout.png",
        "opaque_alpha.png",
        "rotated.jpg",
        "blurred.png",
        "compressed.jpg",
        "original.png",
        "same_pixels.bmp",
        "near_a.png",
        "near_b.jpg",
        "near_c.png",
        "panorama.png",
        "tiny.png",
    ]:
        captioned(name)
    # Captions with problems, on otherwise good images.
    b.save(b.photo(50), concept / "no_caption.png")
    b.save(b.photo(51), concept / "empty_caption.png")
    (concept / "empty_caption.txt").write_text("   \n")
    b.save(b.photo(52), concept / "no_trigger.png")
    (concept / "no_trigger.txt").write_text("a woman standing in a field")
    b.save(b.photo(53), concept / "latin1.png")
    (concept / "latin1.txt").write_bytes(f"{TRIGGER}, café au lait, naïve".encode("latin-1"))
    b.save(b.photo(54), concept / "long.png")
    (concept / "long.txt").write_text(TRIGGER + ", " + ", ".join(f"detail{i}" for i in range(40)))
    b.save(b.photo(55), concept / "very_long.png")
    (concept / "very_long.txt").write_text(
        TRIGGER + ", " + ", ".join(f"word{i} thing{i}" for i in range(120))
    )
    b.save(b.photo(56), concept / "second_line.png")
    (concept / "second_line.txt").write_text(f"a portrait\n{TRIGGER}\n")
    (concept / "orphan.txt").write_text(f"{TRIGGER}, the image was deleted")
    # Junk, and a link out of the folder.
    (concept / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._good0.png").write_bytes(b"\x00\x05\x16\x07")
    secret = root.parent / "outside-secret.png"
    b.save(b.photo(60), secret)
    os.symlink(secret, concept / "linked.png")
    return root


@dataclass
class AuditedFolder:
    root: Path
    report: AuditReport
    digest_before: str


@pytest.fixture(scope="session")
def problem_folder(tmp_path_factory: pytest.TempPathFactory) -> AuditedFolder:
    root = build_problem_folder(tmp_path_factory.mktemp("problems") / "dataset")
    before = b.tree_digest(root)
    report = audit_folder(
        root, AuditOptions(training_type="character", trigger=TRIGGER, family="sd15"), MemoryCache()
    )
    return AuditedFolder(root, report, before)
