"""Rendered responses cached with the zone version they were answered from.

A version never changes, so the bytes of an answer rendered from it stay right for as long as the
version is served (DESIGN.md "Performance shape"). A later query with the same key gets those
bytes with its own ID, RD and CD bits and question spliced in, without dnspython parsing the
message or rendering anything.

The key is (qname lowercased, qtype, qclass, DO, EDNS present, size limit, transport, our
advertised payload). The size limit is the exact limit the full path would render within, so a
cached truncated or trimmed answer is exactly what the full path would produce.

Only plain queries are cached or served from the cache (`preparse` returns None otherwise, and the
full path runs): QR=0, opcode QUERY, QDCOUNT=1, ANCOUNT=0, NSCOUNT=0, and ARCOUNT=0 or exactly one
OPT (root owner, version 0, no options) and nothing after it. The question name must use no
compression pointer. So TSIG-signed queries, EDNS options (cookies, padding, client subnet) and
anything odd always take the full path.

The splice is valid because two questions with the same key differ only in the case of the qname's
letters: same length, same label structure, so every compression pointer in the cached reply
still points at the same label (dnspython's compression is case-insensitive, and the question is
always the first name written). tests/unit/test_responder.py checks byte equality with the full
path under hypothesis.

Finding the zone on a hit does not go through `Store.find`, whose dnspython `Name` hashing costs
more than the rest of the hit: `version_of` walks the lowercased qname's suffixes in the Store's
index of the zones' wire forms (most specific first, like `Store.find`).

Single-threaded by design (the reactor thread); a race can at worst lose an insertion.
"""

from __future__ import annotations

import struct
import typing

import dns.name

from hiddenprimary.zone.store import Store
from hiddenprimary.zone.version import ZoneVersion

CACHE_SLOT = "answers"  # the key of this cache in ZoneVersion.cache
MAX_ENTRIES = 20_000  # per version
MAX_BYTES = 16 * 1024 * 1024  # per version, counting the cached reply bytes

_MIN_UDP = 512
_MAX_TCP = 65535
_OPT_TYPE = b"\x00\x29"
_ONE_QUESTION_ONLY = b"\x00\x01\x00\x00\x00\x00"  # QDCOUNT=1, ANCOUNT=0, NSCOUNT=0
_NO_ADDITIONAL = b"\x00\x00"
_ONE_ADDITIONAL = b"\x00\x01"
_RD = 0x01  # in the third header octet
_CD = 0x10  # in the fourth header octet

QueryKey = tuple


class Preparsed(typing.NamedTuple):
    """What the cache needs from a query's wire: its key (whose first item is the lowercased
    qname in wire form), where the question ends, and where each label of the qname starts
    within that wire form (to find the zone)."""

    key: QueryKey
    question_end: int
    label_starts: tuple[int, ...]


def preparse(wire: bytes, transport: str, max_udp_payload: int) -> Preparsed | None:
    """Read the 12-byte header and the question of a plain query; None when the query is not
    one the cache may serve (the full path then handles it)."""
    size = len(wire)
    if size < 17 or wire[2] & 0xF8 or wire[4:10] != _ONE_QUESTION_ONLY:
        return None  # short, QR set or opcode not QUERY, or not exactly one question alone
    pos = 12
    starts = []
    while True:
        if pos >= size:
            return None
        starts.append(pos - 12)
        length = wire[pos]
        if length == 0:
            pos += 1
            break
        if length > 63:
            return None  # a compression pointer or an extended label type
        pos += 1 + length
    if pos - 12 > 255 or pos + 4 > size:
        return None  # name too long (RFC 1035 2.3.4), or no room for type and class
    question_end = pos + 4
    qtype, qclass = struct.unpack_from("!HH", wire, pos)
    arcount = wire[10:12]
    if arcount == _NO_ADDITIONAL:
        if question_end != size:
            return None
        edns = do = False
        limit = _MIN_UDP if transport == "udp" else _MAX_TCP
    elif arcount == _ONE_ADDITIONAL:
        # OPT: owner root, TYPE 41, CLASS payload, TTL = ext-rcode, version, DO|Z, RDLEN 0.
        if size != question_end + 11 or wire[question_end] != 0:
            return None
        if wire[question_end + 1 : question_end + 3] != _OPT_TYPE:
            return None
        if wire[question_end + 6] != 0 or wire[question_end + 9 : question_end + 11] != b"\x00\x00":
            return None  # EDNS version != 0 (BADVERS), or options present
        payload = (wire[question_end + 3] << 8) | wire[question_end + 4]
        edns = True
        do = bool(wire[question_end + 7] & 0x80)
        limit = max(_MIN_UDP, min(payload, max_udp_payload)) if transport == "udp" else _MAX_TCP
    else:
        return None
    key = (wire[12:pos].lower(), qtype, qclass, do, edns, limit, transport, max_udp_payload)
    return Preparsed(key, question_end, tuple(starts))


