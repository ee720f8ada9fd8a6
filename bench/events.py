"""Benchmark: the worker's events, from a child's file to SQLite to an SSE client.

    .venv/bin/python bench/events.py [--events 100000] [--live 100]

Three figures, each printed against its goal (issue 13):
1. storing: a real child (this script's ``burst`` kind, run by ``app.worker``) writes
   ``--events`` JSON lines; the supervisor then stores them from offset 0, timed alone
   (goal: at least 20,000 events/s);
2. replay: a real server (uvicorn in a subprocess) sends those stored events to an SSE
   client that reads until the stream closes (goal: under 2 s);
3. latency: a child writes ``--live`` events at 10 per second while the server's
   supervisor tails them; each event carries its write time, and the client notes when
   it arrives (goal: p95 under 200 ms).
Nothing here is part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.settings import Settings  # noqa: E402
from app.worker import JobHandle, Worker  # noqa: E402
from app.worker.kinds import JobKind, register_kind  # noqa: E402
from app.workspace import Workspace  # noqa: E402

GOAL_STORED_PER_S = 20_000
GOAL_REPLAY_S = 2.0
GOAL_P95_MS = 200.0


def burst(handle: JobHandle) -> dict[str, Any]:
    """Bench-only kind: ``n`` progress events as fast as the child can write them."""
    n = int(handle.params["n"])
    for done in range(1, n + 1):
        handle.event("progress", done=done, total=n, message="Writing")
    return {"written": n}


def tick(handle: JobHandle) -> dict[str, Any]:
    """Bench-only kind: ``n`` events at ``rate`` per second, each with its write time."""
    n, rate = int(handle.params["n"]), float(handle.params["rate"])
    start = time.monotonic()
    for done in range(1, n + 1):
        time.sleep(max(0.0, start + done / rate - time.monotonic()))
        handle.event("progress", done=done, total=n, message="Ticking", sent=time.time())
    return {"written": n}


register_kind("bench.burst", JobKind("bench.events:burst"))
register_kind("bench.tick", JobKind("bench.events:tick"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(settings: Settings, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    env = os.environ | {
        "LORAGATE_GRIMOIRE_DIR": str(settings.grimoire_dir),
        "LORAGATE_DATA_DIR": str(settings.data_dir),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
    command += ["--port", str(port), "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return url, process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(log.read_text())


def frames(response: httpx.Response) -> Any:
    """(id, data) of each SSE frame as it arrives."""
    frame: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(": ")
            frame[name] = value
        elif frame:
            yield int(frame["id"]), frame["data"]
            frame = {}


def stored_rate(worker: Worker, n: int) -> tuple[int, float]:
    job = worker.start("bench.burst", None, {"n": n})
    events = Path(job.events_path)
    while b'"type": "end"' not in events.read_bytes()[-200:]:
        time.sleep(0.05)  # the child writes everything first: then storing is timed alone
    started = time.perf_counter()
    finished = worker.wait(job.id or 0, 600)
    seconds = time.perf_counter() - started
    assert finished is not None and finished.state == "done", finished
    return job.id or 0, n / seconds


def replay(url: str, job_id: int, n: int) -> float:
    started = time.perf_counter()
    with httpx.stream("GET", f"{url}/jobs/{job_id}/events", timeout=60) as response:
        count = sum(1 for _ in frames(response))
    seconds = time.perf_counter() - started
    assert count == n + 1, count  # every progress event and the end
    return seconds


def latency(url: str, worker: Worker, n: int) -> list[float]:
    job = worker.start("bench.tick", None, {"n": n, "rate": 10})
    delays = []
    with httpx.stream("GET", f"{url}/jobs/{job.id}/events", timeout=60) as response:
        for _id, data in frames(response):
            value = json.loads(data)
            if "sent" in value:
                delays.append((time.time() - float(value["sent"])) * 1000)
    return delays


def verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--live", type=int, default=100, help="events for the latency run")
    args = parser.parse_args()
    os.chdir(ROOT)  # the child imports this module as bench.events
    os.environ["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory(prefix="bench-events-") as folder:
        root = Path(folder)
        settings = Settings(grimoire_dir=root / "grimoire", data_dir=root / "data")
        workspace = Workspace(settings)
        worker = Worker(workspace)

        job_id, rate = stored_rate(worker, args.events)
        ok = rate >= GOAL_STORED_PER_S
        print(
            f"storing:  {rate:,.0f} events/s ({args.events:,} lines from a child)  goal >= "
            f"{GOAL_STORED_PER_S:,}/s: {verdict(ok)}"
        )

        url, server = start_server(settings, root / "server.log")
        try:
            seconds = replay(url, job_id, args.events)
            print(
                f"replay:   {seconds:.2f} s for {args.events:,} stored events to an SSE client"
                f"  goal < {GOAL_REPLAY_S:.0f} s: {verdict(seconds < GOAL_REPLAY_S)}"
            )
            delays = latency(url, worker, args.live)
            p95 = statistics.quantiles(delays, n=20)[-1]
            print(
                f"latency:  p50 {statistics.median(delays):.0f} ms, p95 {p95:.0f} ms over "
                f"{len(delays)} events at 10/s (child write to SSE receipt)  goal p95 < "
                f"{GOAL_P95_MS:.0f} ms: {verdict(p95 < GOAL_P95_MS)}"
            )
        finally:
            server.terminate()
            server.wait(10)
            workspace.close()


if __name__ == "__main__":
    main()
