"""ZoneVersion: one immutable version of a zone, and the small read interface every reader
(query answering, transfers, diff, signing) goes through. Readers never see how records are held,
so the representation can change without touching them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SOA

RdatasetKey = tuple[int, int]  # (rdtype, covers)
Nodes = Mapping[dns.name.Name, Mapping[RdatasetKey, dns.rdataset.Rdataset]]

_NS = dns.rdatatype.NS
_SOA = dns.rdatatype.SOA
_NONE = dns.rdatatype.NONE


def _canonical_key(name: dns.name.Name) -> tuple[bytes, ...]:
    return tuple(label.lower() for label in reversed(name.labels))


class ZoneVersion:
    """An immutable zone version. Owner names are absolute; rdatasets must not be mutated."""

    __slots__ = ("origin", "_nodes", "_existing", "_cuts", "_sorted", "rr_count", "cache")

    def __init__(self, origin: dns.name.Name, nodes: Nodes):
        self.origin = origin
        self._nodes: dict[dns.name.Name, dict[RdatasetKey, dns.rdataset.Rdataset]] = {
            name: dict(node) for name, node in nodes.items() if node
        }
        if _SOA not in {k[0] for k in self._nodes.get(origin, {})}:
            raise ValueError(f"zone {origin} has no SOA at the apex")
        # Every owner and every empty non-terminal between it and the apex exists (RFC 4592 2.2.2).
        existing: set[dns.name.Name] = set()
        for name in self._nodes:
            while name not in existing and len(name) >= len(origin):
                existing.add(name)
                if name == origin:
                    break
                name = name.parent()
        self._existing = frozenset(existing)
        self._cuts = frozenset(
            name for name, node in self._nodes.items() if name != origin and (_NS, _NONE) in node
        )
        self._sorted: list[dns.name.Name] | None = None
        self.rr_count = sum(len(rds) for node in self._nodes.values() for rds in node.values())
        self.cache: dict = {}  # rendered answers and transfers of this version (it never changes)

    # -- the read interface ------------------------------------------------------------------

    @property
    def soa(self) -> dns.rdataset.Rdataset:
        return self._nodes[self.origin][(_SOA, _NONE)]

    @property
    def serial(self) -> int:
        soa: dns.rdtypes.ANY.SOA.SOA = self.soa[0]
        return soa.serial

    def get(self, name: dns.name.Name, rdtype: int, covers: int = _NONE) -> dns.rdataset.Rdataset | None:
        node = self._nodes.get(name)
        return None if node is None else node.get((rdtype, covers))

    def rdatasets_at(self, name: dns.name.Name) -> list[dns.rdataset.Rdataset]:
        node = self._nodes.get(name)
        return [] if node is None else list(node.values())

    def node(self, name: dns.name.Name) -> Mapping[RdatasetKey, dns.rdataset.Rdataset]:
        return self._nodes.get(name, {})

    def name_exists(self, name: dns.name.Name) -> bool:
        """True for owners and for empty non-terminals."""
        return name in self._existing

    def delegation_above(self, name: dns.name.Name) -> dns.name.Name | None:
        """The topmost zone cut (NS below the apex) at or above `name`, or None."""
        if not self._cuts:
            return None
        labels = name.labels
        for depth in range(len(self.origin) + 1, len(name) + 1):
            candidate = dns.name.Name(labels[len(labels) - depth :])
            if candidate in self._cuts:
                return candidate
        return None

    def closest_encloser(self, name: dns.name.Name) -> dns.name.Name:
        """The longest existing ancestor-or-self of `name` (RFC 4592 3.3.1)."""
        while name not in self._existing and name != self.origin:
            name = name.parent()
        return name

    def names(self) -> list[dns.name.Name]:
        """Owner names (not empty non-terminals) in DNSSEC canonical order (RFC 4034 6.1)."""
        if self._sorted is None:
            # RFC 4034 6.1: labels compared right to left as lowercased octet strings. A key per
            # name is ~30x faster than dns.name.Name's own comparison on big zones.
            self._sorted = sorted(self._nodes, key=_canonical_key)
        return self._sorted

    def iter_rdatasets(self) -> Iterator[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
        """Every rdataset in canonical name order, the SOA first."""
        yield self.origin, self.soa
        for name in self.names():
            for key, rds in self._nodes[name].items():
                if name == self.origin and key == (_SOA, _NONE):
                    continue
                yield name, rds

    def nodes(self) -> Nodes:
        """The raw mapping, for building a new version from this one."""
        return self._nodes

    def with_serial(self, serial: int) -> ZoneVersion:
        """A copy whose SOA carries `serial` (rdatasets are shared: they are immutable)."""
        old = self.soa
        soa = dns.rdataset.Rdataset(dns.rdataclass.IN, _SOA)
        soa.update_ttl(old.ttl)
        soa.add(old[0].replace(serial=serial))
        nodes = dict(self._nodes)
        apex = dict(nodes[self.origin])
        apex[(_SOA, _NONE)] = soa
        nodes[self.origin] = apex
        return ZoneVersion(self.origin, nodes)
