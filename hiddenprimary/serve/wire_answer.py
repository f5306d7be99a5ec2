"""Positive answers written straight from a compact version's wire bytes: the fast twin of the
full path (`serve.responder`: dnspython parse, `serve.query.answer`, render) for the commonest
query there is, a name that exists asked for a type it holds.

It answers only what it can answer exactly as the full path would (tests/unit/test_wire_answer.py
compares the bytes under hypothesis), and returns None for everything else, which then takes the
full path: a query `answer_cache.preparse` does not accept (TSIG, EDNS options, several
questions, compression in the question...), DO set, a class other than IN, a version that is not
compact, a name that does not exist or lacks the type (NXDOMAIN, NODATA, a CNAME to follow,
wildcards), a name at or below a zone cut, NS and SRV (their additional records follow other
rules), MX in a zone with cuts, DNAME, SOA, DS and the DNSSEC and meta types (rules of their
own), and an answer that does not fit the size limit (truncation). A CNAME query at a CNAME is
answered here (nothing to follow), and MX with the A and AAAA of its in-zone targets, each once,
in the additional section, owned by the name as the MX record spells it.

The reply: the query's ID, QR and AA with the query's RD and CD, the question as the client wrote
it, the RRset with its owner compressed to the question (offset 12) and its rdata written as
dnspython writes it (names compressed in PTR, CNAME and MX rdata), then the OPT
record when the query had EDNS (version 0, our payload size, no flags: DO queries are not
answered here)."""

from __future__ import annotations

import struct

import dns.rdataclass
import dns.rdatatype

from hiddenprimary.serve import answer_cache
from hiddenprimary.zone import codec
from hiddenprimary.zone.store import Store
from hiddenprimary.zone.wire_compress import write_name, write_rdata
from hiddenprimary.zone.wire_load import in_zone
from hiddenprimary.zone.wire_version import WireVersion

_IN = dns.rdataclass.IN
_NONE = dns.rdatatype.NONE
# Types not answered here: NS and SRV get additional records by other rules, the rest have rules
# of their own. MX is answered with its in-zone targets' A and AAAA (zones without cuts).
_NOT_HERE = frozenset({
    dns.rdatatype.NS, dns.rdatatype.SRV, dns.rdatatype.DNAME,
    dns.rdatatype.SOA, dns.rdatatype.DS, dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3,
    dns.rdatatype.NSEC3PARAM, dns.rdatatype.DNSKEY, dns.rdatatype.ANY, dns.rdatatype.AXFR,
    dns.rdatatype.IXFR, dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.TKEY, dns.rdatatype.MAILA,
    dns.rdatatype.MAILB,
})
_RR = struct.Struct("!HHHIH")  # pointer to the question, type, class, TTL, RDLENGTH
_HEADER_COUNTS = struct.Struct("!HHHH")
_QR_AA = 0x84  # third header octet
_RD = 0x01
_CD = 0x10
_QUESTION_POINTER = 0xC00C
_OPT = struct.Struct("!BHHIH")  # root, OPT, payload, ext-rcode/version/flags, RDLENGTH
_TYPE_CLASS_TTL = struct.Struct("!HHI")
_U16 = struct.Struct("!H")
_MX = dns.rdatatype.MX
_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


def answer(store: Store, query: answer_cache.Preparsed, wire: bytes) -> bytes | None:
    """The reply to the plain query `wire` (already preparsed), or None for the full path."""
    qname, qtype, qclass, do, edns, limit, _transport, max_udp_payload = query.key
    if do or qclass != _IN or qtype in _NOT_HERE:
        return None
    zone = answer_cache.zone_of(store, query)
    if zone is None:
        return None
    version = store.current(zone)
    if not isinstance(version, WireVersion):
        return None
    data = version.packed_at(qname)
    if data is None or (version.has_cuts() and version.under_cut(qname)):
        return None
    for _owner, rdtype, covers, ttl, rdatas in codec.rrsets(data):
        if rdtype == qtype and covers == _NONE:
            break
    else:
        return None
    additional = []
    if rdtype == _MX:
        if version.has_cuts():
            return None
        additional = _addresses(version, rdatas)
    end = query.question_end
    out = bytearray(wire[:2])
    out.append(_QR_AA | (wire[2] & _RD))
    out.append(wire[3] & _CD)
    extra = sum(len(rrset[3]) for rrset in additional)
    out += _HEADER_COUNTS.pack(1, len(rdatas), 0, extra + (1 if edns else 0))
    out += wire[12:end]
    compress = {qname[start:]: 12 + start for start in query.label_starts[:-1]}
    for rdata in rdatas:
        at = len(out)
        out += _RR.pack(_QUESTION_POINTER, rdtype, _IN, ttl, 0)
        write_rdata(out, rdtype, rdata, compress)
        struct.pack_into("!H", out, at + 10, len(out) - at - 12)
    for owner, rdtype, ttl, rdatas in additional:
        head = _TYPE_CLASS_TTL.pack(rdtype, _IN, ttl)
        for rdata in rdatas:
            write_name(out, owner, compress)
            out += head
            out += _U16.pack(len(rdata))
            out += rdata
    if edns:
        out += _OPT.pack(0, dns.rdatatype.OPT, max_udp_payload, 0, 0)
    if len(out) > limit:
        return None  # truncation: the full path's rules
    return bytes(out)


def _addresses(version: WireVersion, exchanges: list[bytes]) -> list[tuple[bytes, int, int, list[bytes]]]:
    """The A and AAAA RRsets of the in-zone MX targets, each target once, owned by the name as
    the MX record spells it (serve.query's additional section)."""
    apex = version.apex_key
    out, seen = [], set()
    for rdata in exchanges:
        target = rdata[2:]
        key = target.lower()
        if key in seen:
            continue
        seen.add(key)
        data = version.packed_at(key) if in_zone(key, apex) else None
        if data is None:
            continue
        found = {rdtype: (ttl, rdatas) for _o, rdtype, covers, ttl, rdatas in codec.rrsets(data) if covers == _NONE}
        for rdtype in _ADDRESS_TYPES:
            if rdtype in found:
                out.append((target, rdtype, *found[rdtype]))
    return out
