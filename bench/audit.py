"""Benchmark: loragate's full dataset audit against a naive baseline, in one process run.

    .venv/bin/python bench/audit.py [--count 1000] [--png-share 0.3] [--dir /tmp/loragate-bench-audit]

It generates ``--count`` photo-like images of 2 to 4 megapixels deterministically (70%
JPEG at quality 90, 30% PNG; generated once and kept in ``--dir``), each with a caption,
then times:

- the naive baseline: for every file, a full Pillow decode and ``imagehash.phash``,
  nothing else, in one process (what a straightforward script does);
- loragate's full audit (``audit_folder``) with a cold cache: every check of Gate 1
  (decode, EXIF, transparency, sharpness, exposure, JPEG quality, pHash and dHash,
  exact and near duplicates, captions, dataset statistics) on every core;
- the same audit again after one file changed (the incremental case).

It prints files per second for each and the ratio, then where the time goes: the
per-file cost of the naive work and of loragate's analysis, in one process, per format,
and the ratio those costs allow with the parallelism the machine gave at the time (the
ceiling: a PNG must be decoded in full by both, so only JPEG's reduced decode and the
extra cores make the difference). The target is a full audit at least 3× the
baseline's throughput on a 2-core machine (``--cpus 2`` pins the run to two cores on a
bigger one). Other programs running at the same time take cores from the audit's
workers: the load average is printed with the figures. ``--png-share`` sets the share
of PNG files (default 0.3); ``--png-share 0`` shows what JPEG alone allows. Nothing here
is part of the tests.

loragate's modules are imported inside the functions, not at the top: the audit's
worker processes re-import the script that started them (``python bench/audit.py``),
and top-level imports would cost each of them the database models, which the CLI's
workers never load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import imagehash
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from app.dataset.cache import MemoryCache

SIZES = ((1920, 1280), (2048, 1536), (2400, 1600), (1600, 1600), (1280, 1920), (1536, 2048))
PNG_SHARE = 0.3
GENERATOR_VERSION = 1


def photo(seed: int, size: tuple[int, int]) -> Image.Image:
    """Smooth colour fields, sharp-edged shapes and sensor-like grain."""
    rng = np.random.default_rng(seed)
    width, height = size
    coarse = (rng.random((6, 8, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - 100)), int(rng.integers(0, height - 100))
        x1, y1 = x0 + int(rng.integers(60, width // 3)), y0 + int(rng.integers(60, height // 3))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)((x0, y0, x1, y1), fill=colour)
    grain = rng.normal(0, 4, (height, width, 3)).astype(np.float32)
    return Image.fromarray(np.clip(np.asarray(image, np.float32) + grain, 0, 255).astype(np.uint8))


def _make(args: tuple[Path, int, float]) -> None:
    folder, index, png_share = args
    size = SIZES[index % len(SIZES)]
    picture = photo(index, size)
    is_png = (index * 7919) % 100 < png_share * 100
    stem = folder / f"{index:05}"
    if is_png:
        picture.save(stem.with_suffix(".png"), compress_level=6)
    else:
        picture.save(stem.with_suffix(".jpg"), quality=90)
    stem.with_suffix(".txt").write_text(f"zkbench, generated picture number {index}")


def generate(folder: Path, count: int, png_share: float) -> list[Path]:
    manifest = folder.with_name(folder.name + ".json")  # beside the images, not among them
    wanted = {"count": count, "version": GENERATOR_VERSION, "png_share": png_share}
    if manifest.is_file() and json.loads(manifest.read_text()) == wanted:
        print(f"Using the {count} images already in {folder}")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        started = time.perf_counter()
        print(f"Generating {count} images of 2-4 MP in {folder} (once)…", flush=True)
        with ProcessPoolExecutor() as pool:
            jobs = [(folder, i, png_share) for i in range(count)]
            list(pool.map(_make, jobs, chunksize=8))
        manifest.write_text(json.dumps(wanted))
        print(f"  generated in {time.perf_counter() - started:.0f} s")
    return sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png"))


def naive(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.load()
            imagehash.phash(image)
    return time.perf_counter() - started


def full_audit(folder: Path, cache: MemoryCache) -> tuple[float, object]:
    from app.curation.folder_audit import AuditOptions, audit_folder

    options = AuditOptions(training_type="style", trigger="zkbench", family="sdxl")
    started = time.perf_counter()
    report = audit_folder(folder, options, cache)
    return time.perf_counter() - started, report


def _spin(_: int) -> float:
    data = b"\0" * (16 * 1024 * 1024)
    started = time.perf_counter()
    for _ in range(24):
        hashlib.sha256(data).digest()
    return time.perf_counter() - started


def parallel_capacity(workers: int) -> float:
    """How much faster ``workers`` processes finish ``workers`` equal CPU-bound tasks
    than one process finishes one, right now: 2.0 on an idle 2-core machine, less when
    other programs hold cores. The audit's speed-up from its workers is bounded by it."""
    one = _spin(0)
    with ProcessPoolExecutor(workers) as pool:
        started = time.perf_counter()
        list(pool.map(_spin, range(workers)))
        together = time.perf_counter() - started
    return workers * one / together


