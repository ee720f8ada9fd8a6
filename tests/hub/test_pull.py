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
from app.hub.catalogue import load_catalogue
from app.settings import Settings
from app.worker import Worker
from app.workspace import Workspace
from tests.hub.conftest import CHECKPOINT, TAGS, Studio, catalogue_entries, small_disk_env
from tests.hub_server import Repo, tiny_checkpoint, write_catalogue
from tests.training.helpers import write_checkpoint

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
    studio = load_studio(hub_studio.settings.grimoire_dir)
    assert studio.captioners.wd14 == str(folder)
    # studio.md also says what the folder holds: which model, from where, at which commit.
    [entry] = studio.captioner_models
    assert (entry.name, entry.kind, entry.path, entry.source, entry.revision) == (
        "tiny-tagger",
        "wd14",
        str(folder),
        "test/tiny-tagger",
        COMMIT,
    )
    # Pulled again, the entry is updated where it stands and keeps what was written by hand.
    path = studio_path(hub_studio.settings.grimoire_dir)
    path.write_text(
        path.read_text().replace("    kind: wd14\n", "    kind: wd14\n    notes: mine\n")
    )
    assert _pull(hub_studio, "tiny-tagger")[0] == 0
    text = path.read_text()
    assert text.count("name: tiny-tagger") == 1 and "notes: mine" in text


def test_the_list_says_which_models_are_not_pinned_to_a_commit(hub_studio: Studio) -> None:
    listed = hub_studio.loragate("models", "list")
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert "newest revision, not pinned" in lines["tiny-sd15"]  # its revision is "main"
    assert "newest revision, not pinned" not in lines["tiny-tagger"]
    data = json.loads(hub_studio.loragate("models", "list", "--json").stdout)
    pinned = {entry["name"]: entry["pinned"] for entry in data["catalogue"]}
    assert pinned == {"tiny-sd15": False, "tiny-tagger": True, "tiny-gated": False}
    # Once here, the commit that arrived is what the list shows.
    assert _pull(hub_studio, "tiny-sd15")[0] == 0
    listed = hub_studio.loragate("models", "list").stdout
    assert f"commit {COMMIT[:12]}" in listed


def test_the_shipped_catalogue_pins_every_model_and_flux_brings_its_parts() -> None:
    catalogue = load_catalogue(Settings(models_catalogue=None))
    # blip-base alone: its pinned commits hold only pickled weights (the TOML says why).
    assert [e.name for e in catalogue.values() if not e.pinned] == ["blip-base"]
    for name in ("flux-dev", "flux-schnell"):
        parts = {item.part: item for item in catalogue[name].parts}
        assert set(parts) == {"clip_l", "t5xxl", "ae"}
        assert catalogue[name].repo_of(parts["t5xxl"]) == "comfyanonymous/flux_text_encoders"


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


def test_a_resumed_download_needs_room_only_for_what_has_not_arrived(
    hub_studio: Studio, tmp_path: Path
) -> None:
    # A 32 MB model on a disk with 16 MB free, 24 MB of which a killed pull left in
    # blobs/*.incomplete: the 8 MB still missing fit, so the pull goes on from there.
    big = tiny_checkpoint(32 * 1024 * 1024)
    hub_studio.hub.repos["test/tiny-sd15"] = Repo({"tiny.safetensors": big})
    entries = catalogue_entries()
    entries[0]["files"] = [("tiny.safetensors", len(big))]
    write_catalogue(hub_studio.settings.models_catalogue, entries)  # type: ignore[arg-type]
    disk = small_disk_env(hub_studio, tmp_path / "small-disk", 16 * 1024 * 1024)

    status, result = _pull(hub_studio, "tiny-sd15", **disk)  # nothing arrived: refused
    assert status == 1 and "Not enough disk space" in str(result["error"])
    assert not [r for r in hub_studio.hub.requests if r.method == "GET"]

    kept = 24 * 1024 * 1024
    blobs = hub_studio.hf_home / "hub" / "models--test--tiny-sd15" / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    (blobs / f"{hashlib.sha256(big).hexdigest()}.incomplete").write_bytes(big[:kept])
    status, result = _pull(hub_studio, "tiny-sd15", **disk)
    assert status == 0, result
    ranges = [r.range for r in hub_studio.hub.requests if r.method == "GET"]
    assert ranges == [f"bytes={kept}-"]
    assert result["downloaded"] == len(big) - kept
    assert Path(str(result["path"])).read_bytes() == big


def test_flux_by_name_brings_the_parts_sd_scripts_needs_and_studio_names_them(
    hub_studio: Studio, tmp_path: Path
) -> None:
    flux = write_checkpoint(tmp_path / "flux.safetensors", "flux-dev", 64 * 1024).read_bytes()
    parts = {"clip_l.safetensors": b"clip" * 4096, "t5xxl_fp16.safetensors": b"t5" * 8192}
    ae = b"autoencoder" * 1024
    hub_studio.hub.repos["test/tiny-flux"] = Repo(
        {"flux1-dev.safetensors": flux, "ae.safetensors": ae}
    )
    hub_studio.hub.repos["test/encoders"] = Repo(parts, commit="f" * 40)
    encoders = {"repo": "test/encoders", "revision": "f" * 40}
    write_catalogue(
        hub_studio.settings.models_catalogue,  # type: ignore[arg-type]
        [
            {
                "name": "tiny-flux",
                "title": "Tiny Flux",
                "kind": "base",
                "family": "flux",
                "repo": "test/tiny-flux",
                "revision": COMMIT,
                "files": [
                    ("flux1-dev.safetensors", len(flux)),
                    {"name": "ae.safetensors", "size": len(ae), "part": "ae"},
                    {"name": "clip_l.safetensors", "size": 16384, "part": "clip_l", **encoders},
                    {"name": "t5xxl_fp16.safetensors", "size": 16384, "part": "t5xxl", **encoders},
                ],
            }
        ],
    )
    status, result = _pull(hub_studio, "tiny-flux")
    assert status == 0, result
    entry = load_studio(hub_studio.settings.grimoire_dir).base_model("tiny-flux")
    assert entry is not None and entry.family == "flux" and entry.revision == COMMIT
    assert set(entry.parts) == {"clip_l", "t5xxl", "ae"}
    assert Path(entry.parts["ae"]).read_bytes() == ae
    assert Path(entry.parts["clip_l"]).read_bytes() == parts["clip_l.safetensors"]
    assert Path(entry.parts["t5xxl"]).read_bytes() == parts["t5xxl_fp16.safetensors"]
    assert "models--test--encoders/snapshots/" + "f" * 40 in entry.parts["t5xxl"]


def test_a_corrupted_part_from_another_repository_is_caught_by_the_hash(
    hub_studio: Studio,
) -> None:
    hub_studio.hub.repos["test/encoders"] = Repo({"clip_l.safetensors": b"clip" * 4096})
    hub_studio.hub.repos["test/encoders"].corrupt.add("clip_l.safetensors")
    entries = catalogue_entries()
    entries[0]["files"] = [
        ("tiny.safetensors", len(CHECKPOINT)),
        {"name": "clip_l.safetensors", "size": 16384, "part": "clip_l", "repo": "test/encoders"},
    ]
    write_catalogue(hub_studio.settings.models_catalogue, entries)  # type: ignore[arg-type]
    status, result = _pull(hub_studio, "tiny-sd15")
    assert status == 1
    assert "clip_l.safetensors of test/encoders does not match" in str(result["error"])
    assert load_studio(hub_studio.settings.grimoire_dir).base_model("tiny-sd15") is None
