"""Per-zone events run one at a time (as Knot's zone events): a reload from hpctl and one from
SIGHUP never race; each sees the version the previous one published."""

from __future__ import annotations

from collections.abc import Callable

import dns.name
from twisted.internet import defer


class ZoneEvents:
    def __init__(self) -> None:
        self._locks: dict[dns.name.Name, defer.DeferredLock] = {}

    def idle(self, zone: dns.name.Name) -> bool:
        """No event of `zone` runs or waits now."""
        lock = self._locks.get(zone)
        return lock is None or not lock.locked

    def run(self, zone: dns.name.Name, work: Callable[[], defer.Deferred]) -> defer.Deferred:
        """Run `work` after every earlier event of `zone` has finished; fires with its result."""
        lock = self._locks.setdefault(zone, defer.DeferredLock())
        return lock.run(work)
