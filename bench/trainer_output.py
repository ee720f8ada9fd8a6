"""Benchmark: a trainer's output through the splitter and the parser.

    .venv/bin/python bench/trainer_output.py [--lines 100000]

For each backend, a log of ``--lines`` lines as that trainer writes them (mostly tqdm
redraws separated by ``\\r``, with save lines, log lines and a traceback mixed in) is
cut into 64 KiB reads, split and parsed; prints lines per second of this process's CPU
time (wall time on a shared machine measures the neighbours) against the goal of
200,000 (a 100,000-step run's log must parse in well under a second per 10,000 lines).
Nothing here is part of the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.training.trainer_output import LineSplitter, parse_line  # noqa: E402

GOAL_LINES_PER_S = 200_000
READ = 65_536


def _bar(desc: str, step: int, total: int, postfix: str) -> str:
    done = step * 10 // total
    return (
        f"\r{desc}: {step * 100 // total:3d}%|{'█' * done}{' ' * (10 - done)}| {step}/{total} "
        f"[01:02<03:04,  1.23s/it, {postfix}]"
    )


def log(backend: str, lines: int) -> bytes:
    """About ``lines`` lines of ``backend``'s output."""
    parts: list[str] = []
    for step in range(1, lines + 1):
        if backend == "native":
            record = {"event": "step", "time": 1.0, "step": step, "total": lines, "epoch": 1}
            record |= {"loss": 0.1, "smoothed_loss": 0.1, "lr": 1e-4, "seconds_per_step": 0.5}
            parts.append(json.dumps(record) + "\n")
        elif backend == "kohya":
            parts.append(_bar("steps", step, lines, f"avr_loss={0.1 + 1 / step:.3g}"))
        elif backend == "simpletuner":
            parts.append(_bar("Epoch 1/3, Steps", step, lines, "lr=0.0001, step_loss=0.0712"))
        else:
            parts.append(_bar("ink_wash", step, lines, "lr: 1.0e-04 loss: 1.234e-01"))
        if step % 500 == 0:
            parts.append("\nsaving checkpoint: /out/ink-step00000500.safetensors\n")
            parts.append("2026-01-01 10:00:00 INFO     a log line               train_util.py:1\n")
    parts.append('\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>\n')
    parts.append("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    return "".join(parts).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    worst = float("inf")
    for backend in ("native", "kohya", "simpletuner", "ai-toolkit"):
        data = log(backend, args.lines)
        started = time.process_time()
        splitter, count, events = LineSplitter(), 0, 0
        for at in range(0, len(data), READ):
            for line in splitter.feed(data[at : at + READ]):
                count += 1
                events += parse_line(backend, line) is not None
        for line in splitter.close():
            count += 1
            events += parse_line(backend, line) is not None
        elapsed = time.process_time() - started
        rate = count / elapsed
        worst = min(worst, rate)
        print(
            f"{backend:12} {count:8,} lines, {events:8,} events in {elapsed:6.3f} s: "
            f"{rate:10,.0f} lines/s (goal ≥ {GOAL_LINES_PER_S:,})"
        )
    passed = worst >= GOAL_LINES_PER_S
    print(f"slowest backend: {worst:,.0f} lines/s: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
