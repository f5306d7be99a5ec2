"""The AXFR messages of a zone's first version (at start, restored or loaded), rendered on a thread
of their own right after it is published (issue 13: the first AXFR after a start must not
stall): the secondaries that ask at start stream ready bytes. Later versions reach secondaries by
IXFR; rendering every reload's whole AXFR ahead would cost a million-record zone seconds of CPU
per reload, taken from queries, so an AXFR of a later version renders as it is read (one message
at a time, on the reactor thread).

The rendering is the version's own (`xfr.axfr_rendering`, put in its cache on the reactor thread,
which alone touches a version's cache): a transfer that starts while it is being rendered
streams the messages already made and renders the next one itself when it catches up, never the
same message twice (`transfer.messages.LazyMessages` takes a lock to render). Once rendered,
messages over a megabyte in all wait in an unlinked file in `data_dir/zones` (`spill`), not in
memory. Zones without transfer secondaries are left alone."""

from __future__ import annotations

import logging
import os
import threading

import dns.name
from twisted.internet import threads

from hiddenprimary import data_dir
from hiddenprimary.config import Config
from hiddenprimary.logs import event
from hiddenprimary.net.pools import LazyPool
from hiddenprimary.reload import heap
from hiddenprimary.transfer import xfr
from hiddenprimary.transfer.messages import RenderingFailed

log = logging.getLogger(__name__)

# Below this many records a zone's first AXFR is rendered on demand (10,000 small zones at start
# would each cost a render nobody may ask for soon).
PRERENDER_MIN_RECORDS = 5000


class AxfrPrerender:
    def __init__(self, config: Config, reactor):
        self.config = config
        self.reactor = reactor
        self._pool = LazyPool(reactor, "axfr-render", 1)
        self._seen: set[dns.name.Name] = set()  # zones whose first version was handled

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self._seen &= set(config.zones)  # a zone added back renders its first version again

    def zone_changed(self, zone: dns.name.Name, version) -> None:
        if zone in self._seen:
            return
        self._seen.add(zone)
        if version.rr_count < PRERENDER_MIN_RECORDS:
            return  # rendered when asked for in a few ms: not worth a thread hop per zone at start
        secondaries = self.config.secondaries
        if not any(secondaries[name].api is None for name in self.config.zones[zone].secondaries):
            return  # only API secondaries (or none): nothing transfers this zone
        rendering = xfr.axfr_rendering(version)
        rendering.lock = threading.Lock()  # before the thread starts: it and transfers read it
        folder = os.path.join(self.config.data_dir, data_dir.ZONES_DIR)
        d = threads.deferToThreadPool(self.reactor, self._pool.get(), _render, rendering, folder)
        d.addErrback(lambda failure: event(log, "axfr.prerender_failed", logging.WARNING, zone=zone,
                                           error=failure.getErrorMessage()))


def _render(rendering, folder: str) -> None:
    try:
        rendering.render_all()
    except RenderingFailed:
        return  # sticky: the transfer that reads it reports why, and the next one renders anew
    if rendering.spill(folder):  # a big zone's messages wait in a file, not in memory
        heap.give_back()
