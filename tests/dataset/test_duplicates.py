"""Grouping duplicates: vectorised all-pairs search (no pair missed), union-find groups,
exact versus near, and what an intentional decision resolves."""

from __future__ import annotations

import numpy as np

from app.dataset.duplicates import (
    HashedImage,
    duplicate_findings,
    find_groups,
    group_pairs,
    near_pairs,
    to_signed,
    to_unsigned,
)


def test_near_pairs_match_a_brute_force_search() -> None:
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**63, size=3000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    for i in range(0, 200, 2):  # plant pairs 1-6 bits apart, across tile boundaries
        flips = rng.choice(64, size=1 + i % 6, replace=False)
        mask = np.uint64(sum(1 << int(bit) for bit in flips))
        hashes[i * 13 + 1] = hashes[i * 7] ^ mask
    found = {tuple(pair) for pair in near_pairs(hashes, 8).tolist()}
    values = [int(h) for h in hashes]
    expected = {
        (i, j)
        for i in range(len(values))
        for j in range(i + 1, len(values))
        if (values[i] ^ values[j]).bit_count() <= 8
    }
    assert found == expected and len(expected) >= 100


def test_pairs_become_groups() -> None:
    assert sorted(map(sorted, group_pairs(6, [(0, 1), (1, 2), (4, 5)]))) == [[0, 1, 2], [4, 5]]


def test_signed_storage_round_trips() -> None:
    for value in (0, 1, 2**63 - 1, 2**63, 2**64 - 1):
        assert to_unsigned(to_signed(value)) == value
        assert -(2**63) <= to_signed(value) < 2**63


def _image(
    path: str, phash: int, dhash: int | None = None, identity: str | None = None
) -> HashedImage:
    return HashedImage(path, phash, phash if dhash is None else dhash, identity or path)


def test_exact_near_and_unrelated() -> None:
    base = 0x0F0F_3C3C_5A5A_A5A5
    images = [
        _image("a.png", base, identity="pixels:1"),
        _image("a.bmp", base, identity="pixels:1"),
        _image("b.png", base ^ 0b111),  # 3 bits away
        _image("c.png", ~base & (2**64 - 1)),  # unrelated (64 bits away)
        _image("d.png", base ^ 0b11, dhash=~base & (2**64 - 1)),  # pHash close, dHash not
        _image("flat1.png", 0),  # unstable hashes of flat pictures: never "near"
        _image("flat2.png", 1),
    ]
    groups = find_groups(images, threshold=10)
    assert [(g.kind, g.members, g.exact_sets) for g in groups] == [
        ("near", ["a.bmp", "a.png", "b.png"], [["a.bmp", "a.png"]])
    ]
    only_exact = find_groups(images, threshold=0)
    assert [(g.kind, g.members) for g in only_exact] == [("exact", ["a.bmp", "a.png"])]


def test_intentional_resolves_near_but_not_exact_copies() -> None:
    base = 0x0F0F_3C3C_5A5A_A5A5
    images = [
        _image("a.png", base, identity="pixels:1"),
        _image("a.bmp", base, identity="pixels:1"),
        _image("b.png", base ^ 0b1),
    ]
    groups = find_groups(images, 10)
    unresolved = duplicate_findings(groups, [], 10)
    assert sorted(f.code for f in unresolved) == ["duplicate.exact", "duplicate.near"]
    resolved = duplicate_findings(groups, [frozenset({"a.png", "a.bmp", "b.png"})], 10)
    assert sorted((f.code, f.severity) for f in resolved) == [
        ("duplicate.exact", "block"),
        ("duplicate.intentional", "info"),
    ]
    # A decision about other images resolves nothing.
    other = duplicate_findings(groups, [frozenset({"a.png", "z.png"})], 10)
    assert "duplicate.near" in {f.code for f in other}


def test_the_near_distance_counts_the_hash_that_differs_more() -> None:
    """Grouping needs both pHash and dHash within the threshold, so the distance shown
    against the threshold is the larger of the two."""
    base = 0x0F0F_3C3C_5A5A_A5A5
    images = [_image("a.png", base), _image("b.png", base ^ 0b1, dhash=base ^ 0b1_1111)]
    (group,) = find_groups(images, 6)
    assert group.max_distance == 5
    (near,) = duplicate_findings([group], [], 6)
    assert "pHash and dHash, differ in at most 5 of 64 bits; threshold 6" in near.message
