"""Benchmark: peak memory (RSS) and time of auditing the worst images one file can hold,
against a named baseline, each in a fresh process.

    .venv/bin/python bench/audit_memory.py [--dir /tmp/loragate-bench-memory] [--sides 9400,7000]

The worst case is a flat picture stored as PNG: a few hundred kilobytes on disk, tens of
megapixels once decoded, and PNG (unlike JPEG) cannot be decoded at a reduced size. For
each side length (9,400: 88 megapixels, just under Pillow's decompression-bomb limit;
7,000: 49 megapixels, just under loragate's decode limit, ``MAX_DECODE_PIXELS``) and each
colour mode (RGBA, grey with alpha, 16-bit grey, RGB) it generates the file once (row by
row, never whole in memory), then runs, each in its own process:

- the baseline: what any audit that looks at the pixels must at least pay, Pillow's
  full decode and a conversion to RGB (``Image.open(path).load()`` then
  ``convert("RGB")``), nothing else;
- loragate's analysis of the file (``analyze_path``: every per-image check of Gate 1).

It prints the peak resident memory of each process (``ru_maxrss``) with the interpreter's
own floor (Python with the analysis modules imported, no image), and the seconds. Before
this script was written, loragate's analysis took 2.5 GB and 15 s for the 88-megapixel
RGBA file, 2.8 GB for the grey-with-alpha one and 1.4 GB and 8 s for the 49-megapixel
RGBA one (on a 2-core machine); past the decode limit it now reads the header only (the
audit says so in an ``image.not_measured`` warning), and at the limit it stays below the
baseline. Nothing here is part of the tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# PNG colour type, bit depth, one pixel: mid grey, mostly see-through where there is an
# alpha band (the transparency check's costliest case: every pixel under its mask).
MODES = {
    "RGBA": (6, 8, b"\x80\x80\x80\x40"),
    "LA": (4, 8, b"\x80\x40"),
    "I;16": (0, 16, b"\x80\x80"),
    "RGB": (2, 8, b"\x80\x80\x80"),
}


def flat_png(path: Path, side: int, mode: str) -> Path:
    colour_type, depth, pixel = MODES[mode]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", side, side, depth, colour_type, 0, 0, 0)
    row = b"\x00" + pixel * side
    compressor = zlib.compressobj(9)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header))
        data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
        out.write(chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def one(kind: str, path: str) -> None:
    """Run in the child: measure one file one way, print JSON."""
    from app.dataset.measure_file import analyze_path
    from app.settings import Settings

    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    outcome = ""
    if kind == "baseline":
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None  # the baseline decodes whatever it is given
        with Image.open(path) as image:
            image.load()
            image.convert("RGB")
    else:
        metrics = analyze_path(path, Settings().max_image_pixels)["metrics"]
        outcome = "header only" if metrics.get("unmeasured") else str(metrics.get("kind"))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"floor_mb": floor / 1024, "peak_mb": peak / 1024, "s": seconds, "outcome": outcome}
        )
    )


def measure(kind: str, path: Path) -> dict[str, float | str]:
    result = subprocess.run(
        [sys.executable, __file__, "--one", kind, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/loragate-bench-memory"))
    parser.add_argument("--sides", default="9400,7000", help="side lengths, comma-separated")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(*args.one)
        return
    from app.dataset.measure_file import MAX_DECODE_PIXELS

    args.dir.mkdir(parents=True, exist_ok=True)
    print(
        f"Peak RSS per process (MB) and seconds; loragate decodes at most "
        f"{MAX_DECODE_PIXELS / 1e6:.0f} MP per image. Baseline: Pillow load() + convert('RGB')."
    )
    print(
        f"{'file':<22} {'on disk':>8} {'MP':>5}  {'baseline MB':>11} {'s':>5}  "
        f"{'loragate MB':>11} {'s':>5}  {'floor MB':>8}  loragate read"
    )
    worst = (0.0, "")
    for side in (int(value) for value in args.sides.split(",")):
        for mode in MODES:
            path = args.dir / f"{mode.replace(';', '')}-{side}.png"
            if not path.is_file():
                flat_png(path, side, mode)
            base = measure("baseline", path)
            ours = measure("loragate", path)
            worst = max(worst, (float(ours["peak_mb"]), path.name))
            print(
                f"{path.name:<22} {path.stat().st_size / 1024:>6.0f}KB {side * side / 1e6:>5.1f}  "
                f"{base['peak_mb']:>11.0f} {base['s']:>5.1f}  {ours['peak_mb']:>11.0f} "
                f"{ours['s']:>5.1f}  {ours['floor_mb']:>8.0f}  {ours['outcome']}",
                flush=True,
            )
    print(f"Worst case for loragate: {worst[1]}, peak {worst[0]:.0f} MB.")


if __name__ == "__main__":
    main()
