"""Sample images of the external backends reach the run page: the supervisor notices the
images each trainer writes in its own sample folder (sd-scripts ``sample/``, SimpleTuner
``validation_images/``, ai-toolkit ``NAME/samples/``), while the run goes on, and emits
the ``sample`` events the native trainer gives; the run's sample route serves them, and
nothing else (``sample_file``: only image files under that run's folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.runs.records import get_run, run_dir
from app.runs.samples import sample_file
from app.runs.start import start_training
from app.worker import Worker
from app.workspace import Workspace
from tests.runs.fake_trainers import use_fake_trainer
from tests.runs.project import training_project
from tests.runs.test_backends import BACKENDS
from tests.worker.conftest import stored_events

FOLDERS = {
    "kohya": "sample",
    "simpletuner": "validation_images",
    "ai-toolkit": "ink-wash/samples",
}
TYPES = {"kohya": "image/png", "simpletuner": "image/png", "ai-toolkit": "image/jpeg"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_samples_of_an_external_trainer_show_live_and_are_served(
    backend: str,
    workspace: Workspace,
    tiny_sd15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
) -> None:
    use_fake_trainer(workspace, backend, tmp_path / "clone", {"seconds_per_step": 0.7}, monkeypatch)
    ctx = training_project(
        workspace,
        tiny_sd15,
        backend=backend,
        family="sdxl",
        device="cuda",
        resolution=128,
        sample_prompts=["an ink wash heron"],
        sample_every_n_steps=2,
    )
    worker = Worker(workspace)
    run = start_training(ctx, worker)
    job = worker.wait(run.job_id or 0, 120)
    assert job is not None and job.state == "done", job and job.error
    run = get_run(ctx, run.number)  # type: ignore[assignment]
    assert run is not None and run.state == "finished", run and run.message
    events = stored_events(workspace, job.id or 0)
    samples = [json.loads(e.data) for e in events if e.type == "sample"]
    assert [s["step"] for s in samples] == [2, 4, 6]
    assert all(s["path"].startswith(FOLDERS[backend] + "/") for s in samples)
    # Live: the first sample was reported while the trainer was still stepping.
    first_sample = next(e.id for e in events if e.type == "sample")
    last_step = max(e.id for e in events if e.type == "step")
    assert first_sample < last_step
    folder = run_dir(ctx, run.number)
    for sample in samples:
        url = f"/projects/{ctx.project.slug}/runs/{run.number}/samples/{sample['path']}"
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"] == TYPES[backend]
        assert response.content == (folder / sample["path"]).read_bytes()
    page = client.get(f"/projects/{ctx.project.slug}/runs/{run.number}/history.json").json()
    assert [s["path"] for s in page["samples"]] == [s["path"] for s in samples]


def test_the_sample_route_serves_only_images_inside_the_run(
    workspace: Workspace, tiny_sd15: Path, client: TestClient, tmp_path: Path
) -> None:
    ctx = training_project(workspace, tiny_sd15)
    with workspace.db.writing() as session:
        from app.models import Run

        session.add(Run(project_id=ctx.project.id or 0, number=1, backend="native", config={}))
    folder = run_dir(ctx, 1)
    (folder / "sample").mkdir(parents=True)
    (folder / "sample" / "ink_000002_00_20260101100000_42.png").write_bytes(b"\x89PNG sample")
    (folder / "ink.safetensors").write_bytes(b"weights")
    (folder / ".hidden.png").write_bytes(b"\x89PNG")
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG secret")
    (folder / "sample" / "link.png").symlink_to(outside)
    sibling = folder.parent / "10"  # runs/10 starts with runs/1: a sibling, not inside
    sibling.mkdir()
    (sibling / "x.png").write_bytes(b"\x89PNG other run")

    assert sample_file(folder, "sample/ink_000002_00_20260101100000_42.png") is not None
    for bad in (
        "ink.safetensors",  # not an image
        ".hidden.png",
        "../outside.png",
        "sample/../../10/x.png",
        "../10/x.png",
        str(outside),  # absolute
        "sample/link.png",  # a link out of the run's folder
        "sample/a\x00.png",
        "sample//x.png",
        "sample\\x.png",
        "sample/missing.png",
    ):
        assert sample_file(folder, bad) is None, bad

    base = f"/projects/{ctx.project.slug}/runs/1/samples/"
    good = client.get(base + "sample/ink_000002_00_20260101100000_42.png")
    assert good.status_code == 200 and good.content == b"\x89PNG sample"
    for bad in ("ink.safetensors", "sample/link.png", "..%2F10%2Fx.png", "%2E%2E/10/x.png"):
        assert client.get(base + bad).status_code == 404, bad
    assert os.path.exists(outside)  # nothing touched
