"""Big lists (a zone's owners, its signatures) freed and sorted a slice at a time.

One C call over a list of a hundred thousand objects never lets go of the GIL: dropping its last
reference frees them all in one cascade (~1 ms per 10k small objects here), and `sorted` runs
~20 ms per 100k keys. The reactor thread's queries wait that long. `release` empties such a list
from the end, `SLICE` items per C call; `sorted_in_runs` sorts runs of `RUN` items and merges
them two at a time in blocks of at most two runs: a reload's worker thread lets the reactor in
between."""

from __future__ import annotations

import bisect

SLICE = 4096
RUN = 16384  # items sorted or merged per C call


def release(items: list) -> None:
    """Empty `items` (a list nobody else holds the contents of), a slice at a time."""
    while items:
        del items[-SLICE:]


def sorted_in_runs(items: list) -> list:
    """`sorted(items)` for items that are all different (no two compare equal)."""
    runs = [sorted(items[i:i + RUN]) for i in range(0, len(items), RUN)] or [[]]
    while len(runs) > 1:
        merged = [_merge(runs[i], runs[i + 1]) for i in range(0, len(runs) - 1, 2)]
        if len(runs) % 2:
            merged.append(runs[-1])
        runs = merged
    return runs[0]


def _merge(a: list, b: list) -> list:
    """Two sorted lists merged, in blocks of at most 2 * RUN items: each block is what comes
    before the smaller of the items RUN ahead in either list."""
    out: list = []
    i = j = 0
    while i + RUN < len(a) or j + RUN < len(b):
        ahead_a = a[i + RUN] if i + RUN < len(a) else None
        ahead_b = b[j + RUN] if j + RUN < len(b) else None
        cut = ahead_a if ahead_b is None or (ahead_a is not None and ahead_a < ahead_b) else ahead_b
        next_i, next_j = bisect.bisect_left(a, cut, i), bisect.bisect_left(b, cut, j)
        block = a[i:next_i] + b[j:next_j]
        block.sort()
        out += block
        i, j = next_i, next_j
    block = a[i:] + b[j:]
    block.sort()
    out += block
    return out
