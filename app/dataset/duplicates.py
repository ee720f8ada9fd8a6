"""Exact duplicates (the same decoded pixels) and near-duplicates (perceptual hashes
within a Hamming distance), grouped.

Near pairs are found by brute force, but vectorised: the 64-bit hashes sit in a NumPy
``uint64`` array and every tile of the all-pairs matrix is one XOR, one popcount
(``np.bitwise_count``) and one minimum into reused buffers, with no Python loop over
pairs. All pairs are compared, so no pair within the threshold is ever missed. Bands of
tiles run on threads (NumPy releases the GIL).
Pairs are then joined into groups with union-find, so A~B and B~C make one group.

Two images are near-duplicates when both their pHash and their dHash differ in at most
``threshold`` bits: pHash (DCT) survives resizing, re-encoding and brightness changes;
dHash (gradients) adds a second opinion that keeps unrelated look-alikes apart. Hashes of
nearly flat images are unstable (almost all bits 0 or 1) and are left out, as czkawka
does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from app.dataset.check_catalogue import finding
from app.findings import Finding

DEFAULT_NEAR_THRESHOLD = 10
MAX_THRESHOLD = 32
# A tile of the all-pairs matrix: 256 hashes against 8,192 (measured fastest here).
TILE_ROWS = 256
TILE_COLUMNS = 8192
FLAT_BITS = 2  # a hash with at most this many 0 or 1 bits is unstable


def hex_to_int(value: str) -> int:
    return int(value, 16)


def to_signed(value: int) -> int:
    """SQLite stores signed 64-bit integers."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def is_flat(value: int) -> bool:
    ones = value.bit_count()
    return ones <= FLAT_BITS or ones >= 64 - FLAT_BITS


