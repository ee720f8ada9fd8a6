"""Opening untrusted images with Pillow: its decompression-bomb warning (between 1× and
2× of ``Image.MAX_IMAGE_PIXELS``) becomes an error, its other warnings (corrupt EXIF,
palette transparency…) are silenced because they are not findings, and
``ImageFile.LOAD_TRUNCATED_IMAGES`` is never touched, so a truncated file fails.

``warnings.catch_warnings`` changes process-wide filters; two threads using it at once
may see each other's. That is why every caller also compares the header's width ×
height with its own limit: a bomb is refused even if the warning was not an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)


@contextmanager
def bomb_guard() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield
