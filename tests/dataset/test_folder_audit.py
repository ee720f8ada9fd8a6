"""The audit on a folder holding every problem the issue lists: each yields its finding
with the expected severity, nothing crashes, and nothing in the folder changes."""

from __future__ import annotations

import pytest
from PIL import Image

from app.curation.folder_audit import AuditOptions, audit_folder
from app.dataset.cache import MemoryCache
from app.dataset.check_catalogue import CHECKS
from app.findings import verdict_of
from tests.dataset import builders as b
from tests.dataset.conftest import AuditedFolder

C = "10_mira/"
EXPECTED = [
    ("truncated.jpg", "image.truncated", "block"),
    ("zero.jpg", "image.empty", "block"),
    ("notes.jpg", "image.not_an_image", "block"),
    ("bomb.png", "image.decompression_bomb", "block"),
    ("animated.gif", "image.animated", "warn"),
    ("animated.gif", "image.unsupported_format", "block"),
    ("cmyk.jpg", "image.colour_mode", "warn"),
    ("deep.png", "image.colour_mode", "warn"),
    ("cutout.png", "image.transparency", "warn"),
    ("opaque_alpha.png", "image.unused_alpha", "info"),
    ("rotated.jpg", "image.exif_rotated", "warn"),
    ("blurred.png", "image.blurry", "warn"),
    ("compressed.jpg", "image.jpeg_compressed", "warn"),
    ("panorama.png", "image.extreme_aspect", "warn"),
    ("tiny.png", "image.too_small", "block"),
    ("near_a.png", "image.small", "warn"),
    ("no_caption.png", "caption.missing", "block"),
    ("empty_caption.png", "caption.empty", "block"),
    ("no_trigger.png", "caption.missing_trigger", "block"),
    ("second_line.png", "caption.missing_trigger", "block"),
    ("second_line.png", "caption.multiline", "warn"),
    ("latin1.png", "caption.not_utf8", "block"),  # a folder trained as it is
    ("long.png", "caption.too_long", "warn"),
    ("very_long.png", "caption.far_too_long", "block"),
    ("orphan.txt", "caption.orphan", "warn"),
    ("linked.png", "file.symlink_outside", "block"),
]


@pytest.mark.parametrize(("name", "code", "severity"), EXPECTED)
def test_each_problem_yields_its_finding(
    problem_folder: AuditedFolder, name: str, code: str, severity: str
) -> None:
    found = [f for f in problem_folder.report.findings if f.code == code]
    matching = [f for f in found if C + name in f.subject.split(", ")]
    assert matching, f"no {code} for {name}; {code} findings: {[f.subject for f in found]}"
    assert {f.severity for f in matching} == {severity}
    assert all(item.why and item.fix and item.source == CHECKS[code].source for item in matching)


def test_duplicates_are_grouped_and_name_every_member(problem_folder: AuditedFolder) -> None:
    findings = problem_folder.report.findings
    exact = [f for f in findings if f.code == "duplicate.exact"]
    assert [f.subject for f in exact] == [f"{C}original.png, {C}same_pixels.bmp"]
    near = [f for f in findings if f.code == "duplicate.near"]
    assert f"{C}near_a.png, {C}near_b.jpg, {C}near_c.png" in [f.subject for f in near]
    assert all(f.severity == "block" for f in exact + near)
    # Unrelated pictures are never grouped.
    grouped = {path for f in exact + near for path in f.subject.split(", ")}
    assert not any(f"{C}good{i}.png" in grouped for i in range(6))


def test_the_dataset_level_findings(problem_folder: AuditedFolder) -> None:
    codes = {f.code: f for f in problem_folder.report.findings if f.subject == "."}
    assert codes["dataset.junk_ignored"].severity == "info"
    assert "Thumbs.db" in codes["dataset.junk_ignored"].message
    assert codes["dataset.aspect_buckets"].severity == "info"
    stats = problem_folder.report.stats
    assert stats["junk"] == 3 and stats["links"] == 1
    assert stats["concepts"]["mira"]["repeats"] == 10
    assert sum(b["count"] for b in stats["resolution_histogram"]) == stats["included"]


def test_sizes_are_reported_upright_and_transparency_colour_is_named(
    problem_folder: AuditedFolder,
) -> None:
    files = problem_folder.report.files
    rotated = files[f"{C}rotated.jpg"].metrics
    assert (rotated["width"], rotated["height"]) == (600, 800)
    cutout = next(f for f in problem_folder.report.findings if f.code == "image.transparency")
    assert "33%" in cutout.message and "RGB" in cutout.message


