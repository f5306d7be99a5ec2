"""Prometheus metrics: the counters and their families (`metrics_http` serves them over HTTP,
`metrics: "127.0.0.1:9153"` in the config; imported only when that is set).

Counters are plain dicts bumped on the hot paths (a query costs one dict increment) and turned
into metric families only when scraped; serials and lags are read from the server at scrape time,
so they are never stale."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

RELOAD_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 9: "NOTAUTH"}


class Metrics:
    def __init__(self) -> None:
        self.queries: Counter = Counter()  # (transport, rcode) -> count
        self.transfers: Counter = Counter()  # (zone, secondary, kind, outcome)
        self.transfer_bytes: Counter = Counter()  # (zone, kind)
        self.notify: Counter = Counter()  # (zone, secondary, what) what: sent | retries | acked | failed
        self._reload_buckets: dict[str, list[int]] = {}
        self._reload_sum: Counter = Counter()
        # Set by the daemon: zone -> serial, and (zone, secondary) -> (last transferred serial, lag).
        self.zone_serials: Callable[[], Iterable[tuple[str, int]]] = lambda: ()
        self.secondary_serials: Callable[[], Iterable[tuple[str, str, int, int]]] = lambda: ()
        self.collectors: list[Callable[[], Iterable]] = []  # more families (API secondaries: api_sync.collect)

    # -- recording -------------------------------------------------------------------------------

    def query_answered(self, transport: str, reply: bytes | None) -> None:
        if reply is not None and isinstance(reply, bytes) and len(reply) >= 4:
            self.queries[(transport, reply[3] & 0x0F)] += 1

    def reload_done(self, zone: str, seconds: float) -> None:
        buckets = self._reload_buckets.setdefault(zone, [0] * (len(RELOAD_BUCKETS_S) + 1))
        for i, bound in enumerate(RELOAD_BUCKETS_S):
            if seconds <= bound:
                buckets[i] += 1
        buckets[-1] += 1  # +Inf
        self._reload_sum[zone] += seconds

    # -- scraping --------------------------------------------------------------------------------

    def collect(self):
        queries = CounterMetricFamily("hiddenprimary_queries", "Answers sent, by transport and rcode",
                                      labels=["transport", "rcode"])
        for (transport, rcode), n in sorted(self.queries.items()):
            queries.add_metric([transport, RCODES.get(rcode, str(rcode))], n)
        yield queries
        serial = GaugeMetricFamily("hiddenprimary_zone_serial", "Serial of the served version", labels=["zone"])
        for zone, value in self.zone_serials():
            serial.add_metric([zone], value)
        yield serial
        sec_serial = GaugeMetricFamily("hiddenprimary_secondary_serial",
                                       "Serial a secondary last transferred", labels=["zone", "secondary"])
        sec_lag = GaugeMetricFamily("hiddenprimary_secondary_lag",
                                    "How many serials a secondary is behind (RFC 1982 distance)",
                                    labels=["zone", "secondary"])
        for zone, secondary, value, lag in self.secondary_serials():
            sec_serial.add_metric([zone, secondary], value)
            sec_lag.add_metric([zone, secondary], lag)
        yield sec_serial
        yield sec_lag
        yield counter_family("hiddenprimary_transfers", "Outgoing transfers",
                             ["zone", "secondary", "kind", "outcome"], self.transfers)
        yield counter_family("hiddenprimary_transfer_bytes", "Bytes sent in transfers", ["zone", "kind"],
                             self.transfer_bytes)
        yield counter_family("hiddenprimary_notify", "NOTIFY messages and outcomes",
                             ["zone", "secondary", "event"], self.notify)
        reloads = HistogramMetricFamily("hiddenprimary_reload_duration_seconds", "Zone reload time",
                                        labels=["zone"])
        for zone, counts in sorted(self._reload_buckets.items()):
            bounds = [str(b) for b in RELOAD_BUCKETS_S] + ["+Inf"]
            reloads.add_metric([zone], list(zip(bounds, counts)), self._reload_sum[zone])
        yield reloads
        for extra in self.collectors:
            yield from extra()


def counter_family(name: str, help_text: str, labels: list[str], counts) -> CounterMetricFamily:
    """A Prometheus counter family from a mapping of label-value tuples to counts."""
    family = CounterMetricFamily(name, help_text, labels=labels)
    for key, n in sorted(counts.items()):
        family.add_metric(list(key), n)
    return family
