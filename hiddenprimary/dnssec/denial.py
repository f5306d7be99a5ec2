"""Which NSEC or NSEC3 records prove a negative or wildcard answer (RFC 4035 3.1.3-3.1.4,
RFC 5155 7.2, RFC 7129), chosen from what a zone version holds: nothing here signs or builds a chain.

`prover(zone)` picks the kind of denial by the apex: an NSEC3PARAM (flags 0, SHA-1) -> `Nsec3`,
an NSEC -> `Nsec`, neither -> None (an unsigned zone gets no proofs). Each method returns the
records to add as (owner, node) pairs, each once, in the order to add them; `prover.rdtype` says
which type to take from each node (and the RRSIG covering it). A record the version lacks is left
out, never invented: a zone signed badly gets an incomplete proof, which validators then reject.

Names passed in are absolute and inside the zone; `ce` is the closest encloser (RFC 4592 3.3.1),
for a wildcard answer the parent of the wildcard that was used.

Cost: dnspython builds a Name in ~10 us and hashes one in ~5 us (both in Python), so this module
looks names up through the version's sorted indexes (bisect on bytes, no hashing) and hashes
NSEC3 names from label tuples, never building a Name. Repeats are dropped by node identity.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

import dns.name
import dns.rdatatype

from hiddenprimary.zone.version import ZoneVersion

_NSEC = dns.rdatatype.NSEC
_NSEC3 = dns.rdatatype.NSEC3
_NSEC3PARAM = dns.rdatatype.NSEC3PARAM
_NONE = dns.rdatatype.NONE
_SHA1 = 1  # RFC 5155 11: the only NSEC3 hash algorithm defined
_WILDCARD_LABEL = (b"*",)

Entry = tuple[dns.name.Name, Mapping]  # an owner and its node (rdatasets by (rdtype, covers))
Proof = list[Entry]
Labels = tuple[bytes, ...]


def prover(zone: ZoneVersion) -> Nsec | Nsec3 | None:
    """The proof builder for `zone`, or None when it holds no denial records at its apex."""
    holds = getattr(zone, "apex_holds", None)  # a compact version answers without decoding
    if holds is not None and not holds(_NSEC3PARAM) and not holds(_NSEC):
        return None
    params = zone.get(zone.origin, _NSEC3PARAM)
    if params is not None:
        for rdata in params:
            # RFC 5155 4.1.2: an NSEC3PARAM whose flags are not zero is not for the server.
            if rdata.flags == 0 and rdata.algorithm == _SHA1:
                return Nsec3(zone, rdata.salt, rdata.iterations)
    if zone.get(zone.origin, _NSEC) is not None:
        return Nsec(zone)
    return None


def prepare(zone: ZoneVersion) -> None:
    """Build `zone`'s denial index now rather than on its first negative DO=1 answer (measured
    per 100k names: ~0.3 s for NSEC, ~0.13 s for NSEC3), better spent on the reload thread than
    on the reactor's. The version's tree index too (ZoneVersion.prepare)."""
    zone.prepare()
    proofs = prover(zone)
    if isinstance(proofs, Nsec3):
        zone.nsec3_predecessor(b"")
    elif proofs is not None:
        zone.predecessor(zone.origin, _NSEC)


def nsec3_label(labels: Labels, salt: bytes, iterations: int) -> bytes:
    """The base32hex label, in lower case, of the SHA-1 NSEC3 hash (RFC 5155 5) of the absolute
    name with these labels. The same as `dns.dnssec.nsec3_hash` (tests compare them)."""
    wire = b"".join([bytes((len(label),)) + label.lower() for label in labels])  # canonical form
    digest = hashlib.sha1(wire + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return base64.b32hexencode(digest).lower()  # 20 octets: 32 characters, no padding


def _once(*parts: Proof) -> Proof:
    """The entries of `parts` in order, each node once."""
    seen: set[int] = set()
    out: Proof = []
    for part in parts:
        for entry in part:
            if id(entry[1]) not in seen:
                seen.add(id(entry[1]))
                out.append(entry)
    return out


class Nsec:
    """RFC 4035 3.1.3 and 3.1.4 with an NSEC chain."""

    __slots__ = ("zone",)
    rdtype = _NSEC

    def __init__(self, zone: ZoneVersion):
        self.zone = zone

    def covering(self, name: dns.name.Name) -> Proof:
        """The NSEC at `name`, or else at the last owner before it (which covers it)."""
        entry = self.zone.predecessor(name, _NSEC)
        return [] if entry is None else [entry]

    def matching(self, name: dns.name.Name) -> Proof:
        node = self.zone.node(name)
        return [(name, node)] if (_NSEC, _NONE) in node else []

    def nxdomain(self, qname: dns.name.Name, ce: dns.name.Name) -> Proof:
        """3.1.3.2: no `qname`, and no wildcard at its closest encloser."""
        return _once(self.covering(qname), self.covering(_wildcard(ce)))

    def nodata(self, qname: dns.name.Name) -> Proof:
        """3.1.3.1: the NSEC at `qname`. An empty non-terminal has none: the NSEC of the name
        before it, whose next name lies below it, shows it has no type (RFC 7129 3.2). One
        bisect finds either."""
        return self.covering(qname)

    def wildcard_answer(self, qname: dns.name.Name, ce: dns.name.Name) -> Proof:
        """3.1.3.3: no closer match than the wildcard, i.e. no `qname`."""
        return self.covering(qname)

    def wildcard_nodata(self, qname: dns.name.Name, ce: dns.name.Name) -> Proof:
        """3.1.3.4: no `qname`, and the wildcard's NSEC, which lacks the type (for a wildcard that
        is an empty non-terminal, the NSEC before it, as for any empty non-terminal)."""
        return _once(self.covering(qname), self.covering(_wildcard(ce)))

    def no_ds(self, cut: dns.name.Name) -> Proof:
        """3.1.4: a referral without DS: the NSEC at the cut, which lists no DS."""
        return self.matching(cut)


def _wildcard(ce: dns.name.Name) -> dns.name.Name:
    return dns.name.Name(_WILDCARD_LABEL + ce.labels)


class Nsec3:
    """RFC 5155 7.2 with an NSEC3 chain of the NSEC3PARAM's salt and iterations. Names are
    handled as label tuples: `qname.labels[-k:]` is the ancestor of `qname` with k labels."""

    __slots__ = ("zone", "salt", "iterations")
    rdtype = _NSEC3

    def __init__(self, zone: ZoneVersion, salt: bytes, iterations: int):
        self.zone = zone
        self.salt = salt
        self.iterations = iterations

    def _find(self, labels: Labels) -> tuple[Entry | None, bool]:
        """The NSEC3 matching or covering the name `labels`, and whether it matches."""
        hashed = nsec3_label(labels, self.salt, self.iterations)
        entry = self.zone.nsec3_predecessor(hashed)
        return entry, entry is not None and entry[0].labels[0].lower() == hashed

    def matching(self, labels: Labels) -> Proof:
        entry, match = self._find(labels)
        return [entry] if match else []

    def covering(self, labels: Labels) -> Proof:
        entry, _ = self._find(labels)
        return [] if entry is None else [entry]

    def closest_provable_encloser(self, qname: dns.name.Name, start: dns.name.Name) -> tuple[int, Proof]:
        """7.2.1: the closest ancestor-or-self of `qname`, from `start` up, that has a matching
        NSEC3 (as its number of labels), and its proof: that NSEC3, and the one covering the next
        closer name unless the encloser is `qname` itself (then the match alone is the NODATA
        proof). Starting at the closest encloser skips hashing names known not to exist; going
        further up passes the empty non-terminals an opt-out chain leaves out (7.1), so the
        encloser is the closest *provable* one."""
        labels = qname.labels
        depth, apex = len(start), len(self.zone.origin)
        match = self.matching(labels[-depth:])
        while not match and depth > apex:
            depth -= 1
            match = self.matching(labels[-depth:])
        if depth == len(labels):
            return depth, match
        return depth, _once(match, self.covering(labels[-(depth + 1) :]))

    def nxdomain(self, qname: dns.name.Name, ce: dns.name.Name) -> Proof:
        """7.2.2: closest encloser proof, and the NSEC3 covering the wildcard at the encloser."""
        depth, proof = self.closest_provable_encloser(qname, ce)
        return _once(proof, self.covering(_WILDCARD_LABEL + qname.labels[-depth:]))

    def nodata(self, qname: dns.name.Name) -> Proof:
        """7.2.3: the NSEC3 matching `qname`. Without one (a DS query at an opt-out delegation,
        7.2.4, or an empty non-terminal an opt-out chain skipped), the closest provable encloser
        proof, whose next closer NSEC3 has the opt-out flag."""
        return self.closest_provable_encloser(qname, qname)[1]

    def wildcard_answer(self, qname: dns.name.Name, ce: dns.name.Name) -> Proof:
        """7.2.6: the NSEC3 covering the next closer name (the RRSIG's label count tells the
        validator the closest encloser)."""
        return self.covering(qname.labels[-(len(ce) + 1) :])

    def wildcard_nodata(self, qname: dns.name.Name, ce: dns.name.Name) -> Proof:
        """7.2.5: closest encloser proof, and the NSEC3 matching the wildcard (lacking the type)."""
        next_closer = qname.labels[-(len(ce) + 1) :]
        return _once(self.matching(ce.labels), self.covering(next_closer), self.matching(_WILDCARD_LABEL + ce.labels))

    def no_ds(self, cut: dns.name.Name) -> Proof:
        """7.2.7: the NSEC3 matching the cut, or under opt-out the closest provable encloser proof."""
        return self.nodata(cut)
