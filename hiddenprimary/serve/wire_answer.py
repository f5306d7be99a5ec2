"""Answers written straight from a compact version's wire bytes: the fast twin of the full path
(`serve.responder`: dnspython parse, `serve.query.answer`, render) for the queries that make up
nearly all traffic: a name asked for a type it holds, a CNAME chain inside the zone (loops, chains
leaving the zone and MAX_CNAME_CHAIN as serve.query), wildcards (RFC 4592: the source of synthesis
*.<closest encloser>, records owned by the name asked), NXDOMAIN and NODATA (the SOA with its RFC
2308 TTL in authority; the rcode of the chain's last name).

It answers only what it can answer exactly as the full path would (tests/unit/test_wire_answer.py
compares the bytes under hypothesis and for every name and type of its zones), and returns None
for everything else, which then takes the full path: a query `answer_cache.preparse` does not
accept (TSIG, EDNS options, several questions, compression in the question...), DO set, a class
other than IN, a version that is not compact, any step at or below a zone cut (referrals), a name
right below the apex with a 32-octet label (it may hold only NSEC3, which does not exist for
queries: RFC 5155 7.2.9), qtypes NS and SRV (their additional records follow other rules), MX in a
zone with cuts, DNAME, DS and the DNSSEC and meta types (rules of their own), and an answer
that does not fit the size limit (truncation). MX answers get the A and AAAA of their in-zone
targets, each once, in the additional section, owned by the name as the MX record spells it.

The reply: the query's ID, QR and AA with the query's RD and CD, the rcode, the question as the
client wrote it, the answer RRsets (the first owned by the question, offset 12; the next by each
CNAME target as its record spells it), names compressed as dnspython compresses them, then the
SOA for a denial, the MX targets' addresses, and the OPT record when the query had EDNS (version
0, our payload size, no flags: DO queries are not answered here)."""

from __future__ import annotations

import struct

import dns.rcode
import dns.rdataclass
import dns.rdatatype

from hiddenprimary.serve import answer_cache
from hiddenprimary.serve.query import MAX_CNAME_CHAIN
from hiddenprimary.zone import codec
from hiddenprimary.zone.version import ZoneVersion
from hiddenprimary.zone.wire_compress import NAMES_IN_RDATA, write_name, write_rdata
from hiddenprimary.zone.wire_load import in_zone
from hiddenprimary.zone.wire_version import WireVersion

_IN = dns.rdataclass.IN
_NONE = dns.rdatatype.NONE
# Types not answered here: NS and SRV get additional records by other rules, the rest have rules
# of their own. MX is answered with its in-zone targets' A and AAAA (zones without cuts).
_NOT_HERE = frozenset({
    dns.rdatatype.NS, dns.rdatatype.SRV, dns.rdatatype.DNAME,
    dns.rdatatype.DS, dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3,
    dns.rdatatype.NSEC3PARAM, dns.rdatatype.DNSKEY, dns.rdatatype.ANY, dns.rdatatype.AXFR,
    dns.rdatatype.IXFR, dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.TKEY, dns.rdatatype.MAILA,
    dns.rdatatype.MAILB,
})
_HEADER_COUNTS = struct.Struct("!HHHH")
_QR_AA = 0x84  # third header octet
_RD = 0x01
_CD = 0x10
_POINTER_TO_QUESTION = b"\xc0\x0c"
_OPT = struct.Struct("!BHHIH")  # root, OPT, payload, ext-rcode/version/flags, RDLENGTH
_TYPE_CLASS_TTL = struct.Struct("!HHI")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_CNAME = dns.rdatatype.CNAME
_SOA = dns.rdatatype.SOA
_NOERROR = dns.rcode.NOERROR
_NXDOMAIN = dns.rcode.NXDOMAIN
_NSEC3_LABEL_SIZE = 32  # base32hex of a SHA-1 hash (RFC 5155 3)
_MX = dns.rdatatype.MX
_NAMES_IN_RDATA = NAMES_IN_RDATA
_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


