"""A download started from a page can be stopped from its box, and Download then
continues from the bytes that arrived (fake hub, tests/hub_server.py; a real worker
child; huggingface_hub's real cache)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.worker import Worker
from tests.conftest import BASE_URL
from tests.hub.conftest import CHECKPOINT, Studio, catalogue_entries
from tests.hub_server import write_catalogue

HTMX = {"HX-Request": "true"}


@pytest.fixture
def hub_client(hub_studio: Studio, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for key, value in hub_studio.env.items():
        if key.startswith(("HF_", "LORAGATE_")):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with TestClient(create_app(hub_studio.settings), base_url=BASE_URL) as client:
        yield client


def _incomplete(studio: Studio) -> Path | None:
    blobs = studio.hf_home / "hub" / "models--test--tiny-sd15" / "blobs"
    return next(blobs.glob("*.incomplete"), None) if blobs.exists() else None


def _wait(jobs: Worker, job_id: int, states: set[str]) -> str:
    deadline = time.monotonic() + 60
    while (job := jobs.get(job_id)) is not None and job.state not in states:
        assert time.monotonic() < deadline, job.state
        time.sleep(0.05)
    assert job is not None
    return job.state


def test_a_download_cancelled_from_its_box_continues_where_it_stopped(
    hub_client: TestClient, hub_studio: Studio
) -> None:
    hub = hub_studio.hub
    hub.slow_after = 1024 * 1024 + 1  # the first megabyte at once, then a trickle
    box = hub_client.post("/models/pull", data={"model": "tiny-sd15"}, headers=HTMX)
    assert box.status_code == 200 and "Cancel download" in box.text
    jobs: Worker = hub_client.app.state.jobs  # type: ignore[attr-defined]
    job_id = jobs.recent()[0].id
    deadline = time.monotonic() + 60
    while (partial := _incomplete(hub_studio)) is None or partial.stat().st_size < 1024 * 1024:
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.05)

    stopped = hub_client.post(
        f"/models/jobs/{job_id}/cancel", data={"page": "interview"}, headers=HTMX
    )
    assert stopped.status_code == 200 and "Cancel download" not in stopped.text
    assert _wait(jobs, job_id, {"cancelled", "done", "failed"}) == "cancelled"
    box = hub_client.get(f"/models/jobs/{job_id}", params={"page": "interview"})
    assert "Press Download again to continue where it stopped" in box.text
    kept = partial.stat().st_size
    assert 0 < kept < len(CHECKPOINT)

    hub.slow_after = None
    hub.requests.clear()
    hub_client.post("/models/pull", data={"model": "tiny-sd15"}, headers=HTMX)
    again = jobs.recent()[0]
    assert again.id != job_id
    assert _wait(jobs, again.id, {"cancelled", "done", "failed"}) == "done"
    ranges = [r.range for r in hub.requests if r.method == "GET"]
    assert ranges and ranges[0] == f"bytes={kept}-"


def test_cancelling_a_download_that_does_not_exist_is_a_404(hub_client: TestClient) -> None:
    assert hub_client.post("/models/jobs/999/cancel", headers=HTMX).status_code == 404


def test_the_interview_says_which_models_are_not_pinned_and_what_comes_with_them(
    hub_client: TestClient, hub_studio: Studio
) -> None:
    entries = catalogue_entries()
    entries[0]["files"] = [
        ("tiny.safetensors", len(CHECKPOINT)),
        {"name": "ae.safetensors", "size": 1024, "part": "ae"},
    ]
    write_catalogue(hub_studio.settings.models_catalogue, entries)  # type: ignore[arg-type]
    page = hub_client.get("/projects/new").text
    offered = {
        name: item for name, item in re.findall(r'<li data-model="([^"]+)">(.*?)</li>', page, re.S)
    }
    assert "newest revision, not pinned" in offered["tiny-sd15"]  # its revision is "main"
    assert "with its ae" in offered["tiny-sd15"]
    pinned = entries[0] | {"name": "tiny-pinned", "revision": "0123456789abcdef" * 2 + "01234567"}
    write_catalogue(hub_studio.settings.models_catalogue, [pinned])  # type: ignore[arg-type]
    page = hub_client.get("/projects/new").text
    assert 'data-model="tiny-pinned"' in page and "not pinned" not in page
