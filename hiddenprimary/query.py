"""Answering one query from one zone version, as an authoritative server (RFC 1034 4.3.2).

`answer(zone, request)` is pure: it reads the version only through `ZoneVersion`'s public read
interface and returns an unrendered dnspython message. EDNS, size limits and truncation belong to
`responder.py`; transfers (AXFR/IXFR) and NOTIFY are routed elsewhere before reaching here.

Decisions pinned by tests (grep the RFC phrase in tests/unit/test_query.py):

- AA is set on every answer from the zone's own data, NXDOMAIN and NODATA included; it is clear on
  referrals and on REFUSED/FORMERR/NOTIMP.
- CNAMEs are followed inside the zone (RFC 1034 4.3.2 step 3.a) for at most `MAX_CNAME_CHAIN` hops,
  stopping at a loop, at a target outside the zone, or at a zone cut (where the referral goes into
  authority/additional while AA stays set, because the first answer RRset is ours: RFC 1035 4.1.1).
  The rcode is the one of the last name in the chain (RFC 6604 2.1): a chain ending at a missing
  name is NXDOMAIN with the CNAMEs in the answer.
- Wildcards (RFC 4592): the source of synthesis is `*.<closest encloser>` when that name exists
  (an empty non-terminal wildcard gives NODATA); a wildcard never matches a name that exists
  (empty non-terminals included) nor a name at or below a zone cut. Synthesized RRsets are owned by
  the query name; a wildcard CNAME is followed like any other.
- Referrals (RFC 1034 4.3.2 step 3.b): the topmost cut's NS in authority, AA clear, A/AAAA of every
  NS target inside this zone in additional. Those below the cut are required glue (RFC 9471; the
  responder sets TC when they do not fit). A DS query for the cut itself is answered from the
  parent side (RFC 4035 3.1.4.1): the DS RRset, or authoritative NODATA.
- Negative answers (RFC 2308 3): the zone's SOA in authority with TTL = min(SOA TTL, SOA MINIMUM).
- Additional section: A/AAAA for MX, NS and SRV targets inside the zone, not for names below a cut
  (that data is not ours), except for NS answers, which also get in-zone glue.
- qtype ANY: every RRset at the name (RRSIGs only with DO), not RFC 8482's minimal answer. This is
  a hidden primary, queried by its secondaries and operators, where the full set is the useful
  answer; an over-size ANY over UDP is truncated and comes back over TCP. ANY does not follow a
  CNAME (the CNAME is what exists at the name).
- qclass must be IN: anything else (CH `version.bind`, HS, ANY, NONE) is REFUSED.
- Meta qtypes as in BIND's `ns_query_start`: MAILA/MAILB/TKEY -> NOTIMP, OPT/TSIG -> FORMERR;
  AXFR/IXFR reaching here are REFUSED (the responder routes transfers, this module never streams).
- With the DO bit set, RRSIGs covering each RRset added are included when the version holds them.
  Denial-of-existence proofs (NSEC/NSEC3) are not added yet: that is the DNSSEC work's to do.
- Order inside each section is deterministic for a given version (rendering does not shuffle),
  which makes rendered responses cacheable byte for byte.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from hiddenprimary.request import reply_skeleton
from hiddenprimary.zone.version import ZoneVersion

MAX_CNAME_CHAIN = 16  # CNAME hops followed inside one zone (BIND's max-restarts is 11, Knot's 20)

_A = dns.rdatatype.A
_AAAA = dns.rdatatype.AAAA
_ANY = dns.rdatatype.ANY
_CNAME = dns.rdatatype.CNAME
_DS = dns.rdatatype.DS
_MX = dns.rdatatype.MX
_NS = dns.rdatatype.NS
_RRSIG = dns.rdatatype.RRSIG
_SRV = dns.rdatatype.SRV
_IN = dns.rdataclass.IN
_DO = int(dns.flags.DO)
_AA = dns.flags.AA

_NOTIMP_QTYPES = frozenset({dns.rdatatype.MAILA, dns.rdatatype.MAILB, dns.rdatatype.TKEY})
_FORMERR_QTYPES = frozenset({dns.rdatatype.OPT, dns.rdatatype.TSIG})
_TRANSFER_QTYPES = frozenset({dns.rdatatype.AXFR, dns.rdatatype.IXFR})
_ADDRESS_TYPES = (_A, _AAAA)
_WILDCARD_LABEL = (b"*",)


def answer(zone: ZoneVersion, request: dns.message.Message) -> dns.message.Message:
    """The authoritative response of `zone` to the one-question query `request`.

    The returned message has no OPT: the responder adds EDNS and renders it within the size
    limit of the transport. It never raises for a well-formed request; callers still treat an
    exception as SERVFAIL.
    """
    response = reply_skeleton(request)
    if request.opcode() != dns.opcode.QUERY or len(request.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = request.question[0]
    qname, qtype = question.name, question.rdtype
    if question.rdclass != _IN or not qname.is_subdomain(zone.origin):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    if qtype in _TRANSFER_QTYPES:
        response.set_rcode(dns.rcode.REFUSED)
        return response
    if qtype in _NOTIMP_QTYPES:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    if qtype in _FORMERR_QTYPES:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    _Answer(zone, response, bool(request.ednsflags & _DO)).resolve(qname, qtype)
    return response


def negative_soa(zone: ZoneVersion) -> dns.rrset.RRset:
    """The zone's SOA as sent in a negative answer: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 3)."""
    soa = zone.soa
    rrset = _rrset(zone.origin, soa)
    rrset.ttl = min(soa.ttl, soa[0].minimum)
    return rrset


