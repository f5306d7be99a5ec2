"""The AXFR messages of a zone's first version (at start, restored or loaded), rendered on a thread
of their own right after it is published (issue 13: the first AXFR after a start must not
stall): the secondaries that ask at start stream ready bytes. Later versions reach secondaries by
IXFR; rendering every reload's whole AXFR ahead would cost a million-record zone seconds of CPU
per reload, taken from queries, so an AXFR of a later version renders as it is read (one message
at a time, on the reactor thread).

The rendering is made apart and handed to the version's cache on the reactor thread, unless a
transfer that started meanwhile already made one there (a version's cache is only touched by
the reactor thread). Zones without transfer secondaries are left alone."""

from __future__ import annotations

import logging

import dns.name
from twisted.internet import threads

from hiddenprimary.config import Config
from hiddenprimary.logs import event
from hiddenprimary.net.pools import LazyPool
from hiddenprimary.transfer import xfr
from hiddenprimary.transfer.messages import RenderingFailed

log = logging.getLogger(__name__)


class AxfrPrerender:
    def __init__(self, config: Config, reactor):
        self.config = config
        self.reactor = reactor
        self._pool = LazyPool(reactor, "axfr-render", 1)
        self._seen: set[dns.name.Name] = set()  # zones whose first version was handled

    def zone_changed(self, zone: dns.name.Name, version) -> None:
        if zone in self._seen:
            return
        self._seen.add(zone)
        secondaries = self.config.secondaries
        if not any(secondaries[name].api is None for name in self.config.zones[zone].secondaries):
            return  # only API secondaries (or none): nothing transfers this zone
        d = threads.deferToThreadPool(self.reactor, self._pool.get(), _render, version)
        d.addCallback(lambda rendering: self._keep(version, rendering))
        d.addErrback(lambda failure: event(log, "axfr.prerender_failed", logging.WARNING, zone=zone,
                                           error=failure.getErrorMessage()))

    @staticmethod
    def _keep(version, rendering) -> None:
        current = version.cache.get("axfr")
        if rendering is not None and (current is None or current.error is not None):
            version.cache["axfr"] = rendering


def _render(version):
    rendering = xfr.new_axfr_rendering(version)
    try:
        rendering.render_all()
    except RenderingFailed:
        return None  # a transfer renders it again and reports why
    return rendering
