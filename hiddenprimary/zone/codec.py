"""A compact binary form of rdatasets (uncompressed DNS wire form) for the journal and the saved
zone: much faster to read back than zone-file text, and exact (no text round trip).

Each rdataset: owner name (wire) | rdtype:u16 covers:u16 ttl:u32 count:u16 | count x (len:u16 rdata)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.wire

_HEAD = struct.Struct("!HHIH")
_LEN = struct.Struct("!H")
_IN = dns.rdataclass.IN


def encode(rdatasets: Iterable[tuple[dns.name.Name, dns.rdataset.Rdataset]]) -> bytes:
    out = bytearray()
    for name, rds in rdatasets:
        out += name.to_wire()
        out += _HEAD.pack(rds.rdtype, rds.covers, rds.ttl, len(rds))
        for rdata in rds:
            wire = rdata.to_wire()
            out += _LEN.pack(len(wire))
            out += wire
    return bytes(out)


def decode(data: bytes) -> Iterator[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
    """The inverse of `encode`. Raises ValueError on bytes `encode` did not make."""
    view = memoryview(data)
    offset, end = 0, len(data)
    try:
        while offset < end:
            parser = dns.wire.Parser(data, offset)
            name = parser.get_name()
            offset = parser.current
            rdtype, covers, ttl, count = _HEAD.unpack_from(view, offset)
            offset += _HEAD.size
            rds = dns.rdataset.Rdataset(_IN, rdtype, covers)
            rds.update_ttl(ttl)
            for _ in range(count):
                (length,) = _LEN.unpack_from(view, offset)
                offset += _LEN.size
                parser = dns.wire.Parser(data, offset)
                with parser.restrict_to(length):
                    rds.add(dns.rdata.from_wire_parser(_IN, rdtype, parser))
                offset += length
            yield name, rds
    except (struct.error, dns.exception.DNSException) as e:
        raise ValueError(f"bad encoded rdatasets at byte {offset}: {e}") from e
