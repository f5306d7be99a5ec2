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
- qtype ANY: every RRset at the name (RRSIGs only with DO). With `minimal_any` (the responder sets
  it for UDP) only one, as RFC 8482 4.1 allows and BIND's `minimal-any` does: the RRset of the
  lowest type number at the name, RRSIG aside, with its RRSIG when DO is set; a real, signed
  RRset, where 4.2's synthesized HINFO would need signing on the fly. That stops ANY over UDP
  from amplifying (27x with DO before); TCP still gets the full set. ANY does not follow a CNAME
  (the CNAME is what exists at the name).
- qclass must be IN: anything else (CH `version.bind`, HS, ANY, NONE) is REFUSED.
- Meta qtypes as in BIND's `ns_query_start`: MAILA/MAILB/TKEY -> NOTIMP, OPT/TSIG -> FORMERR;
  AXFR/IXFR reaching here are REFUSED (the responder routes transfers, this module never streams).
- With the DO bit set, RRSIGs covering each RRset added are included when the version holds them
  (a wildcard's RRSIG keeps its label count: RFC 4035 5.3.4 needs it), and the SOA's RRSIG of a
  negative answer gets the SOA's RFC 2308 TTL (as BIND).
- With DO, denial of existence comes from the version's own records (`dnssec.denial`): NSEC3 when
  the apex has an NSEC3PARAM with flags 0, else NSEC when the apex has one, else nothing (an
  unsigned zone). NXDOMAIN, NODATA (empty non-terminals: the covering NSEC), wildcard answers and
  wildcard NODATA get RFC 4035 3.1.3 / RFC 5155 7.2.2-7.2.6 proofs; referrals without DS get the
  NSEC/NSEC3 at the cut or, under opt-out, the closest provable encloser proof (3.1.4, 7.2.7);
  along a CNAME chain, every wildcard step and the final name get theirs. The records go in
  authority after the SOA (or NS/DS) with their RRSIGs, each once. A missing NSEC3 for an empty
  non-terminal (opt-out) or a DS query at an opt-out cut gives the closest provable encloser proof
  (7.2.4). A name holding only NSEC3 records does not exist for queries (RFC 5155 7.2.9, as
  BIND), whatever DO says.
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

from hiddenprimary.dnssec import denial
from hiddenprimary.serve.request import reply_skeleton
from hiddenprimary.zone.version import ZoneVersion

MAX_CNAME_CHAIN = 16  # CNAME hops followed inside one zone (BIND's max-restarts is 11, Knot's 20)

_A = dns.rdatatype.A
_AAAA = dns.rdatatype.AAAA
_ANY = dns.rdatatype.ANY
_CNAME = dns.rdatatype.CNAME
_DS = dns.rdatatype.DS
_MX = dns.rdatatype.MX
_NS = dns.rdatatype.NS
_NSEC3 = dns.rdatatype.NSEC3
_NONE = dns.rdatatype.NONE
_SOA = dns.rdatatype.SOA
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
_NSEC3_ONLY = frozenset({(_NSEC3, _NONE), (_RRSIG, _NSEC3)})
_NOT_LOOKED_UP = object()
_NSEC3_LABEL_SIZE = 32  # base32hex of a SHA-1 hash (RFC 5155 3), the only NSEC3 hash defined


def answer(zone: ZoneVersion, request: dns.message.Message, *, minimal_any: bool = False) -> dns.message.Message:
    """The authoritative response of `zone` to the one-question query `request`. With
    `minimal_any`, qtype ANY gets one RRset (RFC 8482 4.1), not all of them.

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
    _Answer(zone, response, bool(request.ednsflags & _DO), minimal_any).resolve(qname, qtype)
    return response


_DENIAL_TYPES = frozenset({dns.rdatatype.NSEC, dns.rdatatype.NSEC3})


def _rdtype(rds: dns.rdataset.Rdataset) -> int:
    return rds.rdtype


def negative_soa(zone: ZoneVersion) -> dns.rrset.RRset:
    """The zone's SOA as sent in a negative answer: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 3)."""
    soa = zone.soa
    rrset = _rrset(zone.origin, soa)
    rrset.ttl = min(soa.ttl, soa[0].minimum)
    return rrset


def _rrset(owner: dns.name.Name, rds: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    """A new RRset named `owner` holding `rds`'s records (the version's rdataset is never touched).
    The records are copied as the set's dict: `update` would hash each rdata again, rendering it
    to wire twice, which was most of the cost of an answer with RRSIGs and NSECs."""
    rrset = dns.rrset.RRset(owner, rds.rdclass, rds.rdtype, rds.covers)
    rrset.ttl = rds.ttl
    rrset.items.update(rds.items)
    return rrset


class _Answer:
    """Fills one response. Tracks what was added so nothing appears twice.

    With DO, `proofs()` (None for an unsigned zone) names the NSEC/NSEC3 records each step
    needs; they are collected in `_proof` and added to authority at the end, after the SOA or NS."""

    __slots__ = ("zone", "response", "dnssec", "minimal_any", "_prover", "_added", "_proof")

    def __init__(self, zone: ZoneVersion, response: dns.message.Message, dnssec: bool, minimal_any: bool = False):
        self.zone = zone
        self.response = response
        self.dnssec = dnssec
        self.minimal_any = minimal_any
        self._prover: object = _NOT_LOOKED_UP if dnssec else None
        self._added: set[tuple[dns.name.Name, int, int]] = set()
        self._proof: denial.Proof = []
        response.flags |= _AA

    # -- RFC 1034 4.3.2 ------------------------------------------------------------------------

    def resolve(self, qname: dns.name.Name, qtype: int) -> None:
        self._resolve(qname, qtype)
        if self._proof:
            self.add_proof()

    def _resolve(self, qname: dns.name.Name, qtype: int) -> None:
        zone = self.zone
        name = qname
        visited = {qname}
        for _ in range(MAX_CNAME_CHAIN + 1):
            cut = zone.delegation_above(name)
            if cut is not None and not (qtype == _DS and cut == name):
                self.referral(cut)
                return
            if self.exists(name):
                source = name
            else:
                # RFC 4592 3.3.1: the only candidate is the source of synthesis *.<closest encloser>.
                ce = self.closest_encloser(name)
                source = dns.name.Name(_WILDCARD_LABEL + ce.labels)
                if not zone.name_exists(source):
                    self.negative(dns.rcode.NXDOMAIN)
                    proofs = self.proofs()
                    if proofs is not None:
                        self._proof += proofs.nxdomain(name, ce)
                    return
            if qtype == _ANY:
                self.any(name, source)
                return
            rds = zone.get(source, qtype)
            if rds is not None:
                self.add(self.response.answer, name, rds, source)
                self.wildcard_proof(name, source)
                self.additional_for(rds)
                return
            cname = zone.get(source, _CNAME) if qtype != _CNAME else None
            if cname is None:
                self.nodata(name, source)
                return
            self.add(self.response.answer, name, cname, source)
            self.wildcard_proof(name, source)
            target = cname[0].target
            if target in visited or not target.is_subdomain(zone.origin):
                return  # a loop, or a chain leaving the zone: the client follows it (RFC 1034 4.3.2)
            visited.add(target)
            name = target
        # MAX_CNAME_CHAIN hops: stop with what we have, as BIND does at max-restarts.

    def proofs(self) -> denial.Nsec | denial.Nsec3 | None:
        """The zone's proof builder with DO, else None; looked up when first needed (a positive
        answer never needs it)."""
        if self._prover is _NOT_LOOKED_UP:
            self._prover = denial.prover(self.zone)
        return self._prover  # type: ignore[return-value]

    def exists(self, name: dns.name.Name) -> bool:
        """Whether `name` exists for answering: RFC 5155 7.2.9 treats a name holding only an NSEC3
        (and its RRSIG) as absent, as BIND does by keeping NSEC3 records apart."""
        return self.zone.name_exists(name) and not self.nsec3_only(name)

    def nsec3_only(self, name: dns.name.Name) -> bool:
        zone = self.zone
        labels = name.labels
        if len(labels) != len(zone.origin.labels) + 1 or len(labels[0]) != _NSEC3_LABEL_SIZE:
            return False  # cannot be an NSEC3 owner: skip the lookup (hashing a Name costs ~5 us)
        node = zone.node(name)
        return (_NSEC3, _NONE) in node and node.keys() <= _NSEC3_ONLY

    def closest_encloser(self, name: dns.name.Name) -> dns.name.Name:
        """The closest encloser of a name that does not exist, NSEC3 owners skipped (7.2.9)."""
        zone = self.zone
        ce = zone.closest_encloser(name)
        while self.nsec3_only(ce):
            ce = zone.closest_encloser(ce.parent())
        return ce

    def any(self, name: dns.name.Name, source: dns.name.Name) -> None:
        # RRSIGs are added next to the RRset each one covers, when DO is set.
        rrsets = [rds for rds in self.zone.rdatasets_at(source) if rds.rdtype != _RRSIG]
        if not rrsets:
            self.nodata(name, source)
            return
        if self.minimal_any:
            # RFC 8482 4.1: one RRset, the lowest type; not the signer's NSEC/NSEC3 where the
            # name holds data of its own (useless to the asker).
            data = [rds for rds in rrsets if rds.rdtype not in _DENIAL_TYPES] or rrsets
            rrsets = [min(data, key=_rdtype)]
        for rds in rrsets:
            self.add(self.response.answer, name, rds, source)
        self.wildcard_proof(name, source)
        for rds in rrsets:
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
            elif (proofs := self.proofs()) is not None:
                self._proof += proofs.no_ds(cut)  # RFC 4035 3.1.4, RFC 5155 7.2.7
        for rdata in ns:
            target = rdata.target
            if target.is_subdomain(zone.origin):
                self.addresses(target)

    def nodata(self, name: dns.name.Name, source: dns.name.Name) -> None:
        """NODATA (RFC 2308 2.2) at `name`, whose data lives at `source` (a wildcard, or itself)."""
        self.negative(dns.rcode.NOERROR)
        proofs = self.proofs()
        if proofs is None:
            return
        if source is name:  # `resolve` and `any` pass the very object when no wildcard was used
            self._proof += proofs.nodata(name)
        else:
            self._proof += proofs.wildcard_nodata(name, source.parent())

    def wildcard_proof(self, name: dns.name.Name, source: dns.name.Name) -> None:
        """A synthesized answer also proves the query name does not exist (RFC 4035 3.1.3.3)."""
        if source is not name and (proofs := self.proofs()) is not None:
            self._proof += proofs.wildcard_answer(name, source.parent())

    def negative(self, rcode: int) -> None:
        """NXDOMAIN or NODATA: the SOA with the RFC 2308 3 TTL in authority, and with DO its
        RRSIG with that TTL too (as BIND; the validator uses the RRSIG's original TTL field)."""
        zone = self.zone
        self.response.set_rcode(rcode)
        soa = negative_soa(zone)
        self.response.authority.append(soa)
        if self.dnssec:
            sig = zone.get(zone.origin, _RRSIG, _SOA)
            if sig is not None:
                rrsig = _rrset(zone.origin, sig)
                rrsig.ttl = min(sig.ttl, soa.ttl)
                self.response.authority.append(rrsig)

    # -- building sections -------------------------------------------------------------------

    def add_proof(self) -> None:
        """The NSEC/NSEC3 records collected, with their RRSIGs, in authority, each once. They
        bypass `_added` (hashing names costs): no other RRset of these types can be in the
        response under the same owner, since a proof is only sent where the name has no data
        of the type asked, and synthesized RRsets are owned by the query name, not a wildcard."""
        proofs = self.proofs()
        assert proofs is not None
        key, sig_key = (proofs.rdtype, _NONE), (_RRSIG, proofs.rdtype)
        authority = self.response.authority
        seen: set[int] = set()
        for owner, node in self._proof:
            if id(node) in seen:
                continue
            seen.add(id(node))
            authority.append(_rrset(owner, node[key]))
            sig = node.get(sig_key)
            if sig is not None:
                authority.append(_rrset(owner, sig))

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