def test_nothing_crashed_and_the_folder_is_unchanged(problem_folder: AuditedFolder) -> None:
    report = problem_folder.report
    assert verdict_of(report.findings) == "block"
    assert report.stats["files"] == len(report.files)
    assert b.tree_digest(problem_folder.root) == problem_folder.digest_before
    # The link was listed, never followed: its target is not among the audited files.
    assert f"{C}linked.png" not in report.files


def test_a_clean_dataset_passes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "clean"
    for seed in range(10):
        b.save(b.photo(100 + seed, (576, 512)), root / f"{seed}.png")
        (root / f"{seed}.txt").write_text(f"zkmira, picture {seed}")
    report = audit_folder(
        root,
        AuditOptions(training_type="object", trigger="zkmira", family="sd15", workers=2),
        MemoryCache(),
    )
    assert verdict_of(report.findings) == "pass", [f.message for f in report.findings]
    assert report.counts.measured == 10  # through the process pool (more than 8 files)


def test_a_second_audit_measures_only_what_changed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "set"
    for seed in range(4):
        b.save(b.photo(200 + seed), root / f"{seed}.png")
    cache = MemoryCache()
    options = AuditOptions(training_type="style", trigger="zk", family="sd15")
    first = audit_folder(root, options, cache)
    assert first.counts.measured == 4
    b.save(b.photo(299), root / "2.png")  # one file changes
    (root / "3.png").rename(root / "renamed.png")  # one is renamed: same bytes
    second = audit_folder(root, options, cache)
    assert (second.counts.cached, second.counts.reused, second.counts.measured) == (2, 1, 1)
    assert second.files["renamed.png"].metrics == first.files["3.png"].metrics


def test_a_jpeg_and_its_lossless_png_export_are_exact_duplicates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same pixels, measured along two decode paths (the JPEG from a reduced draft,
    the PNG in full): their hashes land a few bits apart, the pixels still match."""
    jpeg = b.save(b.photo(9, (800, 640)), tmp_path / "shot.jpg", quality=90)
    with Image.open(jpeg) as image:
        image.save(tmp_path / "shot-export.png")
    b.save(b.photo(10, (800, 640)), tmp_path / "other.png")
    report = audit_folder(
        tmp_path, AuditOptions(training_type="style", trigger="zk", family="sdxl"), MemoryCache()
    )
    jpeg_metrics, png_metrics = (report.files[p].metrics for p in ("shot.jpg", "shot-export.png"))
    hashes = ("phash", "dhash")
    assert [jpeg_metrics[h] for h in hashes] != [png_metrics[h] for h in hashes]  # the trap
    duplicates = [(f.code, f.subject) for f in report.findings if f.code.startswith("duplicate.")]
    assert duplicates == [("duplicate.exact", "shot-export.png, shot.jpg")]
    assert report.counts.pixel_hashed == 2


def test_files_too_large_to_read_or_to_decode_are_findings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A padded file over the per-file limit is "too large", not a decompression bomb;
    an image past the decode limit is checked from its header, said so in a warning, and
    kept out of the comparisons that need its pixels (no "blurry", no duplicate)."""
    root = tmp_path / "set"
    for seed in range(6):
        b.save(b.photo(300 + seed, (512, 512)), root / f"{seed}.png")
        (root / f"{seed}.txt").write_text(f"zk, picture {seed}")
    b.flat_png(root / "huge.png", 7200, 7200)
    (root / "huge.txt").write_text("zk, a flat grey field")
    padded = b.save(b.photo(1, (64, 64)), root / "padded.png")
    with open(padded, "r+b") as handle:
        handle.truncate(3 * 1024**2)
    options = AuditOptions(
        training_type="style", trigger="zk", family="sd15", max_file_bytes=2 * 1024**2
    )
    report = audit_folder(root, options, MemoryCache())
    by_subject = {}
    for item in report.findings:
        by_subject.setdefault(item.subject, []).append(item)
    (too_large,) = by_subject["padded.png"]
    assert (too_large.code, too_large.severity) == ("file.too_large", "block")
    assert too_large.message == "padded.png is too large to read: 3.0 MB; one file may hold 2.0 MB."
    assert "LORAGATE_MAX_FILE_BYTES" in too_large.fix
    (huge,) = by_subject["huge.png"]
    assert (huge.code, huge.severity) == ("image.not_measured", "warn")
    assert huge.message == (
        "huge.png is 7200×7200 (52 megapixels), more than the 50 megapixels loragate "
        "decodes per image; only its header was checked."
    )
    assert report.stats["images"] == 7  # it still trains, and counts in the buckets