def near_pairs(hashes: np.ndarray, threshold: int, *, threads: int | None = None) -> np.ndarray:
    """Every pair (i, j), i < j, whose hashes differ in at most ``threshold`` bits, as an
    (n, 2) int64 array."""
    values = np.ascontiguousarray(hashes, dtype=np.uint64)
    count = len(values)
    if count < 2:
        return np.empty((0, 2), dtype=np.int64)
    local = threading.local()

    def band(start: int) -> np.ndarray:
        # Buffers reused tile after tile (per thread): allocating 20 MB per tile would
        # cost more than the arithmetic.
        if not hasattr(local, "xor"):
            local.xor = np.empty((TILE_ROWS, TILE_COLUMNS), dtype=np.uint64)
            local.bits = np.empty((TILE_ROWS, TILE_COLUMNS), dtype=np.uint8)
            local.close = np.empty((TILE_ROWS, TILE_COLUMNS), dtype=bool)
        rows = values[start : start + TILE_ROWS, None]
        found = []
        for other in range(start, count, TILE_COLUMNS):
            columns = values[None, other : other + TILE_COLUMNS]
            shape = (rows.shape[0], columns.shape[1])
            xor = local.xor[: shape[0], : shape[1]]
            bits = local.bits[: shape[0], : shape[1]]
            np.bitwise_xor(rows, columns, out=xor)
            np.bitwise_count(xor, out=bits)
            if other == start:
                np.fill_diagonal(bits, 255)  # each hash against itself
            if bits.min() > threshold:  # nearly every tile: nothing within the threshold
                continue
            close = local.close[: shape[0], : shape[1]]
            np.less_equal(bits, threshold, out=close)
            row_index, column_index = np.nonzero(close)
            row_index = row_index + start
            column_index = column_index + other
            keep = row_index < column_index
            found.append(np.stack((row_index[keep], column_index[keep]), axis=1))
        return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)

    starts = list(range(0, count, TILE_ROWS))
    workers = threads or min(len(starts), os.cpu_count() or 1)
    if workers <= 1:
        bands = [band(start) for start in starts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            bands = list(pool.map(band, starts))
    return np.concatenate(bands).astype(np.int64)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = {}
        for item in range(len(self.parent)):
            members.setdefault(self.find(item), []).append(item)
        return [group for group in members.values() if len(group) > 1]


def group_pairs(size: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    union = UnionFind(size)
    for a, b in pairs:
        union.union(int(a), int(b))
    return union.groups()


@dataclass(frozen=True)
class HashedImage:
    path: str
    phash: int  # unsigned 64-bit
    dhash: int
    identity: str  # equal for files with the same decoded pixels (pixel or byte hash)


@dataclass
class DuplicateGroup:
    kind: str  # exact | near
    members: list[str]  # sorted paths
    # Largest distance within the group, in the bits of whichever hash differs more:
    # grouping needs both pHash and dHash within the threshold, so this is the number
    # to compare with it.
    max_distance: int = 0
    exact_sets: list[list[str]] = field(default_factory=list)  # pixel-identical subsets

    @property
    def subject(self) -> str:
        return ", ".join(self.members)


def close_pairs(phashes: np.ndarray, dhashes: np.ndarray, threshold: int) -> np.ndarray:
    """Pairs (i, j) whose pHash and dHash both differ in at most ``threshold`` bits."""
    pairs = near_pairs(phashes, threshold)
    if not len(pairs):
        return pairs
    dhashes = np.ascontiguousarray(dhashes, dtype=np.uint64)
    close = np.bitwise_count(dhashes[pairs[:, 0]] ^ dhashes[pairs[:, 1]]) <= threshold
    return pairs[close]


def find_groups(images: Sequence[HashedImage], threshold: int) -> list[DuplicateGroup]:
    """Groups of exact and near duplicates, largest first."""
    union = UnionFind(len(images))
    by_identity: dict[str, list[int]] = {}
    for index, image in enumerate(images):
        by_identity.setdefault(image.identity, []).append(index)
    for indexes in by_identity.values():
        for other in indexes[1:]:
            union.union(indexes[0], other)
    stable = [i for i, image in enumerate(images) if not is_flat(image.phash)]
    if threshold >= 0 and len(stable) > 1:
        phashes = np.array([images[i].phash for i in stable], dtype=np.uint64)
        dhashes = np.array([images[i].dhash for i in stable], dtype=np.uint64)
        for a, b in close_pairs(phashes, dhashes, threshold):
            union.union(stable[a], stable[b])
    groups = []
    for indexes in union.groups():
        members = [images[i] for i in indexes]
        identities: dict[str, list[str]] = {}
        for member in members:
            identities.setdefault(member.identity, []).append(member.path)
        exact_sets = sorted(sorted(paths) for paths in identities.values() if len(paths) > 1)
        sample = members[:50]  # a group is shown, not measured exhaustively
        distance = max(
            max(hamming(a.phash, b.phash), hamming(a.dhash, b.dhash))
            for i, a in enumerate(sample)
            for b in sample[i + 1 :]
        )
        groups.append(
            DuplicateGroup(
                kind="exact" if len(identities) == 1 else "near",
                members=sorted(member.path for member in members),
                max_distance=distance,
                exact_sets=exact_sets,
            )
        )
    groups.sort(key=lambda group: (-len(group.members), group.members))
    return groups


def duplicate_findings(
    groups: Sequence[DuplicateGroup], intentional: Sequence[frozenset[str]], threshold: int
) -> list[Finding]:
    """A blocking finding per unresolved group, and one per set of pixel-identical copies
    inside a near group (recording a near group as intentional does not excuse copies)."""
    found = []
    for group in groups:
        if group.kind == "exact":
            found.append(_exact(group.members))
            continue
        found.extend(_exact(members) for members in group.exact_sets)
        if any(set(group.members) <= chosen for chosen in intentional):
            found.append(
                finding(
                    "duplicate.intentional",
                    group.subject,
                    f"You kept these {len(group.members)} similar images on purpose: "
                    f"{group.subject}.",
                    subjects=group.members,
                )
            )
            continue
        found.append(
            finding(
                "duplicate.near",
                group.subject,
                f"{len(group.members)} images are near-duplicates (their perceptual hashes, "
                f"pHash and dHash, differ in at most {group.max_distance} of 64 bits; "
                f"threshold {threshold}): {group.subject}.",
                subjects=group.members,
            )
        )
    return found


def _exact(members: Sequence[str]) -> Finding:
    subject = ", ".join(members)
    return finding(
        "duplicate.exact",
        subject,
        f"{len(members)} files show exactly the same pixels: {subject}.",
        subjects=members,
    )
