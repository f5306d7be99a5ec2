"""AXFR messages written straight from a compact version's wire bytes: the fast twin of
`transfer.xfr.Rendering` for `WireVersion`s (no dnspython object per record).

It follows `Rendering` step for step, so the bytes are the same (tests/unit/test_wire_axfr.py
compares them under hypothesis): the SOA, every RRset in canonical order, the SOA; an RRset
that does not fit the message opens the next one; one that does not fit an empty message is
split in halves, down to a single record that gets a message of its own up to `max_single`.
Names are compressed as dnspython's renderer does (RFC 1035 4.1.4): owners, and the names in
the rdata of NS, CNAME, PTR, MX and SOA; every other type's rdata is written as stored."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import dns.flags
import dns.name
import dns.rdataclass
import dns.rdatatype

from hiddenprimary.transfer.messages import MESSAGE_SIZE, LazyMessages, RenderingFailed, chain
from hiddenprimary.zone import codec
from hiddenprimary.zone.wire_compress import NAMES_IN_RDATA, write_name, write_rdata
from hiddenprimary.zone.limits import MAX_MESSAGE, TSIG_RESERVE
from hiddenprimary.zone.wire_version import WireVersion

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHI")
_U16 = struct.Struct("!H")
_FLAGS = dns.flags.QR | dns.flags.AA
_IN = dns.rdataclass.IN
_SOA = dns.rdatatype.SOA
_NONE = dns.rdatatype.NONE

RRset = tuple[bytes, int, int, list[bytes]]  # owner wire, rdtype, ttl, rdata


def _write_rrset(out: bytearray, rrset: RRset, compress: dict[bytes, int]) -> None:
    owner, rdtype, ttl, rdatas = rrset
    head = _RR.pack(rdtype, _IN, ttl)
    named = rdtype in NAMES_IN_RDATA
    lower = None
    for rdata in rdatas:
        # After the first record the owner is a pointer to where it was written, when that
        # offset could be learnt (write_name's result then, for less work a record).
        pointer = None if lower is None else compress.get(lower)
        if pointer is None:
            write_name(out, owner, compress)
            lower = owner.lower()
        else:
            out += _U16.pack(0xC000 | pointer)
        out += head
        if named:
            at = len(out)
            out += b"\0\0"
            write_rdata(out, rdtype, rdata, compress)
            out[at:at + 2] = _U16.pack(len(out) - at - 2)
        else:
            out += _U16.pack(len(rdata))
            out += rdata


def _rollback(out: bytearray, compress: dict[bytes, int], where: int) -> None:
    del out[where:]
    for key in [key for key, at in compress.items() if at >= where]:
        del compress[key]


def axfr_rrsets(version: WireVersion) -> Iterator[RRset]:
    """RFC 5936 2.2: SOA, every other RRset, SOA (as `transfer.xfr.axfr_items`)."""
    origin = version.origin.to_wire()
    soa = next(r for r in codec.rrsets(version.packed_at(version.apex_key)) if r[1] == _SOA and r[2] == _NONE)
    soa_rrset = (origin, _SOA, soa[3], soa[4])
    yield soa_rrset
    for data in version.packed_in_order():
        for owner, rdtype, covers, ttl, rdatas in codec.rrsets(data):
            if rdtype == _SOA and covers == _NONE and owner.lower() == version.apex_key:
                continue
            yield owner, rdtype, ttl, rdatas
    yield soa_rrset


class WireRendering(LazyMessages):
    """The AXFR messages of a WireVersion (see LazyMessages; the interface of xfr.Rendering)."""

    def __init__(self, version: WireVersion, max_size: int = MESSAGE_SIZE, reserve: int = TSIG_RESERVE,
                 max_single: int = MAX_MESSAGE):
        super().__init__(version.origin, dns.rdatatype.AXFR, max_size, reserve, max_single)
        self._origin_wire = version.origin.to_wire()
        self._items: Iterator[RRset] = axfr_rrsets(version)
        self._pending: RRset | None = None

    def _start(self) -> tuple[bytearray, dict[bytes, int]]:
        out, compress = bytearray(12), {}
        if not self.messages:
            write_name(out, self._origin_wire, compress)
            out += _U16.pack(self.qtype) + _U16.pack(_IN)
        return out, compress

    def _render_next(self) -> None:
        out, compress = self._start()
        count = 0
        while True:
            item = self._pending or next(self._items, None)
            self._pending = None
            if item is None:
                self.done = True
                break
            start = len(out)
            _write_rrset(out, item, compress)
            if len(out) <= self._max_size:
                count += len(item[3])
                continue
            _rollback(out, compress, start)
            if count:
                self._pending = item
                break
            rdatas = item[3]
            if len(rdatas) == 1:  # does not fit even alone: a larger message of its own
                out, compress = self._start()
                _write_rrset(out, item, compress)
                if len(out) > self._max_single:
                    raise RenderingFailed(f"record {_text(item[0])} {dns.rdatatype.to_text(item[1])} is too large "
                                          f"for a transfer message ({self._max_single} octets)")
                count = 1
                break
            half = len(rdatas) // 2
            first, rest = (*item[:3], rdatas[:half]), (*item[:3], rdatas[half:])
            self._items = chain([first, rest], self._items)
        _HEADER.pack_into(out, 0, 0, _FLAGS, 0 if len(self.messages) else 1, count, 0, 0)
        self.messages.append(bytes(out))
        self.records += count



def _text(owner: bytes) -> str:
    return dns.name.from_wire(owner, 0)[0].to_text()
