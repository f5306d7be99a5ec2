"""Name compression on wire bytes (RFC 1035 4.1.4), exactly as dnspython's renderer does it, for
the writers that render from compact versions without dnspython objects (`transfer.wire_axfr`,
`serve.wire_answer`): a name's suffixes are looked up case-insensitively in the message's table
(first spelling wins), new ones are learnt while the offset fits 14 bits, the root never is. Of
rdata, only the names of NS, CNAME, PTR, MX and SOA are compressed (as dnspython: SRV, NAPTR,
DNAME, RRSIG... are written as stored)."""

from __future__ import annotations

import struct

import dns.rdatatype

_U16 = struct.Struct("!H")
_ONE_NAME = frozenset({dns.rdatatype.NS, dns.rdatatype.CNAME, dns.rdatatype.PTR})
_MX = dns.rdatatype.MX
_SOA = dns.rdatatype.SOA
NAMES_IN_RDATA = frozenset({*_ONE_NAME, _MX, _SOA})  # the types whose rdata names are compressed


def _name_end(wire: bytes, pos: int) -> int:
    while wire[pos]:
        pos += wire[pos] + 1
    return pos + 1


def write_name(out: bytearray, wire: bytes, compress: dict[bytes, int]) -> None:
    """`wire` (an uncompressed name) at the end of `out`, compressed against `compress`
    (lowercased suffix wire -> offset), which learns the new suffixes, as dns.name.Name.to_wire."""
    lower = wire.lower()
    pos, last = 0, len(wire) - 1
    while pos < last:
        suffix = lower[pos:]
        found = compress.get(suffix)
        if found is not None:
            out += _U16.pack(0xC000 + found)
            return
        here = len(out)
        if here <= 0x3FFF:
            compress[suffix] = here
        step = wire[pos] + 1
        out += wire[pos:pos + step]
        pos += step
    out += b"\0"


def write_rdata(out: bytearray, rdtype: int, rdata: bytes, compress: dict[bytes, int]) -> None:
    if rdtype in _ONE_NAME:
        write_name(out, rdata, compress)
    elif rdtype == _MX:
        out += rdata[:2]
        write_name(out, rdata[2:], compress)
    elif rdtype == _SOA:
        mname_end = _name_end(rdata, 0)
        rname_end = _name_end(rdata, mname_end)
        write_name(out, rdata[:mname_end], compress)
        write_name(out, rdata[mname_end:rname_end], compress)
        out += rdata[rname_end:]
    else:
        out += rdata
