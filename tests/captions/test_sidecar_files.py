"""A caption write killed half-way: the sidecar is the old text or the new one, whole,
and loragate knows which (a real subprocess, really killed with SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.captions.store import load_captions, outside_of, resolve_outside, save_text
from app.dataset.records import rows_by_id
from app.settings import REPO_ROOT, Settings
from app.workspace import Workspace
from tests.captions.caption_projects import caption_project, image_id, mira_intent, sidecar

# The child saves one caption through the real code, pausing at ``where`` (announced
# through a file) so the parent can kill it there:
# - "rename": the temp file is written and fsynced, the rename has not happened;
# - "commit": the rename happened, the database transaction has not committed.
CHILD = r"""
import os, sys, time
from pathlib import Path
import app.fsutil

signal_file, where, slug, image_id, version, text = sys.argv[1:7]

def pause():
    Path(signal_file).write_text("paused")
    time.sleep(120)

if where == "rename":
    real_replace = os.replace
    def paused_replace(src, dst):
        pause()
        real_replace(src, dst)
    os.replace = paused_replace
else:
    real_fsync_dir = app.fsutil.fsync_dir
    def paused_fsync_dir(directory):
        real_fsync_dir(directory)
        pause()
    app.fsutil.fsync_dir = paused_fsync_dir

from app.captions.store import save_text
from app.projects import get_project
from app.settings import Settings
from app.workspace import Workspace

workspace = Workspace(Settings())
ctx = workspace.context(get_project(workspace, slug))
save_text(ctx, int(image_id), text, int(version))
"""


def _kill_while_saving(
    settings: Settings, tmp_path: Path, where: str, slug: str, image: int, version: int, text: str
) -> None:
    signal_file = tmp_path / f"paused-{where}"
    env = os.environ | {
        "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
        "LORAGATE_DATA_DIR": str(settings.data_dir),
    }
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(signal_file),
            where,
            slug,
            str(image),
            str(version),
            text,
        ],
        cwd=REPO_ROOT,
        env=env,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not signal_file.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"the child never paused: {child.stderr.read().decode()}")  # type: ignore[union-attr]
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    child.stderr.close()  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["rename", "commit"])
def test_a_killed_write_leaves_a_whole_caption_and_loses_nothing(
    workspace: Workspace, settings: Settings, make_intent, tmp_path: Path, where: str
) -> None:  # type: ignore[no-untyped-def]
    old = "zkmira, red scarf, standing"
    ctx = caption_project(workspace, mira_intent(make_intent), [old])
    path = "10_mira/000.png"
    image = image_id(ctx, path)
    version = load_captions(ctx)[image].version
    # Long enough that a torn write would show: nearly the longest caption loragate saves.
    new_body = ", ".join(f"detail {n}" for n in range(330))
    new = f"zkmira, {new_body}"

    _kill_while_saving(settings, tmp_path, where, ctx.project.slug, image, version, new)

    on_disk = sidecar(ctx, path).read_text("utf-8")
    caption = load_captions(ctx)[image]
    assert caption.text == old and caption.version == version  # the transaction never committed
    (row,) = rows_by_id(ctx, [image])
    if where == "rename":
        assert on_disk == old  # the old caption, whole
        assert outside_of(ctx, row, caption) is None  # and loragate agrees with the file
        leftovers = [p.name for p in sidecar(ctx, path).parent.iterdir() if p.suffix == ".tmp"]
        assert len(leftovers) == 1 and leftovers[0].startswith(".")  # hidden: trainers skip it
        assert save_text(ctx, image, "zkmira, blue scarf", version).changed  # works again
    else:
        assert on_disk == new  # the new caption, whole
        change = outside_of(ctx, row, caption)
        assert change is not None and change.text == new  # shown to the artist, not lost
        kept = resolve_outside(ctx, image, "file")
        assert kept is not None and kept.text == new and kept.status == "draft"
