"""Benchmark: grouping near-duplicate perceptual hashes.

    .venv/bin/python bench/dedup.py [--sizes 10000 100000] [--threshold 10]

For each size it makes that many random 64-bit hashes in which 1% are planted near
copies of another hash (1 to ``threshold`` bits flipped, anywhere in the array), then
times loragate's grouping (``near_pairs``: vectorised XOR + popcount over tiles of the
all-pairs matrix on every core, then union-find) and checks recall: every planted pair
must end up in one group. The named baseline is the Python double loop over all pairs,
timed on 2,000 hashes and extrapolated (it is quadratic). Target: 10,000 hashes in
under 1 s. Nothing here is part of the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.dataset.duplicates import UnionFind, near_pairs


def planted(count: int, threshold: int, seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, size=count, dtype=np.uint64)
    pairs_wanted = count // 100
    positions = rng.permutation(count)
    sources, copies = positions[:pairs_wanted], positions[pairs_wanted : 2 * pairs_wanted]
    pairs = []
    for source, copy in zip(sources, copies, strict=True):
        flips = rng.choice(64, size=int(rng.integers(1, threshold + 1)), replace=False)
        mask = np.uint64(sum(1 << int(bit) for bit in flips))
        hashes[copy] = hashes[source] ^ mask
        pairs.append((int(source), int(copy)))
    return hashes, pairs


def group(hashes: np.ndarray, threshold: int) -> tuple[UnionFind, int]:
    pairs = near_pairs(hashes, threshold)
    union = UnionFind(len(hashes))
    for a, b in pairs.tolist():
        union.union(a, b)
    return union, len(pairs)


def python_double_loop_seconds(count: int, threshold: int) -> float:
    """Seconds the naive double loop takes on ``count`` hashes (extrapolated)."""
    sample = 2000
    values = [int(v) for v in planted(sample, threshold, seed=1)[0]]
    started = time.perf_counter()
    for i in range(sample):
        a = values[i]
        for j in range(i + 1, sample):
            if (a ^ values[j]).bit_count() <= threshold:
                pass
    elapsed = time.perf_counter() - started
    return elapsed * (count * (count - 1)) / (sample * (sample - 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--threshold", type=int, default=10)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; threshold {args.threshold} bits; NumPy {np.__version__}")
    for count in args.sizes:
        hashes, pairs = planted(count, args.threshold)
        started = time.perf_counter()
        union, found = group(hashes, args.threshold)
        elapsed = time.perf_counter() - started
        recalled = sum(1 for a, b in pairs if union.find(a) == union.find(b))
        baseline = python_double_loop_seconds(count, args.threshold)
        print(
            f"{count:>7,} hashes: grouped in {elapsed:.3f} s "
            f"({count * (count - 1) // 2 / elapsed / 1e6:,.0f} M pairs/s); "
            f"recall {recalled}/{len(pairs)} planted pairs "
            f"({'all found' if recalled == len(pairs) else 'MISSED SOME'}); "
            f"{found} pairs within the threshold; "
            f"Python double loop ≈ {baseline:,.0f} s ({baseline / elapsed:,.0f}× slower)"
        )
        if count == 10_000:
            print(f"  target: 10,000 in under 1 s: {'met' if elapsed < 1 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
