"""Real image files with real problems, built by the tests (small, deterministic)."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter


def photo(seed: int, size: tuple[int, int] = (640, 512)) -> Image.Image:
    """A photo-like RGB picture: smooth colour fields, shapes with sharp edges, grain.
    Different seeds give unrelated pictures (perceptual hashes far apart)."""
    rng = np.random.default_rng(seed)
    width, height = size
    coarse = rng.random((4, 5, 3)) * 255
    image = Image.fromarray(coarse.astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        x1 = x0 + int(rng.integers(30, max(31, width // 2)))
        y1 = y0 + int(rng.integers(30, max(31, height // 2)))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    grain = rng.normal(0, 6, (height, width, 3))
    array = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(array)


def save(image: Image.Image, path: Path, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **params)
    return path


def truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    photo(901).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width × height (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def animated_gif(path: Path) -> Path:
    frames = [photo(700 + i, (560, 560)).convert("P") for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def sixteen_bit_png(path: Path) -> Path:
    ramp = np.linspace(0, 65535, 600 * 560, dtype=np.uint32).reshape(560, 600)
    noisy = (ramp + np.random.default_rng(3).integers(0, 4000, ramp.shape)) % 65536
    Image.fromarray(noisy.astype(np.uint16)).save(path)  # mode I;16
    return path


def transparent_png(path: Path, *, real: bool) -> Path:
    image = photo(811, (600, 560)).convert("RGBA")
    alpha = np.full((560, 600), 255, dtype=np.uint8)
    if real:
        alpha[:, :200] = 0  # a cut-out: the left third see-through
    image.putalpha(Image.fromarray(alpha))
    image.save(path)
    return path


def exif_rotated_jpeg(path: Path) -> Path:
    image = photo(812, (800, 600))
    exif = image.getexif()
    exif[0x0112] = 6  # shown rotated 90°: 600 × 800
    image.save(path, "JPEG", quality=92, exif=exif)
    return path


def blurred(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(8))


def brightened(image: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(1.15)


def resized(image: Image.Image, factor: float = 0.75) -> Image.Image:
    return image.resize(
        (int(image.width * factor), int(image.height * factor)), Image.Resampling.LANCZOS
    )


def raw_name(folder: Path, name: bytes) -> Path:
    """``folder / name`` for a name given as bytes, which need not be UTF-8: Latin-1
    ``b"caf\\xe9.jpg"`` is what an old Windows or Mac system leaves (Python carries the
    stray byte as a lone surrogate)."""
    return folder / os.fsdecode(name)


def tree_digest(root: Path) -> str:
    """A hash of every path, link target, mode and byte under root: equal before and
    after means nothing in the folder changed."""
    digest = hashlib.sha256()
    for directory, dirnames, filenames in sorted(os.walk(root, followlinks=False)):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            path = Path(directory) / name
            digest.update(os.fsencode(path.relative_to(root)))
            stat = path.lstat()
            digest.update(f"{stat.st_mode}:{stat.st_mtime_ns}".encode())
            if path.is_symlink():
                digest.update(os.fsencode(os.readlink(path)))
            elif path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


@contextmanager
def fifo_watchdog(fifo: Path, after: float = 5.0) -> Iterator[list[bool]]:
    """A named pipe that cannot hang a test: should anything still be blocked opening it
    for reading after ``after`` seconds, a writer opens it (so the open returns) and the
    list yielded gets True. Code that never opens a named pipe leaves it empty."""
    os.mkfifo(fifo)
    unblocked: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(after):
            try:  # only succeeds while someone has the pipe open for reading
                descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            unblocked.append(True)
            os.close(descriptor)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield unblocked
    finally:
        done.set()
        watcher.join()


def flat_png(path: Path, width: int, height: int, *, mode: str = "RGBA") -> Path:
    """A real PNG of ``width`` × ``height`` flat pixels: a few hundred kilobytes on disk
    for tens of megapixels once decoded (written row by row, never whole in memory)."""
    colour_type, channels = {"RGBA": (6, 4), "RGB": (2, 3), "L": (0, 1)}[mode]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    row = b"\x00" + b"\x80" * (width * channels)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path