def _rrset(owner: dns.name.Name, rds: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    """A new RRset named `owner` holding `rds`'s records (the version's rdataset is never touched)."""
    rrset = dns.rrset.RRset(owner, rds.rdclass, rds.rdtype, rds.covers)
    rrset.update(rds)
    return rrset


class _Answer:
    """Fills one response. Tracks what was added so nothing appears twice."""

    __slots__ = ("zone", "response", "dnssec", "_added")

    def __init__(self, zone: ZoneVersion, response: dns.message.Message, dnssec: bool):
        self.zone = zone
        self.response = response
        self.dnssec = dnssec
        self._added: set[tuple[dns.name.Name, int, int]] = set()
        response.flags |= _AA

    # -- RFC 1034 4.3.2 ------------------------------------------------------------------------

    def resolve(self, qname: dns.name.Name, qtype: int) -> None:
        zone = self.zone
        name = qname
        visited = {qname}
        for _ in range(MAX_CNAME_CHAIN + 1):
            cut = zone.delegation_above(name)
            if cut is not None and not (qtype == _DS and cut == name):
                self.referral(cut)
                return
            if zone.name_exists(name):
                source = name
            else:
                # RFC 4592 3.3.1: the only candidate is the source of synthesis *.<closest encloser>.
                source = dns.name.Name(_WILDCARD_LABEL + zone.closest_encloser(name).labels)
                if not zone.name_exists(source):
                    self.negative(dns.rcode.NXDOMAIN)
                    return
            if qtype == _ANY:
                self.any(name, source)
                return
            rds = zone.get(source, qtype)
            if rds is not None:
                self.add(self.response.answer, name, rds, source)
                self.additional_for(rds)
                return
            cname = zone.get(source, _CNAME) if qtype != _CNAME else None
            if cname is None:
                self.negative(dns.rcode.NOERROR)  # NODATA (RFC 2308 2.2)
                return
            self.add(self.response.answer, name, cname, source)
            target = cname[0].target
            if target in visited or not target.is_subdomain(zone.origin):
                return  # a loop, or a chain leaving the zone: the client follows it (RFC 1034 4.3.2)
            visited.add(target)
            name = target
        # MAX_CNAME_CHAIN hops: stop with what we have, as BIND does at max-restarts.

    def any(self, name: dns.name.Name, source: dns.name.Name) -> None:
        found = False
        for rds in self.zone.rdatasets_at(source):
            if rds.rdtype == _RRSIG:
                continue  # added next to the RRset each one covers, when DO is set
            self.add(self.response.answer, name, rds, source)
            found = True
        if not found:
            self.negative(dns.rcode.NOERROR)
            return
        for rds in self.zone.rdatasets_at(source):
            self.additional_for(rds)

    def referral(self, cut: dns.name.Name) -> None:
        """RFC 1034 4.3.2 step 3.b. AA stays set only when a CNAME chain led here."""
        zone = self.zone
        response = self.response
        if not response.answer:
            response.flags &= ~_AA
        ns = zone.get(cut, _NS)
        assert ns is not None  # a cut is a name with NS
        self.add(response.authority, cut, ns)
        if self.dnssec:
            ds = zone.get(cut, _DS)
            if ds is not None:
                self.add(response.authority, cut, ds)
        for rdata in ns:
            target = rdata.target
            if target.is_subdomain(zone.origin):
                self.addresses(target)

    def negative(self, rcode: int) -> None:
        """NXDOMAIN or NODATA: the SOA with the RFC 2308 3 TTL in authority."""
        self.response.set_rcode(rcode)
        self.response.authority.append(negative_soa(self.zone))

    # -- building sections -------------------------------------------------------------------

    def add(
        self,
        section: list[dns.rrset.RRset],
        owner: dns.name.Name,
        rds: dns.rdataset.Rdataset,
        source: dns.name.Name | None = None,
    ) -> None:
        """Append `rds` as owned by `owner` (the query name for a wildcard expansion, whose data
        lives at `source`), and, with DO, the RRSIG covering it."""
        key = (owner, rds.rdtype, rds.covers)
        if key in self._added:
            return
        self._added.add(key)
        section.append(_rrset(owner, rds))
        if self.dnssec and rds.rdtype != _RRSIG:
            sig = self.zone.get(source if source is not None else owner, _RRSIG, rds.rdtype)
            if sig is not None:
                self._added.add((owner, _RRSIG, rds.rdtype))
                section.append(_rrset(owner, sig))

    def additional_for(self, rds: dns.rdataset.Rdataset) -> None:
        rdtype = rds.rdtype
        if rdtype == _MX:
            targets = [rdata.exchange for rdata in rds]
        elif rdtype == _NS or rdtype == _SRV:
            targets = [rdata.target for rdata in rds]
        else:
            return
        zone = self.zone
        for target in targets:
            if not target.is_subdomain(zone.origin):
                continue
            if rdtype != _NS and zone.delegation_above(target) is not None:
                continue  # below a cut: glue, not our data
            self.addresses(target)

    def addresses(self, target: dns.name.Name) -> None:
        for rdtype in _ADDRESS_TYPES:
            rds = self.zone.get(target, rdtype)
            if rds is not None:
                self.add(self.response.additional, target, rds)
