"""`loragate models pull` and `models list` against a fake hub (tests/hub_server.py):
real HTTP, huggingface_hub's real requests, its real cache under HF_HOME."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path

from app.grimoire import load_studio, studio_path
from app.worker import Worker
from app.workspace import Workspace
from tests.hub.conftest import CHECKPOINT, TAGS, Studio, catalogue_entries
from tests.hub_server import write_catalogue

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _pull(studio: Studio, name: str, **env: str) -> tuple[int, dict[str, object]]:
    done = studio.loragate("models", "pull", name, "--json", **env)
    return done.returncode, json.loads(done.stdout)


def _blobs(studio: Studio, repo: str) -> list[Path]:
    folder = studio.hf_home / "hub" / f"models--{repo.replace('/', '--')}" / "blobs"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_pull_downloads_into_the_hub_cache_with_progress_and_records_it(
    hub_studio: Studio,
) -> None:
    hub_studio.hub.slow_after, hub_studio.hub.slow_delay = 0, 0.02  # a second or so
    status, result = _pull(hub_studio, "tiny-sd15")
    assert status == 0, result
    path = Path(str(result["path"]))
    expected = hub_studio.hf_home / "hub/models--test--tiny-sd15/snapshots" / COMMIT
    assert path == expected / "tiny.safetensors"
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(CHECKPOINT).digest()
    assert result["family"] == "sd15" and result["commit"] == COMMIT

    # studio.md names it; a project can use it by that name.
    entry = load_studio(hub_studio.settings.grimoire_dir).base_model("tiny-sd15")
    assert entry is not None
    assert (entry.path, entry.family, entry.source, entry.revision) == (
        str(path),
        "sd15",
        "test/tiny-sd15",
        COMMIT,
    )
    text = studio_path(hub_studio.settings.grimoire_dir).read_text()
    assert text.endswith("leaves this part alone.\n")  # the body is untouched

    # The job reported the bytes as they arrived, up to the whole file.
    workspace = Workspace(hub_studio.settings)
    try:
        worker = Worker(workspace)
        job = worker.recent()[0]
        progress = [json.loads(e.data) for e in worker.events(job.id or 0, 0)]
    finally:
        workspace.close()
    counts = [p["done"] for p in progress if "done" in p and p.get("total")]
    assert counts[-1] == len(CHECKPOINT) and len(set(counts)) >= 3
    assert counts == sorted(counts)


def test_a_captioner_is_pulled_as_a_folder_and_set_in_studio(hub_studio: Studio) -> None:
    status, result = _pull(hub_studio, "tiny-tagger")
    assert status == 0, result
    folder = Path(str(result["path"]))
    assert (folder / "selected_tags.csv").read_bytes() == TAGS
    assert load_studio(hub_studio.settings.grimoire_dir).captioners.wd14 == str(folder)


def test_a_download_killed_in_the_middle_resumes_where_it_stopped(hub_studio: Studio) -> None:
    hub = hub_studio.hub
    hub.slow_after = 1024 * 1024 + 1  # the first chunk arrives at once, then a trickle
    process = hub_studio.popen("models", "pull", "tiny-sd15")
    workspace = Workspace(hub_studio.settings)
    try:
        deadline = time.monotonic() + 60
        partial = None
        while time.monotonic() < deadline:
            partial = next((b for b in _blobs(hub_studio, "test/tiny-sd15")), None)
            if partial is not None and partial.stat().st_size >= 1024 * 1024:
                break
            time.sleep(0.05)
        assert partial is not None and partial.name.endswith(".incomplete")
        job = Worker(workspace).recent()[0]
        assert job.pid
        os.killpg(job.pid, signal.SIGKILL)  # the child dies mid-file, as on a power cut
        process.communicate(timeout=60)
        kept = partial.stat().st_size
        assert 0 < kept < len(CHECKPOINT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        workspace.close()

    hub.slow_after = None
    hub.requests.clear()
    status, result = _pull(hub_studio, "tiny-sd15")
    assert status == 0, result
    ranges = [r.range for r in hub.requests if r.method == "GET"]
    assert ranges and ranges[0] == f"bytes={kept}-"
    assert result["downloaded"] == len(CHECKPOINT) - kept
    assert Path(str(result["path"])).read_bytes() == CHECKPOINT


def test_a_corrupted_byte_is_caught_by_the_hash_and_the_file_deleted(
    hub_studio: Studio,
) -> None:
    hub_studio.hub.repos["test/tiny-sd15"].corrupt.add("tiny.safetensors")
    status, result = _pull(hub_studio, "tiny-sd15")
    assert status == 1
    assert "does not match the hub's checksum" in str(result["error"])
    assert "deleted" in str(result["error"])
    assert _blobs(hub_studio, "test/tiny-sd15") == []
    assert load_studio(hub_studio.settings.grimoire_dir).base_model("tiny-sd15") is None


def test_a_gated_repository_is_explained_with_its_page_and_the_login(
    hub_studio: Studio,
) -> None:
    status, result = _pull(hub_studio, "tiny-gated")
    assert status == 1
    error = str(result["error"])
    assert "is gated" in error
    assert "https://huggingface.co/test/tiny-gated" in error
    assert "huggingface-cli login" in error
    assert [r.method for r in hub_studio.hub.requests] == ["HEAD"]


def test_not_enough_disk_is_refused_before_any_request(hub_studio: Studio) -> None:
    write_catalogue(hub_studio.settings.models_catalogue, catalogue_entries(huge=True))  # type: ignore[arg-type]
    status, result = _pull(hub_studio, "tiny-sd15")
    assert status == 1
    error = str(result["error"])
    assert "Not enough disk space for Tiny SD 1.5" in error and "free" in error
    assert hub_studio.hub.requests == []


def test_offline_with_a_warm_cache_finds_the_model_without_a_request(
    hub_studio: Studio,
) -> None:
    assert _pull(hub_studio, "tiny-sd15")[0] == 0
    hub_studio.hub.requests.clear()

    listed = hub_studio.loragate("models", "list", "--json", HF_HUB_OFFLINE="1")
    found = {m["name"]: m for m in json.loads(listed.stdout)["found"]}
    assert found["tiny-sd15"]["family"] == "sd15"
    assert found["tiny-sd15"]["revision"] == COMMIT
    status, result = _pull(hub_studio, "tiny-sd15", HF_HUB_OFFLINE="1")
    assert status == 0 and "found in the Hugging Face cache" in str(result["message"])

    status, result = _pull(hub_studio, "tiny-tagger", HF_HUB_OFFLINE="1")
    assert status == 1 and "HF_HUB_OFFLINE" in str(result["error"])
    assert hub_studio.hub.requests == []
