"""NSEC denial of existence (RFC 4034 4, RFC 4035 2.3): one NSEC per authoritative name and per
delegation point, in canonical order, the last pointing back at the apex.

Also `authoritative_names`, the walk the signer shares: which owners the zone is authoritative for
and which are zone cuts. Names below a cut (glue) or below a DNAME are occluded (RFC 6672 2.4):
they get neither NSEC nor RRSIG."""

from __future__ import annotations

import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.NSEC

from hiddenprimary.zone.version import ZoneVersion

_NS = dns.rdatatype.NS
_DS = dns.rdatatype.DS
_SOA = dns.rdatatype.SOA
_DNAME = dns.rdatatype.DNAME
_NSEC = dns.rdatatype.NSEC
_NSEC3 = dns.rdatatype.NSEC3
_RRSIG = dns.rdatatype.RRSIG
_NONE = dns.rdatatype.NONE

# Types the signer makes itself: never taken from the unsigned input into a bitmap.
SIGNER_TYPES = frozenset({_RRSIG, _NSEC, _NSEC3})


def authoritative_names(version: ZoneVersion) -> list[tuple[dns.name.Name, bool]]:
    """(owner, is_delegation_point) for every owner that gets an NSEC, in canonical order.
    Owners strictly below a zone cut or a DNAME are left out; empty non-terminals are not owners."""
    origin = version.origin
    out: list[tuple[dns.name.Name, bool]] = []
    # Canonical order puts every name right after its ancestors' subtrees start, so the nearest
    # occluding ancestor (cut or DNAME) seen so far is the only one that can cover later names.
    occluder: dns.name.Name | None = None
    for name in version.names():
        if occluder is not None:
            if name.is_subdomain(occluder):
                continue
            occluder = None
        node = version.node(name)
        is_cut = name != origin and (_NS, _NONE) in node
        out.append((name, is_cut))
        if is_cut or (_DNAME, _NONE) in node:
            occluder = name
    return out


def denial_ttl(version: ZoneVersion) -> int:
    """RFC 9077: min(SOA TTL, SOA MINIMUM)."""
    soa = version.soa
    return min(soa.ttl, soa[0].minimum)


def bitmap_types(version: ZoneVersion, name: dns.name.Name, is_cut: bool) -> list[int]:
    """The types an NSEC at `name` lists (RFC 4034 4.1.2, RFC 4035 2.3): at a delegation point
    only NS, DS if present, and the parent's own NSEC and its RRSIG; elsewhere every type present
    plus NSEC and RRSIG."""
    node = version.node(name)
    if is_cut:
        types = {_NS, _NSEC, _RRSIG}
        if (_DS, _NONE) in node:
            types.add(_DS)
    else:
        types = {rdtype for rdtype, _covers in node if rdtype not in SIGNER_TYPES}
        types.update((_NSEC, _RRSIG))
    return sorted(types)


def _lower(name: dns.name.Name) -> dns.name.Name:
    lowered = tuple(label.lower() for label in name.labels)
    return name if lowered == name.labels else name.canonicalize()


def nsec_chain(version: ZoneVersion, ttl: int | None = None,
               previous: ZoneVersion | None = None) -> dict[dns.name.Name, dns.rdataset.Rdataset]:
    """The NSEC RRset of every authoritative name and delegation point of `version`.
    `ttl` defaults to min(SOA TTL, SOA MINIMUM) (RFC 9077). The next-name field is written in
    lower case, so the signed form is the same whether or not a validator downcases it
    (RFC 4034 6.2 vs RFC 6840 5.1). Where `previous` holds the very same NSEC at an owner, its
    rdataset object is returned (so its RRSIG can be kept, and building the record is skipped)."""
    if ttl is None:
        ttl = denial_ttl(version)
    owners = authoritative_names(version)
    chain: dict[dns.name.Name, dns.rdataset.Rdataset] = {}
    rdclass = version.soa.rdclass
    bitmaps: dict = {}  # few distinct type sets in a zone: build each bitmap once
    make = dns.rdtypes.ANY.NSEC.NSEC
    for i, (name, is_cut) in enumerate(owners):
        next_name = _lower(owners[i + 1][0] if i + 1 < len(owners) else version.origin)
        node = version.node(name)
        signature = (is_cut, frozenset(node))
        bitmap = bitmaps.get(signature)
        if bitmap is None:
            bitmap = bitmaps[signature] = dns.rdtypes.ANY.NSEC.Bitmap.from_rdtypes(
                bitmap_types(version, name, is_cut))
        old = previous.get(name, _NSEC) if previous is not None else None
        if old is not None and old.ttl == ttl and len(old) == 1:
            rd = next(iter(old))
            if rd.next.labels == next_name.labels and rd.windows == tuple(bitmap.windows):
                chain[name] = old
                continue
        rds = dns.rdataset.Rdataset(rdclass, _NSEC)
        rds.update_ttl(ttl)
        rds.items[make(rdclass, _NSEC, next_name, bitmap)] = None  # new and fitting: skip add()'s hashing
        chain[name] = rds
    return chain