def answer(version: ZoneVersion, query: answer_cache.Preparsed, wire: bytes) -> bytes | None:
    """The reply to the plain query `wire` (already preparsed) from `version`, the current
    version of the zone holding its name (`answer_cache.version_of`), or None for the full path."""
    qname, qtype, qclass, do, edns, limit, _transport, max_udp_payload = query.key
    if do or qclass != _IN or qtype in _NOT_HERE:
        return None
    if not isinstance(version, WireVersion):
        return None
    found = _resolve(version, qname, qtype)
    if found is None:
        return None
    rcode, answers, negative = found
    additional: list[tuple[bytes, int, int, list[bytes]]] = []
    if answers and answers[-1][1] == _MX and not negative:
        if version.has_cuts():
            return None  # targets below a cut: glue rules
        additional = _addresses(version, answers[-1][3])
    end = query.question_end
    out = bytearray(wire[:2])
    out.append(_QR_AA | (wire[2] & _RD))
    out.append((wire[3] & _CD) | rcode)
    extra = sum(len(rrset[3]) for rrset in additional)
    out += _HEADER_COUNTS.pack(1, sum(len(rrset[3]) for rrset in answers), 1 if negative else 0,
                               extra + (1 if edns else 0))
    out += wire[12:end]
    # The question's suffixes, for names to compress: made only when a name is written.
    compress: dict[bytes, int] | None = None
    for owner, rdtype, ttl, rdatas in answers:
        head = _TYPE_CLASS_TTL.pack(rdtype, _IN, ttl)
        if owner is None and rdtype not in _NAMES_IN_RDATA:
            for rdata in rdatas:
                out += _POINTER_TO_QUESTION
                out += head
                out += _U16.pack(len(rdata))
                out += rdata
            continue
        if compress is None:
            compress = _question_suffixes(query)
        for rdata in rdatas:
            if owner is None:
                out += _POINTER_TO_QUESTION
            else:
                write_name(out, owner, compress)
            out += head
            at = len(out)
            out += b"\0\0"
            write_rdata(out, rdtype, rdata, compress)
            _U16.pack_into(out, at, len(out) - at - 2)
    if compress is None and (negative or additional):
        compress = _question_suffixes(query)
    if negative:
        ttl, soa = _negative_soa(version)
        write_name(out, version.apex_key, compress)
        out += _TYPE_CLASS_TTL.pack(_SOA, _IN, ttl)
        at = len(out)
        out += b"\0\0"
        write_rdata(out, _SOA, soa, compress)
        _U16.pack_into(out, at, len(out) - at - 2)
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


def _question_suffixes(query: answer_cache.Preparsed) -> dict[bytes, int]:
    """The compression table after the question: each suffix of the qname (not the root) at its
    offset in the message."""
    qname = query.key[0]
    return {qname[start:]: 12 + start for start in query.label_starts[:-1]}


# (owner as spelled, or None for the question's name; rdtype; TTL; rdatas)
_Answer = tuple["bytes | None", int, int, list[bytes]]


def _resolve(version: WireVersion, qname: bytes, qtype: int) -> tuple[int, list[_Answer], bool] | None:
    """RFC 1034 4.3.2 as serve.query's `_Answer._resolve` does it, for zones and names it can
    answer exactly: (rcode, answer RRsets, negative: the SOA goes in authority), or None when a
    step needs the full path (a name at or below a cut, a name that may hold only NSEC3)."""
    apex = version.apex_key
    cuts = version.has_cuts()
    answers: list[_Answer] = []
    name, owner = qname, None
    visited = {qname}
    for _ in range(MAX_CNAME_CHAIN + 1):
        if (cuts and version.under_cut(name)) or _may_be_nsec3(name, apex):
            return None  # a referral, or RFC 5155 7.2.9
        data = version.packed_at(name)
        if data is None and not version.name_key_exists(name):
            encloser = name[name[0] + 1:]
            while not version.name_key_exists(encloser):
                encloser = encloser[encloser[0] + 1:]
            if _may_be_nsec3(encloser, apex):
                return None
            source = b"\x01*" + encloser  # RFC 4592 3.3.1: the only source of synthesis
            if not version.name_key_exists(source):
                return _NXDOMAIN, answers, True
            if cuts and version.under_cut(source):
                return None
            data = version.packed_at(source)
        if data is None:
            return _NOERROR, answers, True  # an empty non-terminal (or wildcard): NODATA
        found = codec.pick(data, qtype, _CNAME)
        if found is None:
            return _NOERROR, answers, True
        rdtype, ttl, rdatas = found
        answers.append((owner, rdtype, ttl, rdatas))
        if rdtype == qtype:
            return _NOERROR, answers, False
        target = rdatas[0]
        key = target.lower()
        if key in visited or not in_zone(key, apex):
            return _NOERROR, answers, False  # a loop, or a chain leaving the zone
        visited.add(key)
        name, owner = key, target
    return _NOERROR, answers, False  # MAX_CNAME_CHAIN hops: what we have (as the full path)


def _may_be_nsec3(key: bytes, apex: bytes) -> bool:
    """A name right below the apex with a 32-octet first label may be an NSEC3 owner, which
    does not exist for queries: the full path decides (it checks what the name holds)."""
    return key[0] == _NSEC3_LABEL_SIZE and len(key) == len(apex) + _NSEC3_LABEL_SIZE + 1


def _negative_soa(version: WireVersion) -> tuple[int, bytes]:
    """The SOA's RFC 2308 3 TTL (min of its TTL and MINIMUM) and its rdata."""
    _rdtype, ttl, (soa,) = codec.pick(version.packed_at(version.apex_key), _SOA, _SOA)  # always there
    return min(ttl, _U32.unpack_from(soa, len(soa) - 4)[0]), soa


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
