"""The published versions of every configured zone. One writer (the reload path, on the reactor
thread) swaps a zone's current version; readers take the version they find and keep it for as long
as they need (a version is immutable), so a reload never changes an answer or a transfer midway."""

from __future__ import annotations

from collections.abc import Iterable

import dns.name

from hiddenprimary.zone.diff import Diff
from hiddenprimary.zone.version import ZoneVersion


class Store:
    def __init__(self, zones: Iterable[dns.name.Name]):
        # A configured zone maps to None until its first version is published (SERVFAIL meanwhile).
        self._current: dict[dns.name.Name, ZoneVersion | None] = {}
        # The diffs leading to the current version, oldest first (what IXFR serves); the same
        # range the journal holds, kept in memory so a transfer never waits on the disk.
        self._history: dict[dns.name.Name, tuple[Diff, ...]] = {}
        self._names: dict[dns.name.Name, dns.name.Name] = {}  # canonical spelling of each zone name
        self._max_labels = 0
        # The same, keyed by each zone's lowercased wire form: the answer fast paths find a
        # query's zone and version by bytes lookups (a dnspython Name hashes in Python).
        self._wire_names: dict[bytes, dns.name.Name] = {}
        self._wire_current: dict[bytes, ZoneVersion | None] = {}
        # Per zone not loaded yet: a holder of the SERVFAIL replies the answer cache keeps for it
        # (a start of 10,000 zones meets secondaries and probes asking before they are loaded).
        self._unloaded: dict[bytes, Unloaded] = {}
        for zone in zones:
            self.add(zone)

    def add(self, zone: dns.name.Name) -> None:
        """Configure `zone` (a config reload added it): SERVFAIL until its first version."""
        if zone in self._current:
            return
        self._current[zone] = None
        self._history[zone] = ()
        self._names[zone] = zone
        self._max_labels = max(self._max_labels, len(zone))
        wire = zone.canonicalize().to_wire()
        self._wire_names[wire] = zone
        self._wire_current[wire] = None
        self._unloaded[wire] = Unloaded()

    def remove(self, zone: dns.name.Name) -> None:
        """Stop serving `zone` (a config reload dropped it): its names are no zone's any more
        (REFUSED, or the enclosing zone's). Readers that hold one of its versions keep it."""
        if zone not in self._current:
            return
        del self._current[zone], self._history[zone], self._names[zone]
        wire = zone.canonicalize().to_wire()
        del self._wire_names[wire], self._wire_current[wire]
        self._unloaded.pop(wire, None)
        self._max_labels = max((len(z) for z in self._current), default=0)

    def zones(self) -> list[dns.name.Name]:
        return list(self._current)

    def current(self, zone: dns.name.Name) -> ZoneVersion | None:
        return self._current[zone]

    def find(self, qname: dns.name.Name) -> tuple[dns.name.Name, ZoneVersion | None] | None:
        """The most specific configured zone containing `qname`, with its current version (None if
        never loaded); None when no configured zone contains the name."""
        labels = qname.labels
        for depth in range(min(len(labels), self._max_labels), 0, -1):
            candidate = dns.name.Name(labels[len(labels) - depth :]) if depth < len(labels) else qname
            zone = self._names.get(candidate)
            if zone is not None:
                return zone, self._current[zone]
        return None

    def zone_of_wire(self, qname: bytes, label_starts: Iterable[int]) -> dns.name.Name | None:
        """As `find`'s zone, for a qname in lowercased wire form whose labels start at
        `label_starts` (in order, the root's last)."""
        names = self._wire_names
        for start in label_starts:
            zone = names.get(qname[start:])
            if zone is not None:
                return zone
        return None

    def current_of_wire(self, qname: bytes, label_starts: Iterable[int]) -> ZoneVersion | None:
        """As `find`'s version (None also when no configured zone holds the name)."""
        current = self._wire_current
        for start in label_starts:
            version = current.get(qname[start:], current)
            if version is not current:
                return version  # type: ignore[return-value]
        return None

    def unloaded_of_wire(self, qname: bytes, label_starts: Iterable[int]) -> Unloaded | None:
        """For a qname (as `current_of_wire`) whose zone is configured but not loaded yet, the
        zone's holder of cached SERVFAIL replies; else None."""
        current = self._wire_current
        for start in label_starts:
            suffix = qname[start:]
            version = current.get(suffix, current)
            if version is not current:
                return self._unloaded.get(suffix) if version is None else None
        return None

    def history(self, zone: dns.name.Name) -> tuple[Diff, ...]:
        return self._history[zone]

    def publish(self, zone: dns.name.Name, version: ZoneVersion, history: tuple[Diff, ...] = ()) -> None:
        """Make `version` (and the diffs leading to it) the one new readers get. Callers commit
        anything durable first."""
        if zone not in self._current:
            raise KeyError(f"zone {zone} is not configured")
        if history and history[-1].serial_to != version.serial:
            raise ValueError(f"history of {zone} ends at {history[-1].serial_to}, version is {version.serial}")
        self._history[zone] = history
        self._current[zone] = version
        wire = zone.canonicalize().to_wire()
        self._wire_current[wire] = version
        self._unloaded.pop(wire, None)


class Unloaded:
    """Stands for a zone's version in the answer cache while it has none (`answer_cache.lookup`
    and `insert` read only `cache`)."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict = {}
