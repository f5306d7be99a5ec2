"""The difference between two versions of a zone, in the shape of an IXFR step (RFC 1995):
the old SOA, what was removed, the new SOA, what was added. `apply(diff(a, b), a) == b`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import dns.name
import dns.rdataset
import dns.rdatatype

from hiddenprimary.zone import codec
from hiddenprimary.zone.version import Nodes, RdatasetKey, ZoneVersion, canonical_key
from hiddenprimary.zone.wire_version import WireVersion, key_labels, wire_key

_SOA_KEY = (dns.rdatatype.SOA, dns.rdatatype.NONE)

Change = tuple[dns.name.Name, dns.rdataset.Rdataset]  # owner, the records removed or added


@dataclasses.dataclass(frozen=True)
class Diff:
    soa_from: dns.rdataset.Rdataset
    soa_to: dns.rdataset.Rdataset
    removed: tuple[Change, ...]  # canonical order; never the apex SOA
    added: tuple[Change, ...]

    @property
    def serial_from(self) -> int:
        return self.soa_from[0].serial

    @property
    def serial_to(self) -> int:
        return self.soa_to[0].serial

    @property
    def removed_count(self) -> int:
        return sum(len(rds) for _, rds in self.removed)

    @property
    def added_count(self) -> int:
        return sum(len(rds) for _, rds in self.added)

    def is_empty(self) -> bool:
        return not self.removed and not self.added and _same_rrset(self.soa_from, self.soa_to)


def _same_rrset(a: dns.rdataset.Rdataset | None, b: dns.rdataset.Rdataset | None) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    return a.ttl == b.ttl and a == b


def _sorted_key(change: Change) -> tuple:
    name, rds = change
    return (name, rds.rdtype, rds.covers)


def diff(a: ZoneVersion, b: ZoneVersion) -> Diff:
    """What turns `a` into `b`. A TTL change removes and re-adds the whole RRset (RFC 2181 5.2)."""
    if isinstance(a, WireVersion):
        return diff_at(a, b, a.owners_differing(b))  # the usual reload: served compact, loaded either
    if isinstance(b, WireVersion):
        return diff_at(a, b, b.owners_differing(a))
    return diff_at(a, b, a.nodes().keys() | b.nodes().keys())


def diff_at(a: ZoneVersion, b: ZoneVersion, names: Iterable[dns.name.Name]) -> Diff:
    """`diff(a, b)` when the two versions can differ only at `names` (the caller knows which
    owners it touched): O(changes) instead of O(zone)."""
    if isinstance(a, WireVersion) and isinstance(b, WireVersion):
        return _diff_wire(a, b, names)
    removed: list[Change] = []
    added: list[Change] = []
    a_nodes, b_nodes = a.nodes(), b.nodes()
    apex = a.origin
    for name in names:
        a_node = a_nodes.get(name, {})
        b_node = b_nodes.get(name, {})
        if a_node is b_node:
            continue
        for key in a_node.keys() | b_node.keys():
            if key == _SOA_KEY and name == apex:  # the cheap test first: names compare in Python
                continue
            ra, rb = a_node.get(key), b_node.get(key)
            if ra is rb:
                continue
            if ra is not None and rb is not None and ra.ttl == rb.ttl:
                gone, new = ra.difference(rb), rb.difference(ra)
            else:
                gone, new = ra, rb
            if gone:
                removed.append((name, gone))
            if new:
                added.append((name, new))
    removed.sort(key=_sorted_key)
    added.sort(key=_sorted_key)
    return Diff(a.soa, b.soa, tuple(removed), tuple(added))


def _diff_wire(a: WireVersion, b: WireVersion, names: Iterable[dns.name.Name]) -> Diff:
    """`diff_at` of two compact versions: owners and then rdatasets compared as bytes, and only
    the rdatasets whose bytes differ decoded (a re-sign changes an owner's RRSIGs, not its other
    records); sorted by the owners' canonical keys (bytes, compared in C), the order of names."""
    removed: list[tuple[bytes, Change]] = []
    added: list[tuple[bytes, Change]] = []
    apex = a.apex_key
    for name in names:
        key = wire_key(name)
        data_a, data_b = a.packed_at(key), b.packed_at(key)
        if data_a == data_b:
            continue
        segs_a = {(s[0], s[1]): s for s in codec.segments(data_a)} if data_a else {}
        segs_b = {(s[0], s[1]): s for s in codec.segments(data_b)} if data_b else {}
        sort_key = None
        for rkey in segs_a.keys() | segs_b.keys():
            if rkey == _SOA_KEY and key == apex:
                continue
            seg_a, seg_b = segs_a.get(rkey), segs_b.get(rkey)
            if seg_a is not None and seg_b is not None:
                if seg_a[4] == seg_b[4]:
                    continue
                if seg_a[2] == seg_b[2]:  # same TTL: only the records one side lacks (as `difference`)
                    seg_a, seg_b = _only_in(seg_a, seg_b), _only_in(seg_b, seg_a)
            if sort_key is None:
                sort_key = canonical_key(tuple(key_labels(key)))
            if seg_a is not None:
                removed.append((sort_key, next(codec.decode(seg_a[4]))))
            if seg_b is not None:
                added.append((sort_key, next(codec.decode(seg_b[4]))))
    removed.sort(key=_wire_sorted_key)
    added.sort(key=_wire_sorted_key)
    return Diff(a.soa, b.soa, tuple(c for _, c in removed), tuple(c for _, c in added))


