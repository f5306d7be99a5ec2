"""Wiring: config -> store -> listeners -> control socket -> zone loads -> signals."""

from __future__ import annotations

import datetime
import gc
import ipaddress
import logging
import os
import signal
import sqlite3
import sys

import dns.name
from twisted.internet import defer, task, threads
from twisted.internet.error import CannotListenError

from hiddenprimary import data_dir, fd_budget, logs, metrics
from hiddenprimary.clock import Clock, SystemClock
from hiddenprimary.config import Config
from hiddenprimary.control import server as control
from hiddenprimary.control.server import ControlFactory
from hiddenprimary.dnssec import zone_signer
from hiddenprimary.dnssec.keys import DnssecKeyError, ds_records, load_or_create_keys
from hiddenprimary.dnssec.parallel import ParallelSigner
from hiddenprimary.errors import HiddenPrimaryError, Severity, UsageError, ZoneRejected
from hiddenprimary.logs import event
from hiddenprimary.metrics import Metrics
from hiddenprimary.net import accept_errors
from hiddenprimary.net.pools import LazyPool
from hiddenprimary.net.tcp import DnsStreamFactory
from hiddenprimary.net.udp import DnsDatagramProtocol
from hiddenprimary.providers.api_sync import ApiSync
from hiddenprimary.reload.commit import commit, restore
from hiddenprimary.reload.events import ZoneEvents
from hiddenprimary.reload.plan import ReloadPlan, Signing, SigningChanged, plan_reload, plan_resign
from hiddenprimary.reload.served_serials import ServedSerials
from hiddenprimary.reload.zone_state import ZoneState
from hiddenprimary.serve.responder import NOTIFY_LOG_INTERVAL_S, respond
from hiddenprimary.transfer import acl
from hiddenprimary.transfer.activity import Activity
from hiddenprimary.transfer.notify import Notifier
from hiddenprimary.transfer.transfers import Transfers
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone.source import ReadLimits
from hiddenprimary.zone.store import Store

log = logging.getLogger("hiddenprimary.daemon")

SOA_FLUSH_S = 5.0  # how often SOA query counts go from memory to activity.sqlite


class StartupError(HiddenPrimaryError):
    """The daemon could not start (a port or the control socket is taken)."""


def _serial_text(serial: int | None) -> str:
    return "none" if serial is None else str(serial)


def _zone_text(zone: dns.name.Name) -> str:
    return zone.to_text(omit_final_dot=True)


class Server:
    """The running server: owns the store and is the only writer of new versions."""

    def __init__(self, config: Config, reactor, clock: Clock | None = None):
        self.config = config
        self.reactor = reactor
        self.clock = clock or SystemClock()
        self.store = Store(config.zones)
        self.events = ZoneEvents()
        self.transfers = Transfers(config, self.clock, self.store)
        self.notifier = Notifier(config, reactor, self.clock, self.transfers.keyring)
        self.notify_log = logs.Throttle(NOTIFY_LOG_INTERVAL_S, self.clock.monotonic)  # incoming NOTIFYs
        self._by_text = {_zone_text(z).lower(): z for z in config.zones}
        self._zones = {z: ZoneState() for z in config.zones}  # per-zone runtime state
        self._ports: list = []
        self._roles: dict[str, list] = {}
        self._checks = LazyPool(reactor, "hpctl-check", 2)  # checks wait on slow or dead secondaries
        self.metrics = Metrics()
        self.metrics.zone_serials = self._zone_serials
        self.metrics.secondary_serials = self._secondary_serials
        self.activity: Activity | None = None
        self.served: ServedSerials | None = None  # opened at start, in data_dir
        self._soa_flush_loop: task.LoopingCall | None = None
        self.api_sync = ApiSync(config, reactor, self.clock, self.store)  # API secondaries (Route 53)
        self.metrics.collectors.append(self.api_sync.collect)

    # -- answering ------------------------------------------------------------------------------

    def handle(self, wire: bytes, transport: str, peer: tuple[str, int]):
        roles = self._secondary_roles(peer[0])
        soa_seen = (lambda qname, key: self._note_soa_query(roles, peer[0], qname, key)) if roles else None
        reply = respond(wire, transport=transport, store=self.store,
                        max_udp_payload=self.config.limits.udp_max_payload, peer=peer, transfer=self.transfers.handle,
                        keyring=self.transfers.keyring, now=self.clock.wall, notify_log=self.notify_log,
                        soa_seen=soa_seen)
        self.metrics.query_answered(transport, reply)
        return reply

    def _zone_serials(self):
        for zone in self.config.zones:
            version = self.store.current(zone)
            if version is not None:
                yield _zone_text(zone), version.serial

    def _secondary_serials(self):
        for zone in self.config.zones:
            version = self.store.current(zone)
            for name in self.config.zones[zone].secondaries:
                last = self.activity.secondary_view(_zone_text(zone), name)["last_transfer"]
                if last is None or version is None:
                    continue
                # Ahead or incomparable shows as 0 here (a gauge); `hpctl check` tells those apart.
                yield _zone_text(zone), name, last["serial_to"], serials.lag(version.serial, last["serial_to"]) or 0

    # -- what each secondary did (hpctl status) ----------------------------------------------------

    def _secondary_roles(self, ip: str) -> dict[bytes, list[tuple[str, str, dns.name.Name | None]]]:
        """The secondaries whose allow prefixes hold `ip`, by zone apex in lowercase wire form:
        (zone text, secondary, the name of its TSIG key or None); cached per address."""
        roles = self._roles.get(ip)
        if roles is None:
            address = ipaddress.ip_address(ip)
            roles = {}
            for zone, zone_cfg in self.config.zones.items():
                for name in zone_cfg.secondaries:
                    if any(address in net for net in self.config.secondaries[name].allow
                           if net.version == address.version):
                        roles.setdefault(zone.to_digestable(), []).append((_zone_text(zone), name, self._key_name(name)))
            if len(self._roles) > 10000:
                self._roles.clear()
            self._roles[ip] = roles
        return roles

    def _key_name(self, secondary: str) -> dns.name.Name | None:
        key = self.config.secondaries[secondary].key
        return None if key is None else dns.name.from_text(self.config.tsig[key].name, origin=dns.name.root)

    def _note_soa_query(self, roles, ip: str, qname: bytes, key_name: dns.name.Name | None) -> None:
        """The responder's `soa_seen`: count a secondary's SOA check, in memory (flushed by
        `_flush_soa_queries`). A keyed secondary's count takes only queries its key verified, so
        unsigned or forged queries from its address are not taken for it."""
        for zone, secondary, wanted in roles.get(qname, ()):
            if wanted is None or wanted == key_name:
                self.activity.soa_query(zone, secondary, ip, self.clock.wall())

    def _flush_soa_queries(self, final: bool = False) -> defer.Deferred | None:
        """Write the SOA counts gathered since the last flush in a worker thread (the LoopingCall
        waits for the Deferred, so one flush at a time); `final` (at shutdown) on this thread,
        through the main connection."""
        if final:
            self._activity_write(lambda: self.activity.write_soa_queries(self.activity.take_soa_queries()))
            return None
        batch = self.activity.take_soa_queries()
        if not batch:
            return None

        def failed(f) -> None:
            self.activity.return_soa_queries(batch)  # written by the next flush
            event(log, "activity.write_failed", logging.WARNING, error=f.getErrorMessage())

        return threads.deferToThread(self.activity.write_soa_queries, batch, True).addErrback(failed)

    def _record_transfer(self, r) -> None:
        self.metrics.transfers[(r.zone, r.secondary, r.kind, "ok" if r.outcome == "ok" else "aborted")] += 1
        self.metrics.transfer_bytes[(r.zone, r.kind)] += r.bytes
        self._activity_write(self.activity.transfer, r.zone, r.secondary, r.peer, r.kind, r.serial_from,
                             r.serial_to, r.messages, r.bytes, r.duration_ms, r.outcome, self.clock.wall())

    def _record_notify(self, st) -> None:
        what = "acked" if st.acked_at is not None else "failed" if st.failed else "sent"
        self.metrics.notify[(st.zone, st.secondary, what)] += 1
        if what == "sent" and st.sent > 1:
            self.metrics.notify[(st.zone, st.secondary, "retries")] += 1
        self._activity_write(self.activity.notify, st.zone, st.secondary, f"{st.target[0]}:{st.target[1]}",
                             st.serial, st.sent, st.acked_at, st.failed, st.error, self.clock.wall())

    def _activity_write(self, method, *args) -> None:
        try:
            method(*args)
        except sqlite3.Error as e:  # bookkeeping must never break serving
            event(log, "activity.write_failed", logging.WARNING, error=e)

    def _secondaries_status(self, zone: dns.name.Name, version) -> list[dict]:
        out = []
        for name in self.config.zones[zone].secondaries:
            if self.config.secondaries[name].api is not None:
                out.append(self.api_sync.status(zone, name))
                continue
            view = self.activity.secondary_view(_zone_text(zone), name)
            last = view["last_transfer"]
            behind = None
            if version is not None and last is not None:
                behind = serials.compare(last["serial_to"], version.serial) is serials.Order.LESS
            out.append({"secondary": name, **view, "behind": behind})
        return out

    # -- start and stop -------------------------------------------------------------------------

    def listen(self) -> None:
        limits = self.config.limits
        budget = fd_budget.check(self.config)  # may lower the TCP caps to what the fd limit allows
        prefixes = acl.secondary_prefixes(self.config)
        tcp_factory = DnsStreamFactory(self.handle, self.reactor, idle_timeout_s=limits.tcp_idle_timeout_s,
                                       max_total=budget.tcp_clients_total,
                                       max_per_client=limits.tcp_clients_per_ip,
                                       xfr_idle_timeout_s=limits.xfr_idle_timeout_s,
                                       reserved=budget.tcp_clients_reserved,
                                       is_reserved_peer=lambda ip: acl.in_prefixes(ip, prefixes))
        try:
            for host, port in self.config.listen:
                # TCP first so that port 0 ("any") gives UDP the same port.
                tcp = self.reactor.listenTCP(port, tcp_factory, interface=host, backlog=128)
                port = tcp.getHost().port
                accept_errors.watch(tcp, "dns", f"{host}:{port}", self.reactor.seconds)
                self._ports.append(tcp)
                self._ports.append(self.reactor.listenUDP(port, DnsDatagramProtocol(self.handle), interface=host))
                event(log, "listen", address=host, port=port)
            if self.config.metrics is not None:
                host, port = self.config.metrics
                web = metrics.listen(self.metrics, self.reactor, host, port, max_clients=limits.metrics_clients,
                                     idle_timeout_s=limits.metrics_idle_timeout_s)
                port = web.getHost().port
                accept_errors.watch(web, "metrics", f"{host}:{port}", self.reactor.seconds)
                self._ports.append(web)
                event(log, "metrics.listen", address=host, port=port)
        except CannotListenError as e:
            reason = getattr(e.socketError, "strerror", None) or e.socketError  # not "[Errno 98] ..."
            raise StartupError(f"cannot listen on {e.interface or ''}:{e.port}: {reason}") from None

    def _listen_control(self) -> None:
        """The control socket. A socket another process listens on is never replaced (a second
        daemon on the same config would cut hpctl off from the first); a stale one from a crash is."""
        path = self.config.control
        holder = control.socket_holder(path)
        if holder is not None:
            raise StartupError(f"control socket {path} is in use by {holder}")
        try:
            control.remove_stale_socket(path)
            os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
            # wantPID: a lock file beside the socket, naming our PID; a stale socket is replaced.
            port = self.reactor.listenUNIX(path, ControlFactory(self), mode=0o600, wantPID=True)
            accept_errors.watch(port, "control", path, self.reactor.seconds)
            self._ports.append(port)
        except CannotListenError as e:
            if isinstance(e.socketError, OSError):  # bind() failed
                reason = e.socketError.strerror or e.socketError
                raise StartupError(f"cannot create the control socket {path}: {reason}") from None
            # The lock: another daemon took it between the check and now.
            holder = control.socket_holder(path) or "another daemon"
            raise StartupError(f"control socket {path} is in use by {holder}") from None
        except OSError as e:
            raise StartupError(f"cannot create the control socket {path}: {e.strerror or e}") from None

    def start(self) -> defer.Deferred:
        """Listen, restore every zone's last committed version, then reload the zone files (a file
        edited while we were down is a reload like any other). Until a zone has a version its
        queries get SERVFAIL."""
        tightened, problem = data_dir.prepare(self.config.data_dir)
        if tightened is not None:
            event(log, "data_dir.tightened", path=self.config.data_dir, mode=f"{tightened:04o}->{data_dir.DIR_MODE:04o}")
        if problem is not None:
            event(log, "data_dir.not_private", logging.WARNING, problem=problem)
        self._listen_control()  # first: a second daemon on this config stops here, having changed nothing
        self.served = ServedSerials(self.config.data_dir, self.clock.wall())  # JournalError: one line, exit 1
        if self.served.problem is not None:
            event(log, "served_serial.corrupt", logging.ERROR, error=self.served.problem)
        opening = "activity.sqlite"
        try:
            self.activity = Activity(self.config.data_dir)
            opening = "api_sync.sqlite"
            self.api_sync.start()
        except sqlite3.Error as e:
            raise StartupError(f"cannot open {os.path.join(self.config.data_dir, opening)}: {e}") from None
        self._soa_flush_loop = task.LoopingCall(self._flush_soa_queries)
        self._soa_flush_loop.clock = self.reactor
        self._soa_flush_loop.start(SOA_FLUSH_S, now=False)
        self.transfers.on_done = self._record_transfer
        self.notifier.on_change = self._record_notify
        self.listen()
        signal.signal(signal.SIGHUP, lambda *_: self.reactor.callFromThread(self._sighup))
        event(log, "started", zones=len(self.config.zones), config=self.config.path)
        for zone in self.config.zones:
            self.events.run(zone, lambda zone=zone: self._restore(zone))
        return self.reload([], retry_restore=False)  # each zone was just restored

    def _restore(self, zone: dns.name.Name) -> defer.Deferred:
        def in_thread():
            r = restore(self.config.data_dir, zone, self.clock, self.served, self.config.limits.journal_lock_wait_s)
            # Keys are made only for a zone never served signed (else its DS is already out).
            self._load_keys(zone, create=not zone_signer.is_signed(r.version))
            expires = zone_signer.earliest_expiration(r.version) if zone_signer.is_signed(r.version) else None
            return r, expires

        d = threads.deferToThread(in_thread)

        def restored(result) -> None:
            r, expires = result
            state = self._zones[zone]
            state.served_floor = r.served_floor
            if r.journal is None:  # locked or unreadable: nothing restored, nothing moved
                state.last = {"when": self._now_text(), "ok": False, "error": r.problem}
                return
            state.journal, state.journal_info, state.file_serial = r.journal, r.info, r.file_serial
            if r.version is not None:
                self.store.publish(zone, r.version, r.history)
                gc.freeze()
                self.notifier.zone_changed(zone, r.version)  # once at start (RFC 1996 3.4 / BIND)
                self.api_sync.zone_changed(zone, r.version)  # catch up what the provider missed
                event(log, "zone.restored", zone=_zone_text(zone), serial=r.version.serial)
                self._schedule_resign(zone, expires)
            if r.problem:
                state.last = {"when": self._now_text(), "ok": False, "error": r.problem}

        def failed(f) -> None:
            log.error("zone.restore_failed zone=%s error=%s", _zone_text(zone), f.getErrorMessage())
            self._zones[zone].last = {"when": self._now_text(), "ok": False, "error": f.getErrorMessage()}

        return d.addCallbacks(restored, failed)

    def _load_keys(self, zone: dns.name.Name, create: bool = True) -> None:
        """Load (or on first use create) a signed zone's keys; runs in a worker thread."""
        dnssec_cfg = self.config.zones[zone].dnssec
        if dnssec_cfg is None:
            return
        try:
            keys = load_or_create_keys(self.config.data_dir, zone, dnssec_cfg, self.clock.wall(), create)
        except DnssecKeyError as e:
            self._zones[zone].key_error = e
            event(log, "dnssec.keys_failed", logging.ERROR, zone=_zone_text(zone), error=e)
            return
        self._zones[zone].keys = tuple(keys)
        event(log, "dnssec.keys", zone=_zone_text(zone),
              keys=",".join(f"{k.role}:{k.key_tag}/{k.algorithm}" for k in keys))

    def _signing(self, zone: dns.name.Name) -> Signing | None:
        """What plan_reload needs to sign `zone`; None for an unsigned zone. Raises DnssecKeyError
        when the zone should be signed but its keys could not be loaded."""
        dnssec_cfg = self.config.zones[zone].dnssec
        if dnssec_cfg is None:
            return None
        keys = self._zones[zone].keys
        if keys is None:
            raise self._zones[zone].key_error or DnssecKeyError(self.config.data_dir, "the zone's keys are not loaded")
        return Signing(keys, zone_signer.SigningPolicy.from_config(dnssec_cfg), self._zones[zone].file_serial,
                       sign_batch=ParallelSigner(keys))

    def _schedule_resign(self, zone: dns.name.Name, earliest_expiration: int | None) -> None:
        """Arm the re-sign timer `refresh` before the zone's earliest signature expires."""
        dnssec_cfg = self.config.zones[zone].dnssec
        state = self._zones[zone]
        pending, state.resign_call = state.resign_call, None
        if pending is not None and pending.active():
            pending.cancel()
        if dnssec_cfg is None or earliest_expiration is None:
            state.resign_at = None
            return
        due = earliest_expiration - dnssec_cfg.refresh
        state.resign_at = due
        delay = min(max(1.0, due - self.clock.wall()), 86400.0)  # re-check at least daily
        state.resign_call = self.reactor.callLater(delay, self._resign_timer, zone)

    def _resign_timer(self, zone: dns.name.Name) -> None:
        self._zones[zone].resign_call = None
        self.events.run(zone, lambda: self._resign_one(zone))

    def _resign_one(self, zone: dns.name.Name) -> defer.Deferred:
        zone_cfg = self.config.zones[zone]
        current = self.store.current(zone)
        journal = self._zones[zone].journal
        if current is None or journal is None or zone_cfg.dnssec is None:
            return defer.succeed(None)
        started = self.clock.monotonic()

        def plan_and_commit():
            plan = plan_resign(current, zone_cfg, self.clock, self._signing(zone))
            return plan, commit(journal, plan, zone_cfg, self.served)

        def failed(f):
            event(log, "resign.failed", logging.ERROR, zone=_zone_text(zone), error=f.getErrorMessage())
            # Retry in a minute; in ten when only a reload can help (keys or denial changed).
            retry = 600 if f.check(SigningChanged) else 60
            self._schedule_resign(zone, int(self.clock.wall()) + zone_cfg.dnssec.refresh + retry)

        def publish_failed(f):  # after the commit: log it, never leave it unhandled
            log.error("resign.publish_failed zone=%s\n%s", _zone_text(zone), f.getTraceback())

        d = threads.deferToThread(plan_and_commit)
        d.addCallbacks(lambda r: self._publish(zone, r[0], r[1], started, why="resign"), failed)
        d.addErrback(publish_failed)
        return d

    def stop(self) -> defer.Deferred:
        for state in self._zones.values():
            if state.resign_call is not None and state.resign_call.active():
                state.resign_call.cancel()
        self.notifier.stop()
        self.api_sync.stop()
        if self._soa_flush_loop is not None and self._soa_flush_loop.running:
            self._soa_flush_loop.stop()
            self._flush_soa_queries(final=True)
        return defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in self._ports])

    def _sighup(self) -> None:
        event(log, "sighup")
        self.reload([])

    # -- control commands -----------------------------------------------------------------------

    def _resolve(self, names: list[str]) -> list[dns.name.Name]:
        if not names:
            return list(self.config.zones)
        zones = []
        for name in names:
            zone = self._by_text.get(name.rstrip(".").lower())
            if zone is None:
                known = ", ".join(sorted(self._by_text)) or "none"
                raise UsageError(f"unknown zone {name!r} (configured: {known})")
            zones.append(zone)
        return zones

    def reload(self, names: list[str], options: dict | None = None, retry_restore: bool = True) -> defer.Deferred:
        """Reload zones (all when `names` is empty); fires with one result dict per zone. A zone
        whose journal could not be opened is restored first (the operator may have fixed it)."""
        zones = self._resolve(names)
        return defer.gatherResults([self.events.run(z, lambda z=z: self._reload_or_restore(z, retry_restore))
                                    for z in zones], consumeErrors=True)

    def _reload_or_restore(self, zone: dns.name.Name, retry_restore: bool) -> defer.Deferred:
        if self._zones[zone].journal is not None or not retry_restore:
            return self._reload_one(zone)
        return self._restore(zone).addCallback(lambda _: self._reload_one(zone))

    def _reload_one(self, zone: dns.name.Name) -> defer.Deferred:
        zone_cfg = self.config.zones[zone]
        current = self.store.current(zone)
        started = self.clock.monotonic()
        state = self._zones[zone]
        journal = state.journal
        if journal is None:
            why = state.last.get("error") or "the zone's journal could not be opened"
            return defer.succeed(self._rejected(zone, current, None, why))
        # Only a first version needs the floor: later ones follow `current`, which is above it.
        floor = state.served_floor if current is None else None

        def plan_and_commit():  # in a worker thread: parse, check, diff, sign, then the durable write
            plan = plan_reload(current, zone_cfg, self.clock, self._signing(zone), state.load_memo,
                               state.file_serial, served_floor=floor, limits=self._read_limits())
            return plan, commit(journal, plan, zone_cfg, self.served)

        d = threads.deferToThread(plan_and_commit)
        d.addCallbacks(lambda r: self._publish(zone, r[0], r[1], started),
                       lambda f: self._rejected(zone, current, f))
        return d

    def _read_limits(self) -> ReadLimits:
        """What one load may read, its deadline counted from now (the worker thread's start)."""
        limits = self.config.limits
        return ReadLimits(max_bytes=limits.max_zone_file_bytes, max_records=limits.max_zone_records,
                          include_roots=self.config.include_roots,
                          deadline=self.clock.monotonic() + limits.reload_timeout_s,
                          timeout_s=limits.reload_timeout_s, clock=self.clock)

    def _publish(self, zone: dns.name.Name, plan: ReloadPlan, info, started: float, why: str = "reload") -> dict:
        state = self._zones[zone]
        state.journal_info = info
        if plan.file_serial is not None:
            state.file_serial = plan.file_serial
        if plan.memo is not None:
            state.load_memo = plan.memo
        if plan.signed is not None:  # a signing run (even one that changed nothing) knows the next due time
            self._schedule_resign(zone, plan.signed.earliest_expiration)
        if plan.new is not None:
            history = self.store.history(zone) + (plan.diff,) if plan.diff is not None else ()
            # Keep what the journal keeps (it trims the oldest first): the newest `entries` diffs.
            history = history[len(history) - info.entries:] if info.entries else ()
            self.store.publish(zone, plan.new, history)
            # A zone version is many long-lived objects without cycles (freed by reference
            # counting when replaced): keep the cyclic collector from rescanning them all.
            gc.freeze()
            self.notifier.zone_changed(zone, plan.new)  # after publishing, never waited for
            self.api_sync.zone_changed(zone, plan.new)  # pushes in its own threads, never waited for
        took_ms = round((self.clock.monotonic() - started) * 1000, 1)
        self.metrics.reload_done(plan.zone, took_ms / 1000)
        result = {
            "zone": plan.zone,
            "ok": True,
            "changed": plan.changed,
            "old_serial": plan.old_serial,
            "new_serial": plan.new_serial,
            "added": plan.diff.added_count if plan.diff else (plan.new.rr_count if plan.new else 0),
            "removed": plan.diff.removed_count if plan.diff else 0,
            "warnings": [str(w) for w in plan.warnings],
            "duration_ms": took_ms,
        }
        if plan.signed is not None:
            result["signatures_made"] = plan.signed.signed
            result["signatures_kept"] = plan.signed.reused
        self._zones[zone].last = {"when": self._now_text(), "ok": True, "error": None}
        for w in plan.warnings:
            event(log, "zone.warning", logging.WARNING, zone=plan.zone, problem=str(w))
        event(log, f"{why}.ok" if plan.changed else f"{why}.unchanged", zone=plan.zone,
              serial=f"{_serial_text(plan.old_serial)}->{plan.new_serial}", added=result["added"], removed=result["removed"],
              signed=result.get("signatures_made"), ms=took_ms)
        return result

    def _rejected(self, zone: dns.name.Name, current, failure, message: str | None = None) -> dict:
        text = _zone_text(zone)
        serving = None if current is None else current.serial
        if message is not None:
            errors, warnings = [message], []
        elif failure.check(ZoneRejected):
            problems = failure.value.problems
            errors = [str(p) for p in problems if p.severity is Severity.ERROR]
            warnings = [str(p) for p in problems if p.severity is Severity.WARNING]
        elif failure.check(HiddenPrimaryError):
            errors, warnings = [str(failure.value)], []
        else:
            log.error("reload.crashed zone=%s\n%s", text, failure.getTraceback())
            errors, warnings = [f"internal error: {failure.getErrorMessage()}"], []
        for e in errors:
            event(log, "reload.rejected", logging.ERROR, zone=text, serving=serving, problem=e)
        self._zones[zone].last = {"when": self._now_text(), "ok": False, "error": errors[0] if errors else None}
        return {"zone": text, "ok": False, "changed": False, "old_serial": serving, "new_serial": serving,
                "errors": errors, "warnings": warnings}

    def notify(self, names: list[str], options: dict | None = None) -> dict:
        """`hpctl notify`: send NOTIFY for the current serial again, to every target."""
        sent = []
        for zone in self._resolve(names):
            version = self.store.current(zone)
            if version is None:
                sent.append({"zone": _zone_text(zone), "serial": None, "targets": 0})
                continue
            count = self.notifier.zone_changed(zone, version)
            sent.append({"zone": _zone_text(zone), "serial": version.serial, "targets": count})
        return {"zones": sent}

    def check(self, names: list[str], options: dict | None = None) -> defer.Deferred:
        """`hpctl check`: ask every notify target of each zone for its serial (and with `deep`,
        compare content); blocking queries run in a worker thread."""
        from hiddenprimary.transfer import consistency  # loaded on first use: only `hpctl check` needs it

        deep = bool((options or {}).get("deep"))
        jobs = []
        for zone in self._resolve(names):
            version = self.store.current(zone)
            d = threads.deferToThreadPool(self.reactor, self._checks.get(), consistency.check_zone,
                                          self.config, zone, version, self.transfers.keyring, self.clock, deep)
            jobs.append(self.api_sync.extend_check(d, zone, version))
        return defer.gatherResults(jobs, consumeErrors=True).addCallback(lambda reports: {"zones": reports})

    def plan(self, names: list[str], options: dict | None = None) -> defer.Deferred:
        """`hpctl plan ZONE --secondary NAME`: what a sync to an API secondary would change."""
        return self.api_sync.plan(self._resolve(names) if names else [], options or {})

    def status(self, names: list[str], options: dict | None = None) -> dict:
        zones = []
        for zone in self._resolve(names):
            version = self.store.current(zone)
            last = self._zones[zone].last
            zones.append({
                "zone": _zone_text(zone),
                "loaded": version is not None,
                "signed": zone_signer.is_signed(version),
                "dnssec": self._dnssec_status(zone),
                "serial": None if version is None else version.serial,
                "records": None if version is None else version.rr_count,
                "last_reload": last.get("when"),
                "last_reload_ok": last.get("ok"),
                "last_error": last.get("error"),
                "journal": self._journal_status(zone),
                "secondaries": self._secondaries_status(zone, version),
            })
        return {"zones": zones}

    def _dnssec_status(self, zone: dns.name.Name) -> dict | None:
        dnssec_cfg = self.config.zones[zone].dnssec
        if dnssec_cfg is None:
            return None
        state = self._zones[zone]
        keys = state.keys or ()
        due = state.resign_at
        return {"algorithm": dnssec_cfg.algorithm, "denial": dnssec_cfg.denial,
                "keys": [{"tag": k.key_tag, "role": k.role, "algorithm": k.algorithm} for k in keys],
                "key_error": str(state.key_error) if state.key_error is not None else None,
                "next_resign": None if due is None else self._time_text(due)}

    def ds(self, names: list[str], options: dict | None = None) -> dict:
        """`hpctl ds`: the DS records to hand to the parent zone's registrar, per signed zone."""
        out = []
        for zone in self._resolve(names):
            if self.config.zones[zone].dnssec is None:
                raise UsageError(f"zone {_zone_text(zone)} is not signed (no dnssec: in the config)")
            keys = self._zones[zone].keys
            if keys is None:
                raise UsageError(f"zone {_zone_text(zone)} has no keys: {self._zones[zone].key_error or 'not loaded yet'}")
            digests = (options or {}).get("digest") or "SHA256"
            records = [f"{zone.to_text()} IN DS {ds.to_text()}" for ds in ds_records(keys, digests)]
            out.append({"zone": _zone_text(zone), "ds": records})
        return {"zones": out}

    def _journal_status(self, zone: dns.name.Name) -> dict | None:
        info = self._zones[zone].journal_info
        if info is None:
            return None
        return {"first_serial": info.first_serial, "last_serial": info.last_serial,
                "entries": info.entries, "bytes": info.size_bytes}

    def _now_text(self) -> str:
        return self._time_text(self.clock.wall())

    @staticmethod
    def _time_text(when: float) -> str:
        return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).isoformat(timespec="seconds")


def run(config: Config) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit status."""
    from twisted.internet import reactor

    os.umask(data_dir.PRIVATE_UMASK)  # every file under data_dir 0600, sqlite's -wal/-shm too
    reactor.suggestThreadPoolSize(4)
    server = Server(config, reactor)
    try:
        server.start()
    except HiddenPrimaryError as e:  # StartupError, DataDirError: one line (logs go to stderr too)
        print(f"hiddenprimary: {e}", flush=True, file=sys.stderr)
        return e.exit_code
    reactor.addSystemEventTrigger("before", "shutdown", lambda: event(log, "stopping"))
    reactor.addSystemEventTrigger("before", "shutdown", server.stop)
    reactor.run()
    event(log, "stopped")
    return 0
