"""Opening untrusted images with Pillow, from any thread.

``warnings.catch_warnings`` is never used here: it swaps the process-wide filter list,
and a thread leaving it restores the list it saw on entry, dropping the filters another
thread set meanwhile (FastAPI silences a pydantic warning that way while it builds its
routes). Image readers run in the server's threadpool and in job threads, so instead:

- A decompression bomb is refused by every reader's own check of the header's
  width × height against its limit, before any pixel is decoded. Past 2× Pillow's
  ``MAX_IMAGE_PIXELS`` Pillow itself raises at open; ``BOMB_ERRORS`` catches that, and
  the warning it gives between 1× and 2× wherever warnings are errors (the tests).
- Pillow's warnings about odd files (corrupt EXIF, palette transparency, a malformed
  MPO…) are not findings: one filter, added when this module is first imported,
  ignores warnings raised from Pillow's own modules, for the life of the process.
- ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never touched, so a truncated file fails.
"""

from __future__ import annotations

import warnings

from PIL import Image

BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)

warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
