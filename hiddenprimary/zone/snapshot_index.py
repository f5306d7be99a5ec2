"""Where each owner starts in a compact version's snapshot, so a restart cuts the snapshot into
owners with slices instead of walking every name and record in Python (~1 µs a record: 0.2 s of
a 100k-record restart), and knows the record count and the zone cuts without reading them.

The index is a cache beside the snapshot (`reload.journal` keeps it with the snapshot's digest
and its own): when it is missing, damaged or belongs to another snapshot, the snapshot is split
the slow way (`WireVersion.from_codec`), which gives the same version.

Layout, little-endian: b"HPI1", then u32 owners (n), u32 records, u32 cuts (c), u32 empty
non-terminals (e); n + 1 u32 offsets into the snapshot (the last is its length); n u8 owner name
lengths; c u32 ordinals of the owners that are zone cuts; e + 1 u32 offsets into the names of the
empty non-terminals (lowercased wire), which follow."""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable

MAGIC = b"HPI1"
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


def encode(owners: Iterable[tuple[bytes, bytes]], rr_count: int, cuts: set[bytes], empty: list[bytes]) -> bytes:
    """The index of the snapshot `b"".join(data for _key, data in owners)` (in that order), whose
    empty non-terminals are `empty`."""
    offsets = array("I", [0])
    lengths = bytearray()
    ordinals = array("I")
    end = 0
    for number, (key, data) in enumerate(owners):
        end += len(data)
        offsets.append(end)
        lengths.append(len(key))
        if key in cuts:
            ordinals.append(number)
    name_offsets = array("I", [0])
    end = 0
    for name in empty:
        end += len(name)
        name_offsets.append(end)
    return b"".join([_HEAD.pack(MAGIC, len(lengths), rr_count, len(ordinals), len(empty)), _little(offsets),
                     bytes(lengths), _little(ordinals), _little(name_offsets), *empty])


def decode(index: bytes, snapshot: bytes) -> tuple[list[bytes], list[bytes], int, set[bytes], list[bytes]]:
    """(owner keys, their data, records, cut keys, empty non-terminals) of `snapshot` by its
    `index`. Raises ValueError when the index cannot describe these bytes (the caller splits
    them the slow way)."""
    if len(index) < _HEAD.size:
        raise ValueError("snapshot index too short")
    magic, count, rr_count, cut_count, empty_count = _HEAD.unpack_from(index)
    at = _HEAD.size
    fixed = at + 4 * (count + 1) + count + 4 * cut_count + 4 * (empty_count + 1)
    if magic != MAGIC or len(index) < fixed:
        raise ValueError("not a snapshot index")
    offsets = _read("I", index[at:at + 4 * (count + 1)])
    at += 4 * (count + 1)
    lengths = index[at:at + count]
    at += count
    ordinals = _read("I", index[at:at + 4 * cut_count])
    at += 4 * cut_count
    name_offsets = _read("I", index[at:fixed])
    names = index[fixed:]
    if (offsets[0] != 0 or offsets[-1] != len(snapshot) or any(n >= count for n in ordinals)
            or name_offsets[0] != 0 or name_offsets[-1] != len(names)):
        raise ValueError("the snapshot index does not fit the snapshot")
    values = [snapshot[start:end] for start, end in zip(offsets, offsets[1:])]
    keys = [data[:length].lower() for data, length in zip(values, lengths)]
    empty = [names[start:end] for start, end in zip(name_offsets, name_offsets[1:])]
    return keys, values, rr_count, {keys[n] for n in ordinals}, empty
