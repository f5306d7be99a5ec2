"""A compact binary form of rdatasets (uncompressed DNS wire form) for the journal and the saved
zone: much faster to read back than zone-file text, and exact (no text round trip).

Each rdataset: owner name (wire) | rdtype:u16 covers:u16 ttl:u32 count:u16 | count x (len:u16 rdata)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

import dns.dnssectypes
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.RRSIG
import dns.wire

_HEAD = struct.Struct("!HHIH")
_LEN = struct.Struct("!H")
_IN = dns.rdataclass.IN


def encode(rdatasets: Iterable[tuple[dns.name.Name, dns.rdataset.Rdataset]]) -> bytes:
    out = bytearray()
    last_name, last_wire = None, b""
    for name, rds in rdatasets:
        if name is not last_name:  # an owner's rdatasets come one after another: render it once
            last_name, last_wire = name, name.to_wire()
        out += last_wire
        out += _HEAD.pack(rds.rdtype, rds.covers, rds.ttl, len(rds))
        for rdata in rds:
            wire = rdata.to_wire()
            out += _LEN.pack(len(wire))
            out += wire
    return bytes(out)


def decode(data: bytes) -> Iterator[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
    """The inverse of `encode`. Raises ValueError on bytes `encode` did not make.

    The rdatasets of one owner are consecutive (encode is fed in name order), so the owner name
    is parsed once per run of equal wire bytes and the same Name object handed out for each: a
    zone's owners are its dict keys, and equal objects are found by identity, not by dnspython's
    Python-level name comparison. Each rdata goes into its rdataset directly: encode wrote a set,
    and `Rdataset.add` would hash (render) every rdata twice to look for a duplicate."""
    view = memoryview(data)
    offset, end = 0, len(data)
    last_wire, last_name = b"", None
    signers: dict[bytes, dns.name.Name] = {}  # an RRSIG's signer is the zone: parsed once
    try:
        while offset < end:
            pos = offset
            while data[pos]:  # uncompressed: label lengths up to the root's zero
                pos += data[pos] + 1
            pos += 1
            wire = data[offset:pos]
            if wire != last_wire or last_name is None:
                parser = dns.wire.Parser(data, offset)
                last_name, last_wire = parser.get_name(), wire
                if parser.current != pos:
                    raise ValueError("owner name is not in uncompressed wire form")
            name = last_name
            offset = pos
            rdtype, covers, ttl, count = _HEAD.unpack_from(view, offset)
            offset += _HEAD.size
            rds = dns.rdataset.Rdataset(_IN, rdtype, covers)
            rds.update_ttl(ttl)
            items = rds.items
            for _ in range(count):
                (length,) = _LEN.unpack_from(view, offset)
                offset += _LEN.size
                if rdtype == _RRSIG:
                    items[_rrsig(data, offset, length, signers)] = None
                else:
                    parser = dns.wire.Parser(data, offset)
                    with parser.restrict_to(length):
                        items[dns.rdata.from_wire_parser(_IN, rdtype, parser)] = None
                offset += length
            yield name, rds
    except (struct.error, IndexError, dns.exception.DNSException) as e:
        raise ValueError(f"bad encoded rdatasets at byte {offset}: {e}") from e


_RRSIG = dns.rdatatype.RRSIG
_RRSIG_CLASS = dns.rdtypes.ANY.RRSIG.RRSIG
_SIG_FIXED = struct.Struct("!HBBIIIH")  # type covered, algorithm, labels, original TTL, exp, inc, key tag
_TYPES: dict[int, dns.rdatatype.RdataType] = {}
_ALGORITHMS: dict[int, dns.dnssectypes.Algorithm] = {}


def _rrsig(data: bytes, offset: int, length: int, signers: dict) -> dns.rdtypes.ANY.RRSIG.RRSIG:
    """The RRSIG rdata at `offset`: what dnspython's `from_wire_parser` makes (a test compares
    them field by field and on the wire), without its per-field checks, a tenth of the time (a
    re-sign slice decodes tens of thousands). Malformed bytes still go to dnspython, which says
    what is wrong."""
    end = offset + length
    pos = offset + _SIG_FIXED.size
    while pos < end and data[pos]:
        pos += data[pos] + 1
    if pos >= end or length < _SIG_FIXED.size + 2:
        parser = dns.wire.Parser(data, offset)
        with parser.restrict_to(length):
            return dns.rdata.from_wire_parser(_IN, _RRSIG, parser)
    pos += 1
    signer_wire = data[offset + _SIG_FIXED.size:pos]
    signer = signers.get(signer_wire)
    if signer is None:
        signer = signers[signer_wire] = dns.name.from_wire(signer_wire, 0)[0]
    covered, algorithm, labels, ttl, expiration, inception, tag = _SIG_FIXED.unpack_from(data, offset)
    covered_type = _TYPES.get(covered)
    if covered_type is None:
        covered_type = _TYPES[covered] = dns.rdatatype.RdataType.make(covered)
    alg = _ALGORITHMS.get(algorithm)
    if alg is None:
        alg = _ALGORITHMS[algorithm] = dns.dnssectypes.Algorithm.make(algorithm)
    rd = object.__new__(_RRSIG_CLASS)
    for slot, value in (("rdclass", _IN), ("rdtype", _RRSIG), ("rdcomment", None), ("type_covered", covered_type),
                        ("algorithm", alg), ("labels", labels), ("original_ttl", ttl), ("expiration", expiration),
                        ("inception", inception), ("key_tag", tag), ("signer", signer),
                        ("signature", data[pos:end])):
        object.__setattr__(rd, slot, value)
    return rd


def rdataset(owner: bytes, rdtype: int, covers: int, ttl: int, rdatas: list[bytes]) -> bytes:
    """One rdataset in `encode`'s form, from its owner's wire name and its records' wire rdata."""
    return owner + _HEAD.pack(rdtype, covers, ttl, len(rdatas)) + b"".join(
        [_LEN.pack(len(rd)) + rd for rd in rdatas])


