"""Seconds per step of the native trainer under the run supervisor against the trainer
run bare, on the same tiny SD 1.5-shaped model, data and settings, in one run.

Under the supervisor: a real server (uvicorn, as `loragate serve` runs it) whose
worker runs the "training.run" job: the supervisor child launches the trainer, parses
its output, writes each step as an event that the server stores in SQLite, while an
SSE client stays attached to the run's event stream; pynvml sampling is off (a CPU
run). Bare: ``python -m app.training.native job.json`` with the same job, its stdout
read by this script. The figure per run is the wall time between the first and the
last step's event divided by the steps between them (model loading and the final save
are the same in both and left out). Runs alternate to even out a busy machine; medians
over the rounds are reported. Goal: overhead under 5 %.

The images and the resolution default to 256 px, where a step of the tiny model takes a
few tenths of a second on a CPU, as a real model's does on a GPU. At the tests' 64 px a
step takes about 20 ms, and the fixed cost of each step's event (parsed, written,
stored by the server, sent to the SSE client: a few milliseconds of CPU on a machine
where they compete with the trainer for the same cores) is 10-20 % of that.

    .venv/bin/python bench/run_overhead.py [--epochs 50] [--rounds 3] [--resolution 128]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.runs.records import get_run, run_dir
from app.runs.start import start_training
from app.settings import REPO_ROOT, Settings
from app.worker import Worker
from app.workspace import Workspace
from tests.live_server import free_port, wait_until_serving
from tests.runs.project import training_project
from tests.tiny_models import build_tiny_sd15

GOAL = 0.05


def per_step(times: list[float]) -> float:
    return (times[-1] - times[0]) / (len(times) - 1)


def bare(job_path: Path, output: Path) -> float:
    shutil.rmtree(output, ignore_errors=True)
    job = json.loads(job_path.read_text()) | {"output_dir": str(output), "resume": False}
    fresh = job_path.with_name("bare.json")
    fresh.write_text(json.dumps(job))
    result = subprocess.run(
        [sys.executable, "-m", "app.training.native", str(fresh)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    times = [
        event["time"]
        for event in map(json.loads, result.stdout.splitlines())
        if event.get("event") == "step"
    ]
    return per_step(times)


def supervised(
    workspace: Workspace, base: Path, name: str, url: str, epochs: int, resolution: int
) -> tuple[float, Path]:
    ctx = training_project(
        workspace,
        base,
        name=name,
        epochs=epochs,
        save_every_n_steps=None,
        resolution=resolution,
        max_bucket_reso=max(128, resolution),
        image_side=resolution,
    )
    run = start_training(ctx, Worker(workspace))
    received: list[float] = []

    def listen() -> None:
        events_url = f"{url}/projects/{ctx.project.slug}/runs/{run.number}/events"
        with httpx.stream("GET", events_url, timeout=None) as response:
            for line in response.iter_lines():
                if line.startswith("event: end"):
                    return
                if line.startswith("data: ") and '"type": "step"' in line:
                    received.append(json.loads(line[6:])["t"])

    client = threading.Thread(target=listen, daemon=True)
    client.start()
    client.join()
    stored = get_run(ctx, run.number)
    assert stored is not None and stored.state == "finished", stored and stored.message
    return per_step(received), run_dir(ctx, run.number) / "job.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=40, help="2 steps an epoch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--resolution",
        type=int,
        default=256,
        help="the images' side and the training resolution, in pixels: steps of a few "
        "tenths of a second, closer to a real run's than the tests' 64 px",
    )
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    root = Path(tempfile.mkdtemp(prefix="run-overhead-"))
    server = None
    try:
        shutil.copytree(
            REPO_ROOT / "grimoire", root / "grimoire", ignore=shutil.ignore_patterns("training")
        )
        (root / "grimoire" / "training").mkdir()
        settings = Settings(grimoire_dir=root / "grimoire", data_dir=root / "data")
        workspace = Workspace(settings)
        base = build_tiny_sd15(root / "sd15")
        port = free_port()
        env = os.environ | {
            "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
            "LORAGATE_DATA_DIR": str(settings.data_dir),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "app.main:create_app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO_ROOT,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        if not wait_until_serving(url, server):
            raise SystemExit("the server did not start")
        under, alone = [], []
        for index in range(args.rounds):
            seconds, job_path = supervised(
                workspace, base, f"Bench {index}", url, args.epochs, args.resolution
            )
            under.append(seconds)
            alone.append(bare(job_path, root / f"bare-{index}"))
            print(
                f"round {index + 1}: supervised {under[-1]:.3f} s/step, bare {alone[-1]:.3f} s/step"
            )
        supervised_median, bare_median = statistics.median(under), statistics.median(alone)
        overhead = supervised_median / bare_median - 1
        steps = args.epochs * 2
        print(
            f"native trainer, tiny SD 1.5 at {args.resolution} px, {steps} steps, CPU: supervised {supervised_median:.3f} "
            f"s/step, bare {bare_median:.3f} s/step, overhead {overhead * 100:+.1f} % "
            f"(goal under {GOAL * 100:.0f} %): {'met' if overhead < GOAL else 'NOT met'}"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
