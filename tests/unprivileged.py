"""Running a check without root's file-access rights, for real.

The tests run as root, and root reads every file whatever its mode, so ``chmod 000``
proves nothing there. ``run_unprivileged`` starts a real Python process that imports
what it needs, then drops to the user ``nobody`` (``os.setuid``) before it touches the
files: from then on the kernel refuses it what it refuses any user. (It cannot start as
``nobody``: the interpreter lives under /root, which only root may enter.) Run by a user
other than root, it runs the code as that user, who is refused the same way.

The files such a process works on must be reachable by ``nobody``: pytest's
``tmp_path`` lies under a folder only root may enter, so ``open_folder`` makes one
under /tmp that everyone may enter and write to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.settings import REPO_ROOT

NOBODY = 65534
# Imported before the rights are dropped: after that, nothing under /root can load.
PRELOAD = """
from PIL import Image
Image.init()
import app.cli.audit, app.curation.folder_audit, app.dataset.cache, app.curation.fingerprint
import app.curation.importer, app.findings, app.dataset.measure_folder
import importlib.readers, app.intent
import imagehash, scipy.fftpack  # measuring an image imports them on first use
app.intent.check_trigger_word("zkpot")  # loads word lists from the venv, under /root
"""


def is_root() -> bool:
    return os.geteuid() == 0


@contextmanager
def open_folder() -> Iterator[Path]:
    """A new folder under /tmp that ``nobody`` may enter and write to, removed after."""
    folder = Path(tempfile.mkdtemp(prefix="loragate-unprivileged-", dir="/tmp"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:  # give back what a test took away
            if not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def run_unprivileged(
    code: str, *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (Python) in a real process without root's rights; its output."""
    drop = f"os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})\n" if is_root() else ""
    script = f"import os\n{PRELOAD}\n{drop}{code}"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