def per_file_costs(paths: list[Path], capacity: float, sample: int = 40) -> None:
    """Milliseconds per file in one process: the naive work, loragate's analysis; and
    the ratio they allow at ``capacity`` (the parallelism measured at the time)."""
    from app.dataset.measure_file import analyze_path

    naive_total = ours_total = 0.0
    for suffix, name in ((".jpg", "JPEG"), (".png", "PNG")):
        chosen = [p for p in paths if p.suffix == suffix][:sample]
        if not chosen:
            continue
        started = time.perf_counter()
        naive(chosen)
        naive_ms = (time.perf_counter() - started) / len(chosen) * 1000
        started = time.perf_counter()
        for path in chosen:
            analyze_path(str(path), 89_478_485)
        ours_ms = (time.perf_counter() - started) / len(chosen) * 1000
        started = time.perf_counter()
        for path in chosen:
            with Image.open(path) as image:
                image.load()
        decode_ms = (time.perf_counter() - started) / len(chosen) * 1000
        print(
            f"  {name:4}: naive {naive_ms:5.1f} ms/file, loragate {ours_ms:5.1f} ms/file "
            f"({naive_ms / ours_ms:.1f}× on one core); a full decode alone takes {decode_ms:5.1f} ms"
        )
        share = sum(1 for p in paths if p.suffix == suffix) / len(paths)
        naive_total += share * naive_ms
        ours_total += share * ours_ms
    per_core = naive_total / ours_total
    print(
        f"  this mix: {per_core:.2f}× on one core; at the parallel capacity measured "
        f"({capacity:.2f}×) the ratio can reach about {per_core * capacity:.2f}×"
    )


def main() -> int:
    from app.dataset.cache import MemoryCache
    from app.dataset.measure_folder import default_workers

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/loragate-bench-audit"))
    parser.add_argument(
        "--png-share",
        type=float,
        default=PNG_SHARE,
        help="the share of PNG files (0 to 1): both sides must decode a PNG in full, so "
        "the more PNG, the lower the ratio can go",
    )
    parser.add_argument("--cpus", type=int, default=0, help="pin the run to this many cores")
    args = parser.parse_args()
    images = args.dir / f"{args.count}-images-{round(args.png_share * 100)}pc-png"
    paths = generate(images, args.count, args.png_share)
    if args.cpus:  # before the audit's fork server starts: its workers inherit this
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
    jpeg = sum(1 for p in paths if p.suffix == ".jpg")
    megapixels = sum(np.prod(Image.open(p).size) for p in paths) / len(paths) / 1e6
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(
        f"{len(paths)} images ({jpeg} JPEG, {len(paths) - jpeg} PNG), {megapixels:.1f} MP on "
        f"average, {size_mb:,.0f} MB; {len(os.sched_getaffinity(0))} cores, audit workers "
        f"{default_workers()}; load average before: {os.getloadavg()[0]:.2f}"
    )

    for path in paths:  # both runs start with the files in the page cache
        path.read_bytes()
    capacity = parallel_capacity(default_workers())
    print(
        f"parallel capacity now: {capacity:.2f}× for {default_workers()} processes on a "
        "trivially parallel task (the ceiling for the audit's workers)"
    )
    cache = MemoryCache()
    audit_seconds, report = full_audit(images, cache)
    naive_seconds = naive(paths)
    changed = paths[len(paths) // 2]
    original = changed.read_bytes()
    with Image.open(changed) as image:
        flipped = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    flipped.save(changed, format="PNG" if changed.suffix == ".png" else "JPEG")
    try:
        again_seconds, again = full_audit(images, cache)
    finally:
        changed.write_bytes(original)

    naive_rate = len(paths) / naive_seconds
    audit_rate = len(paths) / audit_seconds
    print(
        f"naive baseline (decode + pHash, 1 process): {naive_rate:6.1f} files/s ({naive_seconds:.1f} s)"
    )
    print(
        f"loragate full audit (cold cache):           {audit_rate:6.1f} files/s ({audit_seconds:.1f} s)"
    )
    print(f"ratio: {audit_rate / naive_rate:.2f}× the baseline (target: at least 3×)")
    capacity_after = parallel_capacity(default_workers())
    print(f"parallel capacity after: {capacity_after:.2f}×")
    counts = again.counts  # type: ignore[attr-defined]
    print(
        f"re-audit after one file changed: {again_seconds:.2f} s "
        f"({counts.cached} from cache, {counts.reused} re-read, {counts.measured} measured)"
    )
    print(f"findings: {report.stats['findings']}")  # type: ignore[attr-defined]
    print(f"load average after: {os.getloadavg()[0]:.2f}. Where the time goes (one process):")
    per_file_costs(paths, (capacity + capacity_after) / 2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
