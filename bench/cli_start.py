"""Benchmark: how long a `loragate` command takes from start to exit, against the goal.

    .venv/bin/python bench/cli_start.py [--runs 5] [--top 8]

Each command runs as a real subprocess (``python -m app ...``) against a throwaway
grimoire and database, ``--runs`` times after one warm-up (the first run creates and
migrates the database and writes the byte-code caches an installed copy has); the median
wall time is printed against the goal of 0.5 s, with the median CPU time (user + system)
beside it: on a machine other programs keep busy, the wall time waits for a core and the
CPU time says what the command itself costs.
Then, for each command, the packages that cost it the most to import (``python -X
importtime``: the cumulative time of each top-level package the command loads, its own
and everything it pulls in). A command should import only what it uses: the audit of an
empty folder needs neither SciPy nor the database. Nothing here is part of the tests.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 0.5
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def commands(empty: Path) -> dict[str, list[str]]:
    return {
        "audit EMPTY_DIR": [
            *("audit", str(empty), "--type", "style", "--trigger", "zq", "--family", "sdxl")
        ],
        "project list": ["project", "list"],
        "jobs": ["jobs"],
    }


def run_once(args: list[str], env: dict[str, str], extra: tuple[str, ...] = ()) -> str:
    result = subprocess.run(
        [sys.executable, *extra, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode not in (0, 1):  # 1: the empty folder's audit is blocked
        raise SystemExit(f"loragate {' '.join(args)} failed:\n{result.stderr}")
    return result.stderr


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_times(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """(wall, CPU) medians in seconds."""
    run_once(args, env)  # warm-up: the database, the byte-code and file caches
    walls, cpus = [], []
    for _ in range(runs):
        cpu, started = _children_cpu(), time.perf_counter()
        run_once(args, env)
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def top_imports(args: list[str], env: dict[str, str], top: int) -> list[tuple[str, float]]:
    """(package, seconds) of the top-level packages that cost the command most."""
    costs: dict[str, int] = {}
    for line in run_once(args, env, ("-X", "importtime")).splitlines():
        match = IMPORT_LINE.match(line)
        if match is None:
            continue
        name = match.group(4)
        root = name.split(".")[0]
        if root == "app" and name.count(".") <= 1:
            root = name  # loragate's own packages, one by one
        elif root == "app":
            continue
        # The outermost import of a package carries all of it (nested ones are inside).
        costs[root] = max(costs.get(root, 0), int(match.group(2)))
    ranked = sorted(costs.items(), key=lambda item: item[1], reverse=True)[:top]
    return [(name, micros / 1e6) for name, micros in ranked]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=8)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loragate-bench-cli-") as scratch:
        base = Path(scratch)
        grimoire = base / "grimoire"
        shutil.copytree(ROOT / "grimoire", grimoire, ignore=shutil.ignore_patterns("training"))
        (grimoire / "training").mkdir()
        empty = base / "empty"
        empty.mkdir()
        # Byte-code caches on, as for anyone who installed loragate.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {
            "LORAGATE_GRIMOIRE_DIR": str(grimoire),
            "LORAGATE_DATA_DIR": str(base / "data"),
        }
        print(f"median of {options.runs} runs, each a fresh process (goal: under {GOAL_S} s)")
        for label, args in commands(empty).items():
            wall, cpu = median_times(args, env, options.runs)
            verdict = "ok" if wall < GOAL_S else "over the goal"
            print(
                f"  loragate {label:<20} {wall:.2f} s wall, {cpu:.2f} s CPU  ({verdict})",
                flush=True,
            )
        for label, args in commands(empty).items():
            print(f"\nloragate {label}: the imports that cost most (cumulative)")
            for name, seconds in top_imports(args, env, options.top):
                print(f"  {seconds:6.3f} s  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