def owner_runs(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(lowercased owner wire name, the encoded rdatasets of that owner) for each run of
    consecutive rdatasets with one owner, in order, without parsing any rdata: what a compact
    version keeps per owner (`zone.wire_version`). Raises ValueError on bytes `encode` did not
    make (a name or a length that runs past the end, a label over 63 octets, a name over 255)."""
    offset, end = 0, len(data)
    run_start, run_key = 0, b""
    try:
        while offset < end:
            pos = offset
            while data[pos]:
                if data[pos] > 63:
                    raise ValueError(f"bad encoded rdatasets at byte {pos}: label length {data[pos]}")
                pos += data[pos] + 1
            pos += 1
            if pos - offset > 255:
                raise ValueError(f"bad encoded rdatasets at byte {offset}: owner name over 255 octets")
            key = data[offset:pos].lower()
            if key != run_key:
                if offset:
                    yield run_key, data[run_start:offset]
                run_start, run_key = offset, key
            count = _HEAD.unpack_from(data, pos)[3]
            pos += _HEAD.size
            for _ in range(count):
                pos += _LEN.size + _LEN.unpack_from(data, pos)[0]
            if pos > end:
                raise ValueError(f"bad encoded rdatasets at byte {offset}: rdata runs past the end")
            offset = pos
    except (struct.error, IndexError) as e:
        raise ValueError(f"bad encoded rdatasets at byte {offset}: {e}") from e
    if end:
        yield run_key, data[run_start:end]


def heads(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(rdtype, covers, ttl, count) of each rdataset in `data` (bytes `encode` made, as
    `owner_runs` hands them out), without parsing any rdata."""
    offset, end = 0, len(data)
    while offset < end:
        while data[offset]:
            offset += data[offset] + 1
        offset += 1
        head = _HEAD.unpack_from(data, offset)
        offset += _HEAD.size
        for _ in range(head[3]):
            offset += _LEN.size + _LEN.unpack_from(data, offset)[0]
        yield head


def pick(data: bytes, rdtype: int, fallback: int) -> tuple[int, int, list[bytes]] | None:
    """(rdtype, ttl, [rdata wire]) of the rdataset of type `rdtype` (covers NONE) in one owner's
    `data`, else of type `fallback`, else None: what an answer needs of an owner (the type asked,
    or its CNAME), with only that rdataset's records sliced out."""
    offset, end = 0, len(data)
    found = None
    while offset < end:
        while data[offset]:
            offset += data[offset] + 1
        offset += 1
        this, covers, ttl, count = _HEAD.unpack_from(data, offset)
        offset += _HEAD.size
        if covers == 0 and (this == rdtype or (this == fallback and found is None)):
            rdatas = []
            for _ in range(count):
                length = (data[offset] << 8) | data[offset + 1]
                rdatas.append(data[offset + 2:offset + 2 + length])
                offset += 2 + length
            if this == rdtype:
                return this, ttl, rdatas
            found = (this, ttl, rdatas)
            continue
        for _ in range(count):
            offset += 2 + ((data[offset] << 8) | data[offset + 1])
    return found


def rrsets(data: bytes) -> Iterator[tuple[bytes, int, int, int, list[bytes]]]:
    """(owner wire as stored, rdtype, covers, ttl, [rdata wire]) of each rdataset in `data`
    (bytes `encode` made): the raw pieces, for renderers that write wire without dnspython."""
    for start, owner_end, rdtype, covers, ttl, rdatas, _end in _walk(data):
        yield data[start:owner_end], rdtype, covers, ttl, rdatas


def segments(data: bytes) -> Iterator[tuple[int, int, int, list[bytes], bytes]]:
    """(rdtype, covers, ttl, [rdata wire], the rdataset's own encoded bytes, owner included) of
    each rdataset in `data`: what the signer keeps, compares or drops a whole rdataset at a time."""
    for start, _owner_end, rdtype, covers, ttl, rdatas, end in _walk(data):
        yield rdtype, covers, ttl, rdatas, data[start:end]


def _walk(data: bytes) -> Iterator[tuple[int, int, int, int, int, list[bytes], int]]:
    """(start, end of the owner name, rdtype, covers, ttl, [rdata], end) of each rdataset."""
    offset, end = 0, len(data)
    while offset < end:
        pos = offset
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
        owner_end = pos
        rdtype, covers, ttl, count = _HEAD.unpack_from(data, pos)
        pos += _HEAD.size
        rdatas = []
        for _ in range(count):
            length = (data[pos] << 8) | data[pos + 1]
            rdatas.append(data[pos + 2:pos + 2 + length])
            pos += 2 + length
        yield offset, owner_end, rdtype, covers, ttl, rdatas, pos
        offset = pos


# Canonical rdata (RFC 4034 6.2, as amended by RFC 6840 5.1): which types carry names to lower
# case and where. Types known to carry none are taken as stored; any other type goes through
# dnspython's `to_digestable` (its own plain twin; a test compares every type listed here).
_NAME_ONLY = frozenset({2, 5, 12, 39})  # NS CNAME PTR DNAME (MD, MB, ...: dnspython reads them as opaque)
_NAME_AFTER = {15: 2, 18: 2, 21: 2, 36: 2, 33: 6}  # MX AFSDB RT KX (preference), SRV (3 numbers)
_NO_NAMES = frozenset({1, 28, 16, 99, 43, 59, 48, 60, 51, 50, 47, 257, 52, 53, 44, 61, 256, 64, 65})


def canonical_rdata(rdtype: int, rdata: bytes) -> bytes:
    """The canonical wire form of one record's rdata as stored (uncompressed)."""
    if rdtype in _NO_NAMES:
        return rdata
    if rdtype in _NAME_ONLY:
        return rdata.lower()  # a wire name's length octets (< 64) are never ASCII letters
    skip = _NAME_AFTER.get(rdtype)
    if skip is not None:
        return rdata[:skip] + rdata[skip:].lower()
    if rdtype == 46:  # RRSIG: 18 octets, then the signer's name, then the signature
        pos = 18
        while rdata[pos]:
            pos += rdata[pos] + 1
        return rdata[:18] + rdata[18:pos].lower() + rdata[pos:]
    if rdtype == 6:  # SOA: MNAME and RNAME, then five numbers
        pos = 0
        for _ in range(2):
            while rdata[pos]:
                pos += rdata[pos] + 1
            pos += 1
        return rdata[:pos].lower() + rdata[pos:]
    return dns.rdata.from_wire(_IN, rdtype, rdata, 0, len(rdata)).to_digestable()