def _only_in(seg: tuple, other: tuple) -> tuple | None:
    """The rdataset segment `seg` (codec.segments) with only its records that `other` lacks,
    compared in canonical form (as dnspython's rdata equality); None when there is none."""
    rdtype = seg[0]
    theirs = {codec.canonical_rdata(rdtype, rd) for rd in other[3]}
    kept = [rd for rd in seg[3] if codec.canonical_rdata(rdtype, rd) not in theirs]
    if not kept:
        return None
    if len(kept) == len(seg[3]):
        return seg
    raw = seg[4]
    owner_end = len(raw) - sum(2 + len(rd) for rd in seg[3]) - 10  # 10: codec's rdataset head
    return rdtype, seg[1], seg[2], kept, codec.rdataset(raw[:owner_end], rdtype, seg[1], seg[2], kept)


def _wire_sorted_key(item: tuple[bytes, Change]) -> tuple:
    return item[0], item[1][1].rdtype, item[1][1].covers


def apply(d: Diff, version: ZoneVersion) -> ZoneVersion:
    """The version `d` leads to from `version`. Raises ValueError when `d` does not fit it."""
    if not _same_rrset(version.soa, d.soa_from):
        raise ValueError(f"diff starts at serial {d.serial_from}, version is at {version.serial}")
    touched: dict[dns.name.Name, dict[RdatasetKey, dns.rdataset.Rdataset]] = {}

    def node_for(name: dns.name.Name) -> dict[RdatasetKey, dns.rdataset.Rdataset]:
        node = touched.get(name)
        if node is None:
            node = touched[name] = dict(version.node(name))
        return node

    for name, rds in d.removed:
        node = node_for(name)
        key = (rds.rdtype, rds.covers)
        have = node.get(key)
        if have is None or not rds.issubset(have):
            raise ValueError(f"diff removes {name} {dns.rdatatype.to_text(rds.rdtype)} records that are not there")
        rest = have.difference(rds)
        if rest:
            node[key] = rest
        else:
            del node[key]
    for name, rds in d.added:
        node = node_for(name)
        key = (rds.rdtype, rds.covers)
        have = node.get(key)
        if have is None:
            node[key] = rds
        else:
            if have.ttl != rds.ttl:
                raise ValueError(f"diff adds {name} {dns.rdatatype.to_text(rds.rdtype)} with a second TTL")
            node[key] = have.union(rds)
    node_for(version.origin)[_SOA_KEY] = d.soa_to
    return version.evolve(touched)  # empty nodes are dropped there


def nodes_equal(a: Nodes, b: Nodes) -> bool:
    """Same names, same rdatasets, same TTLs."""
    if a.keys() != b.keys():
        return False
    for name, a_node in a.items():
        b_node = b[name]
        if a_node.keys() != b_node.keys():
            return False
        if not all(_same_rrset(rds, b_node[key]) for key, rds in a_node.items()):
            return False
    return True
