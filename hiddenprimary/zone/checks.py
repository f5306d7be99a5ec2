"""Semantic checks of a loaded zone: one small function per rule, each with a stable code.

`check(zone)` runs them all and returns every problem found (errors block publishing, warnings
are shown). Each problem carries the file:line of the offending record (`LoadedZone.locations`)
and the owner name. Codes, in the style of Knot's semantic-check catalogue:

ERROR
  no-soa                 no SOA at the apex (RFC 1035 §5.2); location: the file
  multiple-soa           two different SOA records at the apex (RFC 1035 §5.2)
  soa-not-at-apex        an SOA below the apex (RFC 1035 §5.2)
  no-apex-ns             no NS RRset at the apex (RFC 1034 §4.2.1); location: the file
  cname-and-other-data   a CNAME beside other data (RFC 1034 §3.6.2, RFC 2181 §10.1); RRSIG,
                         NSEC, NSEC3 and KEY may sit beside it (RFC 4035 §2.5); covers a CNAME at
                         the apex too
  multiple-cname         two different CNAME records at one name (RFC 2181 §10.1)
  multiple-dname         two different DNAME records at one name (RFC 6672 §2.4)
  multiple-nsec          two different NSEC records at one name (RFC 4034 §4)
  dname-children         records below a DNAME owner (RFC 6672 §2.4)
  missing-glue           an NS target at or below a zone cut without A/AAAA glue (RFC 1034
                         §4.2.1; BIND "has no REQUIRED/SIBLING GLUE address records")
  ns-target-no-address   an in-zone NS target, not below a cut, with no A/AAAA (BIND "has no
                         address records"; BIND only warns for delegation NS, we refuse both)
  ns-is-cname            an NS target that is a CNAME in the zone (RFC 2181 §10.3)
WARNING
  occluded-data          data at or below a zone cut that is neither NS, DS, NSEC, RRSIG at the
                         cut nor A/AAAA glue (RFC 1034 §4.2.1: not authoritative, never served;
                         BIND ignores it). It stays in the zone, as in BIND's zone transfers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

import dns.name
import dns.node
import dns.rdataset
import dns.rdatatype

from hiddenprimary.errors import Location, Severity, ZoneProblem


class LoadedZone(Protocol):
    """What the rules read of a `zone.load.LoadedZone` (which imports this module, so the type
    is named here by its shape rather than imported)."""

    origin: dns.name.Name
    rdatasets: Mapping[dns.name.Name, Mapping[tuple[int, int], dns.rdataset.Rdataset]]
    locations: Mapping[tuple[dns.name.Name, int], Location]
    path: str
    dropped: Mapping[tuple[dns.name.Name, int], list[Location]]
    failed: set[tuple[dns.name.Name, int]]
    ns_records: list[tuple[dns.name.Name, dns.name.Name, Location]]


_SOA = dns.rdatatype.SOA
_NS = dns.rdatatype.NS
_A = dns.rdatatype.A
_AAAA = dns.rdatatype.AAAA
_CNAME = dns.rdatatype.CNAME
_DNAME = dns.rdatatype.DNAME
_DS = dns.rdatatype.DS
_NSEC = dns.rdatatype.NSEC
_RRSIG = dns.rdatatype.RRSIG
_NONE = dns.rdatatype.NONE
_REGULAR_KIND = dns.node.NodeKind.REGULAR
_AT_CUT = frozenset({_NS, _DS, _NSEC, _RRSIG, _A, _AAAA})  # what a delegation point may hold
_GLUE = frozenset({_A, _AAAA})


def check(zone: LoadedZone) -> list[ZoneProblem]:
    """Every problem of every rule, in file order (problems about the whole file first)."""
    index = ZoneIndex(zone)
    problems: list[ZoneProblem] = []
    for rule in RULES:
        problems.extend(rule(zone, index))
    problems.sort(key=_order)  # stable: file order, then rule order
    return problems


Key = tuple[bytes, ...]  # a name's lowercased labels: compares like the Name, hashes in C


class ZoneIndex:
    """What several rules need, keyed by `Key` (dnspython's Name hash is a Python loop and
    collides often on numbered names; on a 100k-name zone that is most of the checking time):

    - `nodes[key] = (name, node)` for every owner;
    - `cuts[key] = name` for every delegation point (an NS RRset below the apex);
    - `cut_below[key] = cut key`: the highest cut at or above that owner (a cut below another
      cut is occluded, not a cut);
    - `dname_above[key] = DNAME owner` strictly above that owner."""

    def __init__(self, zone: LoadedZone):
        origin = zone.origin
        self.origin_key = _key(origin)
        apex_depth = len(origin)
        self.nodes: dict[Key, tuple[dns.name.Name, Mapping]] = {}
        self.cuts: dict[Key, dns.name.Name] = {}
        dnames: dict[Key, dns.name.Name] = {}
        for name, node in zone.rdatasets.items():
            key = _key(name)
            self.nodes[key] = (name, node)
            if (_NS, _NONE) in node and len(key) > apex_depth:
                self.cuts[key] = name
            if (_DNAME, _NONE) in node:
                dnames[key] = name
        self.cut_below: dict[Key, Key] = {}
        self.dname_above: dict[Key, dns.name.Name] = {}
        if self.cuts or dnames:
            cuts = self.cuts
            for key in self.nodes:
                # From the apex (a DNAME there has no children either) down to the name itself.
                for i in range(len(key) - apex_depth, -1, -1):
                    suffix = key[i:]
                    if suffix in cuts:
                        self.cut_below.setdefault(key, suffix)
                    if i > 0 and suffix in dnames:
                        self.dname_above.setdefault(key, dnames[suffix])

    def in_zone(self, key: Key) -> bool:
        n = len(self.origin_key)
        return len(key) >= n and key[len(key) - n :] == self.origin_key

    def highest_cut(self, key: Key) -> Key | None:
        """The highest zone cut at or above the name `key` (which need not exist in the zone)."""
        if not self.cuts:
            return None
        found = self.cut_below.get(key)
        if found is not None or key in self.nodes:
            return found
        for i in range(len(key) - len(self.origin_key), -1, -1):
            if key[i:] in self.cuts:
                return key[i:]
        return None


def _key(name: dns.name.Name) -> tuple[bytes, ...]:
    return tuple(label.lower() for label in name.labels)


def _order(problem: ZoneProblem) -> tuple:
    loc = problem.location
    return (loc.path, loc.line) if loc is not None else ("", 0)


def _problem(
    code: str,
    message: str,
    location: Location | None,
    name: dns.name.Name | None = None,
    severity: Severity = Severity.ERROR,
) -> ZoneProblem:
    text = name.to_text() if name is not None else None
    if text is not None:
        message = f"{text}: {message}"
    return ZoneProblem(code, severity, message, location, text)


def _first_location(zone: LoadedZone, name: dns.name.Name, rdtypes: Iterable[int]) -> Location:
    found = [loc for t in rdtypes if (loc := zone.locations.get((name, t))) is not None]
    return min(found) if found else Location(zone.path)


def _later(a: Location, b: Location) -> Location:
    """The location of the record that came second (same file: the higher line)."""
    return b if (a.path == b.path and b.line > a.line) else a


# -- the rules -------------------------------------------------------------------------------


def check_soa(zone: LoadedZone, index: ZoneIndex) -> Iterator[ZoneProblem]:
    """RFC 1035 §5.2: exactly one SOA, at the apex."""
    origin = zone.origin
    apex = zone.rdatasets.get(origin, {})
    if (_SOA, _NONE) not in apex and (origin, _SOA) not in zone.failed:
        yield _problem(
            "no-soa",
            f"zone {origin} has no SOA record at its apex (RFC 1035 §5.2)",
            Location(zone.path),
        )
    for location in zone.dropped.get((origin, _SOA), ()):
        yield _problem(
            "multiple-soa",
            f"a second SOA record at the apex; a zone has exactly one (RFC 1035 §5.2), "
            f"the first is at {zone.locations.get((origin, _SOA))}",
            location,
            origin,
        )
    for name, node in zone.rdatasets.items():
        if (_SOA, _NONE) in node and name != origin:
            yield _problem(
                "soa-not-at-apex",
                f"SOA record not at the apex of {origin} (RFC 1035 §5.2)",
                zone.locations.get((name, _SOA)),
                name,
            )


def check_singletons(zone: LoadedZone, index: ZoneIndex) -> Iterator[ZoneProblem]:
    """CNAME, DNAME and NSEC RRsets hold one record (RFC 2181 §10.1, RFC 6672 §2.4, RFC 4034 §4)."""
    rfc = {_CNAME: "RFC 2181 §10.1", _DNAME: "RFC 6672 §2.4", _NSEC: "RFC 4034 §4"}
    for (name, rdtype), locations in zone.dropped.items():
        if rdtype == _SOA:
            continue  # check_soa
        type_text = dns.rdatatype.to_text(rdtype)
        for location in locations:
            yield _problem(
                f"multiple-{type_text.lower()}",
                f"more than one {type_text} record at one name "
                f"({rfc.get(rdtype, 'singleton type')}), "
                f"the first is at {zone.locations.get((name, rdtype))}",
                location,
                name,
            )


def check_apex_ns(zone: LoadedZone, index: ZoneIndex) -> Iterator[ZoneProblem]:
    """RFC 1034 §4.2.1: the apex has an NS RRset."""
    if (_NS, _NONE) not in zone.rdatasets.get(zone.origin, {}) and (
        zone.origin,
        _NS,
    ) not in zone.failed:
        yield _problem(
            "no-apex-ns",
            f"zone {zone.origin} has no NS records at its apex (RFC 1034 §4.2.1)",
            Location(zone.path),
        )


def check_cname_and_other_data(zone: LoadedZone, index: ZoneIndex) -> Iterator[ZoneProblem]:
    """RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME owner has no other data, except the DNSSEC
    records RFC 4035 §2.5 allows beside it (dnspython's NodeKind: RRSIG, NSEC, NSEC3, KEY)."""
    classify = dns.node.NodeKind.classify
    for name, node in zone.rdatasets.items():
        if (_CNAME, _NONE) not in node or len(node) == 1:
            continue
        others = sorted(
            {rdtype for (rdtype, covers) in node if classify(rdtype, covers) == _REGULAR_KIND}
        )
        if not others:
            continue
        cname_at = zone.locations.get((name, _CNAME))
        other_at = _first_location(zone, name, others)
        where = _later(cname_at, other_at) if cname_at is not None else other_at
        earlier = other_at if where is cname_at else cname_at
        types = " ".join(dns.rdatatype.to_text(t) for t in others)
        yield _problem(
            "cname-and-other-data",
            f"CNAME and other data ({types}; the other is at {earlier}) "
            f"(RFC 1034 §3.6.2, RFC 2181 §10.1)",
            where,
            name,
        )


def check_dname_children(zone: LoadedZone, index: ZoneIndex) -> Iterator[ZoneProblem]:
    """RFC 6672 §2.4: no records at any name below a DNAME owner."""
    for key, dname in index.dname_above.items():
        name, node = index.nodes[key]
        yield _problem(
            "dname-children",
            f"records below the DNAME at {dname} (RFC 6672 §2.4)",
            _first_location(zone, name, {t for t, _ in node}),
            name,
        )


def check_ns_targets(zone: LoadedZone, index: ZoneIndex) -> Iterator[ZoneProblem]:
    """Every in-zone NS target must be reachable: a target at or below a zone cut needs A/AAAA
    glue (`missing-glue`); any other in-zone target needs A/AAAA records
    (`ns-target-no-address`) and must not be a CNAME (`ns-is-cname`, RFC 2181 §10.3). Targets
    outside the zone are not ours to check. NS RRsets that are themselves occluded are skipped."""
    nodes = index.nodes
    origin_key = index.origin_key
    where = _NsLocations(zone)
    empty: Mapping = {}
    for key, (owner, node) in nodes.items():
        ns = node.get((_NS, _NONE))
        if ns is None:
            continue
        if key != origin_key and index.cut_below.get(key) != key:
            continue  # an NS below another cut: occluded (check_occluded)
        if key in index.dname_above:
            continue  # check_dname_children
        for rdata in ns:
            target = rdata.target  # type: ignore[attr-defined]
            tkey = _key(target)
            if not index.in_zone(tkey):
                continue
            target_node = nodes.get(tkey, (None, empty))[1]
            if (_A, _NONE) in target_node or (_AAAA, _NONE) in target_node:
                if (_CNAME, _NONE) in target_node:
                    yield _ns_is_cname(owner, target, where(owner, target))
                continue
            if tkey in index.dname_above:
                continue  # check_dname_children
            if (target, _A) in zone.failed or (target, _AAAA) in zone.failed:
                continue  # its address record is a syntax error, reported already
            cut = index.highest_cut(tkey)
            if cut is not None:
                yield _problem(
                    "missing-glue",
                    f"NS {target} is at or below the zone cut {index.cuts[cut]} and has no "
                    f"A/AAAA glue (RFC 1034 §4.2.1)",
                    where(owner, target),
                    owner,
                )
            elif (_CNAME, _NONE) in target_node:
                yield _ns_is_cname(owner, target, where(owner, target))
            else:
                yield _problem(
                    "ns-target-no-address",
                    f"NS {target} is in the zone but has no A/AAAA records (RFC 1034 §4.2.1)",
                    where(owner, target),
                    owner,
                )


class _NsLocations:
    """Where the NS record (owner, target) is; its lookup table is built on the first question,
    so a zone without NS problems never pays for it."""

    def __init__(self, zone: LoadedZone):
        self.zone = zone
        self.table: dict[tuple[Key, Key], Location] | None = None

    def __call__(self, owner: dns.name.Name, target: dns.name.Name) -> Location | None:
        if self.table is None:
            self.table = {}
            for o, t, location in self.zone.ns_records:
                self.table.setdefault((_key(o), _key(t)), location)
        found = self.table.get((_key(owner), _key(target)))
        return found or self.zone.locations.get((owner, _NS))


def _ns_is_cname(
    owner: dns.name.Name, target: dns.name.Name, location: Location | None
) -> ZoneProblem:
    return _problem("ns-is-cname", f"NS {target} is a CNAME (RFC 2181 §10.3)", location, owner)


def check_occluded(zone: LoadedZone, index: ZoneIndex) -> Iterator[ZoneProblem]:
    """RFC 1034 §4.2.1: below a zone cut only glue (A/AAAA) belongs in the zone; at the cut only
    NS, DS, NSEC, RRSIG and glue. Anything else is occluded: warn, as BIND ignores it."""
    for key, cut in index.cut_below.items():
        if key in index.dname_above:
            continue  # check_dname_children
        name, node = index.nodes[key]
        allowed = _AT_CUT if key == cut else _GLUE
        occluded = sorted({t for t, _ in node if t not in allowed})
        if not occluded:
            continue
        types = " ".join(dns.rdatatype.to_text(t) for t in occluded)
        where = "at" if key == cut else "below"
        yield _problem(
            "occluded-data",
            f"{types} {where} the zone cut {index.cuts[cut]} is not authoritative and will not "
            f"be served (RFC 1034 §4.2.1)",
            _first_location(zone, name, occluded),
            name,
            Severity.WARNING,
        )


Rule = Callable[[LoadedZone, ZoneIndex], Iterable[ZoneProblem]]
RULES: tuple[Rule, ...] = (
    check_soa,
    check_singletons,
    check_apex_ns,
    check_cname_and_other_data,
    check_dname_children,
    check_ns_targets,
    check_occluded,
)
