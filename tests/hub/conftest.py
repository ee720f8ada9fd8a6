"""A fake hub (tests/hub_server.py) holding a tiny SD 1.5 checkpoint, a tiny tagger and a
gated repository, a catalogue naming them, and the environment a `loragate` subprocess
needs to use both: HF_ENDPOINT at the fake hub, HF_HOME in the test's folder, no token."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.settings import REPO_ROOT, Settings
from tests.hub_server import FakeHub, Repo, tiny_checkpoint, write_catalogue

CHECKPOINT = tiny_checkpoint(3 * 1024 * 1024)
TAGS = b"tag_id,name,category,count\n1,1girl,0,100\n2,solo,0,90\n"
ONNX = b"\x08\x07" + bytes(range(256)) * 64  # only its bytes matter: it is never run


@dataclass
class Studio:
    hub: FakeHub
    env: dict[str, str]
    settings: Settings
    hf_home: Path

    def loragate(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=REPO_ROOT,
            env=self.env | env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


SMALL_DISK = """\
import os
import shutil

_disk_usage = shutil.disk_usage


def _small_disk(path):
    usage = _disk_usage(path)
    return usage._replace(free=min(usage.free, int(os.environ["LORAGATE_TEST_DISK_FREE"])))


shutil.disk_usage = _small_disk
"""


def small_disk_env(studio: Studio, folder: Path, free: int) -> dict[str, str]:
    """The environment of a loragate whose disk has ``free`` bytes free, and of every
    process it starts (the pull runs in a worker child): a ``sitecustomize`` on
    PYTHONPATH lowers what ``shutil.disk_usage`` reports. A full disk is a boundary this
    machine cannot reach on demand; the real check, ``app.hub.pull.check_space``, runs."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SMALL_DISK)
    path = os.pathsep.join(p for p in (str(folder), studio.env.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "LORAGATE_TEST_DISK_FREE": str(free)}


def catalogue_entries(huge: bool = False) -> list[dict[str, object]]:
    return [
        {
            "name": "tiny-sd15",
            "title": "Tiny SD 1.5",
            "kind": "base",
            "family": "sd15",
            "repo": "test/tiny-sd15",
            "revision": "main",
            "licence": "MIT",
            "licence_url": "https://example.invalid/licence",
            "gated": False,
            "files": [("tiny.safetensors", 10**18 if huge else len(CHECKPOINT))],
        },
        {
            "name": "tiny-tagger",
            "title": "Tiny WD14 tagger",
            "kind": "captioner",
            "captioner": "wd14",
            "repo": "test/tiny-tagger",
            "revision": "0123456789abcdef0123456789abcdef01234567",
            "licence": "Apache-2.0",
            "licence_url": "https://example.invalid/licence",
            "gated": False,
            "files": [("model.onnx", len(ONNX)), ("selected_tags.csv", len(TAGS))],
        },
        {
            "name": "tiny-gated",
            "title": "Tiny gated model",
            "kind": "base",
            "family": "flux",
            "repo": "test/tiny-gated",
            "revision": "main",
            "licence": "Non-commercial",
            "licence_url": "https://example.invalid/licence",
            "gated": True,
            "files": [("flux.safetensors", len(CHECKPOINT))],
        },
    ]


def start_fake_hub() -> FakeHub:
    """The fake hub with the catalogue's three repositories, serving."""
    hub = FakeHub()
    hub.repos["test/tiny-sd15"] = Repo({"tiny.safetensors": CHECKPOINT})
    hub.repos["test/tiny-tagger"] = Repo({"model.onnx": ONNX, "selected_tags.csv": TAGS})
    hub.repos["test/tiny-gated"] = Repo({"flux.safetensors": CHECKPOINT}, gated=True)
    return hub.start()


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = start_fake_hub()
    yield hub
    hub.stop()


def hub_env(hub: FakeHub, settings: Settings, hf_home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGING_FACE_", "LORAGATE_"))
    }
    return env | {
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(hf_home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
        "LORAGATE_DATA_DIR": str(settings.data_dir),
        "LORAGATE_MODELS_CATALOGUE": str(settings.models_catalogue),
    }


@pytest.fixture
def hub_studio(
    fake_hub: FakeHub, settings: Settings, tmp_path: Path, no_leftover_jobs: None
) -> Studio:
    catalogue = write_catalogue(tmp_path / "catalogue.toml", catalogue_entries())
    settings = settings.model_copy(update={"models_catalogue": catalogue})
    hf_home = tmp_path / "hf"
    return Studio(fake_hub, hub_env(fake_hub, settings, hf_home), settings, hf_home)
