"""The real native trainer on the tiny SD 1.5, through a real server and its worker:
started with the gates passed and the cost confirmed, streamed over SSE to a client
that drops the connection midway and reconnects (nothing lost, nothing twice); and a
server SIGKILLed mid-run (the run is adopted by the next server), then the run's own
processes killed (interrupted, said plainly), resumed to completion with a continuous
step count."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from app.models import Run
from app.runs.records import get_run, run_dir
from app.worker.process import is_alive
from app.workspace import ProjectContext, Workspace
from tests.runs.project import training_project
from tests.worker.conftest import Server, read_job, stored_events, wait_for
from tests.worker.test_stream import read_events

TOTAL = 6
TIMEOUT = 300


def _start(server: Server, slug: str) -> int:
    response = httpx.post(
        f"{server.url}/projects/{slug}/runs",
        data={"confirm": ""},
        headers={"Origin": server.url},
        follow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rstrip("/").rsplit("/", 1)[1])


def _run(ctx: ProjectContext, number: int) -> Run:
    run = get_run(ctx, number)
    assert run is not None
    return run


def _steps(workspace: Workspace, run: Run) -> list[int]:
    return [
        json.loads(event.data)["step"]
        for job_id in run.job_ids
        for event in stored_events(workspace, job_id)
        if event.type == "step"
    ]


def test_a_run_trains_and_streams_to_a_client_that_reconnects(
    workspace: Workspace, tiny_sd15: Path, servers: Callable[[], Server]
) -> None:
    ctx = training_project(workspace, tiny_sd15)
    server = servers()
    number = _start(server, ctx.project.slug)
    url = f"{server.url}/projects/{ctx.project.slug}/runs/{number}/events"
    first = read_events(url, stop_after=6)
    rest = read_events(url, headers={"Last-Event-ID": str(first[-1][0])})
    received = first + rest
    run = _run(ctx, number)
    stored = [event.id for job_id in run.job_ids for event in stored_events(workspace, job_id)]
    assert [event_id for event_id, _, _ in received] == stored
    assert [data["step"] for _, kind, data in received if kind == "step"] == list(
        range(1, TOTAL + 1)
    )
    step = next(data for _, kind, data in received if kind == "step")
    for key in ("loss", "smoothed_loss", "lr", "seconds_per_step", "eta_seconds", "cost"):
        assert key in step
    assert step["vram_used_gb"] is None and step["gpu_util"] is None  # a CPU run: no NVML
    assert rest[-1][1] == "end" and rest[-1][2]["state"] == "done"
    assert run.state == "finished" and run.step == TOTAL
    folder = run_dir(ctx, number)
    assert (folder / run.output_files[0]).is_file()
    assert [c["step"] for c in run.checkpoints] == [2, 4]
    page = httpx.get(f"{server.url}/projects/{ctx.project.slug}/runs/{number}").text
    assert "Finished" in page and f"runs/{number}/{run.output_files[0]}" in page
    journal = (ctx.dir / "journal.md").read_text()
    assert f"Training run {number} started" in journal
    assert f"Training run {number} finished after {TOTAL} steps" in journal


def test_a_killed_server_adopts_the_run_and_a_killed_run_resumes_to_the_end(
    workspace: Workspace, tiny_sd15: Path, servers: Callable[[], Server]
) -> None:
    total = 30  # long enough that both kills land mid-run
    ctx = training_project(workspace, tiny_sd15, epochs=total // 2)
    first_server = servers()
    number = _start(first_server, ctx.project.slug)
    job_id = _run(ctx, number).job_ids[0]
    wait_for(lambda: len(_steps(workspace, _run(ctx, number))) >= 1, TIMEOUT, "a step")
    first_server.kill()

    job = read_job(workspace, job_id)
    assert is_alive(job.pid, job.process_started)  # the run outlived its server
    before = len(_steps(workspace, _run(ctx, number)))
    second_server = servers()
    # Adopted: the new server stores the steps the trainer goes on making.
    wait_for(lambda: len(_steps(workspace, _run(ctx, number))) > max(before, 2), TIMEOUT, "steps")
    page = httpx.get(f"{second_server.url}/projects/{ctx.project.slug}/runs/{number}").text
    assert "Training" in page and "lost this run" not in page

    wait_for(lambda: bool(_run(ctx, number).checkpoints), TIMEOUT, "a checkpoint")
    assert _run(ctx, number).step < total
    os.killpg(job.pid or 0, signal.SIGKILL)  # the machine loses the run's processes
    wait_for(lambda: read_job(workspace, job_id).state == "interrupted", 60, "interrupted")
    page = httpx.get(f"{second_server.url}/projects/{ctx.project.slug}/runs/{number}").text
    assert "loragate lost this run" in page and "Resume" in page

    response = httpx.post(
        f"{second_server.url}/projects/{ctx.project.slug}/runs/{number}/resume",
        headers={"Origin": second_server.url},
        follow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 303, response.text
    deadline = time.monotonic() + TIMEOUT
    while _run(ctx, number).state not in ("finished", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
    run = _run(ctx, number)
    assert run.state == "finished", run.message
    assert len(run.job_ids) == 2
    assert _steps(workspace, run) == list(range(1, total + 1))  # no gap, no step twice
    assert (run_dir(ctx, number) / run.output_files[0]).is_file()