def lookup(version: ZoneVersion, query: Preparsed, wire: bytes) -> bytes | None:
    """The reply for `query` cached in `version` (`version_of` its zone), with its ID, RD, CD
    and question spliced in, or None."""
    cache: _Entries | None = version.cache.get(CACHE_SLOT)
    if cache is None:
        return None
    entry = cache.entries.get(query.key)
    if entry is None:
        return None
    flags_hi, flags_lo, counts, tail = entry
    end = query.question_end
    return b"".join(
        (
            wire[:2],
            bytes((flags_hi | (wire[2] & _RD), flags_lo | (wire[3] & _CD))),
            counts,
            wire[12:end],
            tail,
        )
    )


def zone_of(store: Store, query: Preparsed) -> dns.name.Name | None:
    """The zone `Store.find` would return for the query's qname (the most specific configured
    zone containing it), found by suffix lookups in bytes."""
    return store.zone_of_wire(query.key[0], query.label_starts)


def version_of(store: Store, query: Preparsed) -> ZoneVersion | None:
    """The current version of that zone; None when there is none (or no zone)."""
    return store.current_of_wire(query.key[0], query.label_starts)


def insert(version: ZoneVersion, query: Preparsed, wire: bytes, reply: bytes) -> None:
    """Remember `reply`, the full path's answer from `version` to the query `wire`."""
    end = query.question_end
    if reply[4:6] != b"\x00\x01" or reply[12:end] != wire[12:end]:
        return  # not a reply echoing this exact question: never splice into it
    cache = version.cache.get(CACHE_SLOT)
    if cache is None:
        cache = version.cache.setdefault(CACHE_SLOT, _Entries())
    entry = (reply[2] & ~_RD & 0xFF, reply[3] & ~_CD & 0xFF, reply[4:12], reply[end:])
    cache.put(query.key, entry, len(reply))


class _Entries:
    """A bounded key -> entry map; the oldest entries go first when full (FIFO)."""

    __slots__ = ("entries", "sizes", "total_bytes", "max_entries", "max_bytes")

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.entries: dict[QueryKey, tuple[int, int, bytes, bytes]] = {}
        self.sizes: dict[QueryKey, int] = {}
        self.total_bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    def put(self, key: QueryKey, entry: tuple[int, int, bytes, bytes], size: int) -> None:
        if key in self.entries or size > self.max_bytes:
            return
        try:
            while self.entries and (
                len(self.entries) >= self.max_entries or self.total_bytes + size > self.max_bytes
            ):
                oldest = next(iter(self.entries))
                del self.entries[oldest]
                self.total_bytes -= self.sizes.pop(oldest, 0)
        except (RuntimeError, KeyError):  # concurrent modification: skip this insertion
            return
        self.entries[key] = entry
        self.sizes[key] = size
        self.total_bytes += size

    def __len__(self) -> int:
        return len(self.entries)
