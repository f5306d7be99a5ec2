"""Where each owner starts in a compact version's snapshot, so a restart cuts the snapshot into
owners with slices instead of walking every name and record in Python (~1 µs a record: 0.2 s of
a 100k-record restart), and knows the record count and the zone cuts without reading them.

The index is a cache beside the snapshot (`reload.journal` keeps it with the snapshot's digest
and its own): when it is missing, damaged or belongs to another snapshot, the snapshot is split
the slow way (`WireVersion.from_codec`), which gives the same version.

Layout, little-endian: b"HPI2", then u32 owners (n), u32 records, u32 cuts (c), u32 names with
owners below them (e, `WireVersion`'s `_below`); n + 1 u32 offsets into the snapshot (the last is
its length); n u8 owner name lengths; c u32 ordinals of the owners that are zone cuts; e + 1 u32
offsets into those names (lowercased wire), e u32 counts of owners below each, then the names."""

from __future__ import annotations

import itertools
import struct
import sys
from array import array
from collections.abc import Iterable

MAGIC = b"HPI2"
_HEAD = struct.Struct("<4sIIII")


def _little(values: array) -> bytes:
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _read(typecode: str, data: bytes) -> array:
    values = array(typecode)
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def encode(keys: list[bytes], values: list[bytes], rr_count: int, cuts: set[bytes],
           below: Iterable[tuple[bytes, int]]) -> bytes:
    """The index of the snapshot `b"".join(values)`, `values[i]` being owner `keys[i]`'s data,
    whose names with owners below them are `below` (name, how many). Built in C-level passes (a
    1M zone's owners in a Python loop took 0.6 s of a start)."""
    offsets = array("I", [0])
    offsets.extend(itertools.accumulate(map(len, values)))
    ordinals = array("I", [number for number, key in enumerate(keys) if key in cuts] if cuts else [])
    below = list(below)
    names = [name for name, _count in below]
    name_offsets = array("I", [0])
    name_offsets.extend(itertools.accumulate(map(len, names)))
    counts = array("I", [count for _name, count in below])
    return b"".join([_HEAD.pack(MAGIC, len(keys), rr_count, len(ordinals), len(names)), _little(offsets),
                     bytes(map(len, keys)), _little(ordinals), _little(name_offsets), _little(counts), *names])


def decode(index: bytes, snapshot: bytes) -> tuple[list[bytes], list[bytes], int, set[bytes], dict[bytes, int]]:
    """(owner keys, their data, records, cut keys, names with owners below them -> how many) of
    `snapshot` by its `index`. Raises ValueError when the index cannot describe these bytes (the
    caller splits them the slow way)."""
    if len(index) < _HEAD.size:
        raise ValueError("snapshot index too short")
    magic, count, rr_count, cut_count, below_count = _HEAD.unpack_from(index)
    at = _HEAD.size
    fixed = at + 4 * (count + 1) + count + 4 * cut_count + 4 * (below_count + 1) + 4 * below_count
    if magic != MAGIC or len(index) < fixed:
        raise ValueError("not a snapshot index")
    offsets = _read("I", index[at:at + 4 * (count + 1)])
    at += 4 * (count + 1)
    lengths = index[at:at + count]
    at += count
    ordinals = _read("I", index[at:at + 4 * cut_count])
    at += 4 * cut_count
    name_offsets = _read("I", index[at:at + 4 * (below_count + 1)])
    at += 4 * (below_count + 1)
    counts = _read("I", index[at:fixed])
    names = index[fixed:]
    if (offsets[0] != 0 or offsets[-1] != len(snapshot) or any(n >= count for n in ordinals)
            or name_offsets[0] != 0 or name_offsets[-1] != len(names)):
        raise ValueError("the snapshot index does not fit the snapshot")
    values = [snapshot[start:end] for start, end in zip(offsets, offsets[1:])]
    keys = [data[:length].lower() for data, length in zip(values, lengths)]
    below = dict(zip([names[start:end] for start, end in zip(name_offsets, name_offsets[1:])], counts))
    return keys, values, rr_count, {keys[n] for n in ordinals}, below
