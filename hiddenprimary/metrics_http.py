"""The metrics page over HTTP (`metrics: "127.0.0.1:9153"`): Twisted's web server, imported
only when the config asks for it (it costs the daemon's start ~35 ms of imports otherwise).
Connections are capped and closed after a short idle time (`limits.metrics_clients`,
`limits.metrics_idle_timeout_s`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from twisted.protocols.policies import WrappingFactory
from twisted.web.resource import Resource
from twisted.web.server import Site

from hiddenprimary.logs import RateLimitedEvent
from hiddenprimary.metrics import Metrics

log = logging.getLogger("hiddenprimary.metrics")


class _MetricsPage(Resource):
    """Rendered on the reactor thread (prometheus-client's own Twisted resource runs in a worker
    thread, which would read the server's state while the reactor changes it)."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry):
        super().__init__()
        self._registry = registry

    def render_GET(self, request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(self._registry)


class CappedFactory(WrappingFactory):
    """At most `max_clients` connections open at once; more are closed as soon as accepted (each
    one holds a file descriptor that DNS TCP and the control socket may need)."""

    def __init__(self, wrapped, max_clients: int, now: Callable[[], float]):
        super().__init__(wrapped)
        self.max_clients = max_clients
        self._refused = RateLimitedEvent(log, "metrics.refused_connection", logging.WARNING, now)

    def buildProtocol(self, addr):
        if len(self.protocols) >= self.max_clients:
            self._refused(peer=getattr(addr, "host", addr), open=len(self.protocols), limit=self.max_clients)
            return None  # Twisted closes the connection at once
        return super().buildProtocol(addr)


def site_factory(metrics: Metrics, reactor, *, max_clients: int, idle_timeout_s: float) -> CappedFactory:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    site = Site(_MetricsPage(registry), timeout=idle_timeout_s, reactor=reactor)
    return CappedFactory(site, max_clients, reactor.seconds)


def listen(metrics: Metrics, reactor, host: str, port: int, *, max_clients: int, idle_timeout_s: float):
    factory = site_factory(metrics, reactor, max_clients=max_clients, idle_timeout_s=idle_timeout_s)
    return reactor.listenTCP(port, factory, interface=host)
