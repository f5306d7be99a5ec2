"""The daemon's book of what each transfer secondary did: its SOA checks (counted in memory from
the responder, flushed to `activity.sqlite` every few seconds), its transfers and the NOTIFYs sent
to it (metrics and activity rows), and the views `hpctl status` and the metrics read back. Writing
it never gets in the way of serving: a failed write is logged and dropped."""

from __future__ import annotations

import ipaddress
import logging
import sqlite3

import dns.name
from twisted.internet import defer, task, threads

from hiddenprimary.clock import Clock
from hiddenprimary.config import Config
from hiddenprimary.logs import event
from hiddenprimary.metrics import Metrics
from hiddenprimary.transfer.activity import Activity
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone.store import Store

log = logging.getLogger("hiddenprimary.activity")

SOA_FLUSH_S = 5.0  # how often SOA query counts go from memory to activity.sqlite
MAX_CACHED_PEERS = 10000  # addresses whose secondary roles are remembered

# (zone text, secondary, the name of its TSIG key or None), per zone apex in lowercase wire form
Roles = dict[bytes, list[tuple[str, str, dns.name.Name | None]]]


def _zone_text(zone: dns.name.Name) -> str:
    return zone.to_text(omit_final_dot=True)


class SecondaryBook:
    def __init__(self, config: Config, reactor, clock: Clock, store: Store, metrics: Metrics):
        self.config = config
        self.reactor = reactor
        self.clock = clock
        self.store = store
        self.metrics = metrics
        self.activity: Activity | None = None  # opened by `open`
        self._roles: dict[str, Roles] = {}
        self._flush_loop: task.LoopingCall | None = None

    def open(self) -> None:
        """Open activity.sqlite (sqlite3.Error when it cannot be) and start the SOA-count flushes."""
        self.activity = Activity(self.config.data_dir)
        self._flush_loop = task.LoopingCall(self._flush_soa_queries)
        self._flush_loop.clock = self.reactor
        self._flush_loop.start(SOA_FLUSH_S, now=False)

    def reconfigure(self, config: Config) -> None:
        """Take a re-read config: which addresses are whose secondaries is worked out again."""
        self.config = config
        self._roles = {}

    def stop(self) -> None:
        """Stop the flushes and write what is left, on this thread."""
        if self._flush_loop is not None and self._flush_loop.running:
            self._flush_loop.stop()
            self._write(lambda: self.activity.write_soa_queries(self.activity.take_soa_queries()))

    # -- SOA checks (from the responder, at query rate) ---------------------------------------------

    def soa_seen_from(self, ip: str):
        """The responder's `soa_seen` for a query from `ip`, or None when `ip` is no secondary's."""
        roles = self._secondary_roles(ip)
        if not roles:
            return None
        return lambda qname, key_name: self._note_soa_query(roles, ip, qname, key_name)

    def _secondary_roles(self, ip: str) -> Roles:
        """The secondaries whose allow prefixes hold `ip`, by zone apex; cached per address."""
        roles = self._roles.get(ip)
        if roles is None:
            address = ipaddress.ip_address(ip)
            roles = {}
            for zone, zone_cfg in self.config.zones.items():
                for name in zone_cfg.secondaries:
                    if any(address in net for net in self.config.secondaries[name].allow
                           if net.version == address.version):
                        roles.setdefault(zone.to_digestable(), []).append((_zone_text(zone), name, self._key_name(name)))
            if len(self._roles) > MAX_CACHED_PEERS:
                self._roles.clear()
            self._roles[ip] = roles
        return roles

    def _key_name(self, secondary: str) -> dns.name.Name | None:
        key = self.config.secondaries[secondary].key
        return None if key is None else dns.name.from_text(self.config.tsig[key].name, origin=dns.name.root)

    def _note_soa_query(self, roles: Roles, ip: str, qname: bytes, key_name: dns.name.Name | None) -> None:
        """Count a secondary's SOA check in memory. A keyed secondary's count takes only queries
        its key verified, so unsigned or forged queries from its address are not taken for it."""
        for zone, secondary, wanted in roles.get(qname, ()):
            if wanted is None or wanted == key_name:
                self.activity.soa_query(zone, secondary, ip, self.clock.wall())

    def _flush_soa_queries(self) -> defer.Deferred | None:
        """Write the SOA counts gathered since the last flush in a worker thread (the LoopingCall
        waits for the Deferred, so one flush at a time)."""
        batch = self.activity.take_soa_queries()
        if not batch:
            return None

        def failed(f) -> None:
            self.activity.return_soa_queries(batch)  # written by the next flush
            event(log, "activity.write_failed", logging.WARNING, error=f.getErrorMessage())

        return threads.deferToThread(self.activity.write_soa_queries, batch, True).addErrback(failed)

    # -- transfers and NOTIFYs ----------------------------------------------------------------------

    def transfer_done(self, r) -> None:
        """Transfers.on_done: one finished (or aborted) AXFR/IXFR."""
        self.metrics.transfers[(r.zone, r.secondary, r.kind, "ok" if r.outcome == "ok" else "aborted")] += 1
        self.metrics.transfer_bytes[(r.zone, r.kind)] += r.bytes
        self._write(self.activity.transfer, r.zone, r.secondary, r.peer, r.kind, r.serial_from,
                    r.serial_to, r.messages, r.bytes, r.duration_ms, r.outcome, self.clock.wall())

    def notify_changed(self, st) -> None:
        """Notifier.on_change: a NOTIFY was sent, acked or given up."""
        what = "acked" if st.acked_at is not None else "failed" if st.failed else "sent"
        self.metrics.notify[(st.zone, st.secondary, what)] += 1
        if what == "sent" and st.sent > 1:
            self.metrics.notify[(st.zone, st.secondary, "retries")] += 1
        self._write(self.activity.notify, st.zone, st.secondary, f"{st.target[0]}:{st.target[1]}",
                    st.serial, st.sent, st.acked_at, st.failed, st.error, self.clock.wall())

    def _write(self, method, *args) -> None:
        try:
            method(*args)
        except sqlite3.Error as e:  # bookkeeping must never break serving
            event(log, "activity.write_failed", logging.WARNING, error=e)

    # -- views ---------------------------------------------------------------------------------------

    def status(self, zone: dns.name.Name, name: str) -> dict:
        """`hpctl status` of a transfer secondary: its activity and whether it is behind."""
        version = self.store.current(zone)
        view = self.activity.secondary_view(_zone_text(zone), name)
        last = view["last_transfer"]
        behind = None
        if version is not None and last is not None:
            behind = serials.compare(last["serial_to"], version.serial) is serials.Order.LESS
        return {"secondary": name, **view, "behind": behind}

    def secondary_serials(self):
        """For the metrics: (zone, secondary, serial of its last transfer, serials behind)."""
        for zone in self.config.zones:
            version = self.store.current(zone)
            for name in self.config.zones[zone].secondaries:
                last = self.activity.secondary_view(_zone_text(zone), name)["last_transfer"]
                if last is None or version is None:
                    continue
                # Ahead or incomparable shows as 0 here (a gauge); `hpctl check` tells those apart.
                yield _zone_text(zone), name, last["serial_to"], serials.lag(version.serial, last["serial_to"]) or 0
