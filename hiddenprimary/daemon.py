"""Wiring: config -> store -> listeners -> control socket -> zone loads -> signals."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys

from twisted.internet import defer
from twisted.internet.error import CannotListenError

from hiddenprimary import data_dir, fd_budget, logs
from hiddenprimary.clock import Clock, SystemClock
from hiddenprimary.config import Config
from hiddenprimary.config.change import ConfigChange
from hiddenprimary.control import server as control
from hiddenprimary.control.commands import DaemonCommands
from hiddenprimary.control.server import ControlFactory
from hiddenprimary.errors import HiddenPrimaryError
from hiddenprimary.logs import event
from hiddenprimary.metrics import Metrics
from hiddenprimary.net import accept_errors, udp
from hiddenprimary.net.tcp import DnsStreamFactory
from hiddenprimary.providers.api_sync import ApiSync
from hiddenprimary.reload.runner import Reloader
from hiddenprimary.serve.responder import NOTIFY_LOG_INTERVAL_S, UDP, answer_plain, respond
from hiddenprimary.transfer import acl
from hiddenprimary.transfer.notify import Notifier
from hiddenprimary.transfer.prerender import AxfrPrerender
from hiddenprimary.transfer.secondary_book import SecondaryBook
from hiddenprimary.transfer.transfers import Transfers
from hiddenprimary.zone.store import Store

log = logging.getLogger("hiddenprimary.daemon")


class StartupError(HiddenPrimaryError):
    """The daemon could not start (a port or the control socket is taken)."""


SWITCH_INTERVAL_S = 0.0005


class Server:
    """The running server: builds the parts and connects them; it holds no logic of its own."""

    def __init__(self, config: Config, reactor, clock: Clock | None = None):
        self.config = config
        self.reactor = reactor
        self.clock = clock or SystemClock()
        self.metrics = Metrics()
        self.store = Store(config.zones)
        self.reloader = Reloader(config, reactor, self.clock, self.store, self.metrics.reload_done)
        self.transfers = Transfers(config, self.clock, self.store)
        self.notifier = Notifier(config, reactor, self.clock, self.transfers.keyring)
        self.api_sync = ApiSync(config, reactor, self.clock, self.store)  # API secondaries (Route 53)
        self.book = SecondaryBook(config, reactor, self.clock, self.store, self.metrics)
        self.commands = DaemonCommands(config, reactor, self.clock, self.reloader, self.notifier, self.api_sync,
                                       self.book, self.transfers.keyring)
        self.notify_log = logs.Throttle(NOTIFY_LOG_INTERVAL_S, self.clock.monotonic)  # incoming NOTIFYs
        self._ports: list = []
        # Who hears of what: a published version goes out by NOTIFY and to the API secondaries;
        # transfers and NOTIFYs are booked for `hpctl status` and the metrics.
        self.prerender = AxfrPrerender(config, reactor)  # a new version's AXFR, off the reactor thread
        self.reloader.listeners += [self.notifier.zone_changed, self.api_sync.zone_changed,
                                    self.prerender.zone_changed]
        self.transfers.on_done = self.book.transfer_done
        self.notifier.on_change = self.book.notify_changed
        self.metrics.zone_serials = self._zone_serials
        self.metrics.secondary_serials = self.book.secondary_serials
        self.metrics.collectors.append(self.api_sync.collect)
        self.commands.apply_config = self.apply_config
        self._tcp_factory: DnsStreamFactory | None = None
        self._reserved_prefixes = acl.secondary_prefixes(config)

    def apply_config(self, change: ConfigChange) -> None:
        """A re-read config, on the reactor thread, to every part at once (`hpctl reload`, SIGHUP):
        the store serves the zones it adds (SERVFAIL until their first reload) and no longer the
        zones it drops (REFUSED); transfers, NOTIFYs, API syncs and the TCP limits that start
        afterwards read the new settings. What needs a restart keeps its running value."""
        config = change.config
        self.config = config
        for zone in change.added:
            self.store.add(zone)
        for zone in change.removed:
            self.store.remove(zone)
        self.reloader.reconfigure(config)
        self.transfers.reconfigure(config)
        self.notifier.reconfigure(config)
        self.book.reconfigure(config)
        self.prerender.reconfigure(config)
        self.commands.reconfigure(config)
        self.api_sync.reconfigure(config)
        self._reserved_prefixes = acl.secondary_prefixes(config)
        if self._tcp_factory is not None:
            self._tcp_factory.reconfigure(fd_budget.check(config), config.limits)
        logs.set_level(config.log_level)

    def handle(self, wire: bytes, transport: str, peer: tuple[str, int]):
        reply = respond(wire, transport=transport, store=self.store,
                        max_udp_payload=self.config.limits.udp_max_payload, peer=peer, transfer=self.transfers.handle,
                        keyring=self.transfers.keyring, now=self.clock.wall, notify_log=self.notify_log,
                        soa_seen=self.book.soa_seen_from(peer[0]))
        self.metrics.query_answered(transport, reply)
        return reply

    def answer_plain(self, wire: bytes, peer: tuple) -> bytes | None:
        """UDP's fast path (`responder.answer_plain`); None: `handle` answers."""
        reply = answer_plain(wire, UDP, self.store, self.config.limits.udp_max_payload,
                             lambda: self.book.soa_seen_from(peer[0]))
        if reply is not None:
            self.metrics.query_answered(UDP, reply)
        return reply

    def _zone_serials(self):
        for zone in self.config.zones:
            version = self.store.current(zone)
            if version is not None:
                yield zone.to_text(omit_final_dot=True), version.serial

    # -- start and stop -------------------------------------------------------------------------

    def start(self) -> defer.Deferred:
        """Open the state in data_dir, listen, then restore and reload every zone (until a zone
        has a version its queries get SERVFAIL). Fires when every zone's first reload is done."""
        tightened, problem = data_dir.prepare(self.config.data_dir)
        if tightened is not None:
            event(log, "data_dir.tightened", path=self.config.data_dir, mode=f"{tightened:04o}->{data_dir.DIR_MODE:04o}")
        if problem is not None:
            event(log, "data_dir.not_private", logging.WARNING, problem=problem)
        self._listen_control()  # first: a second daemon on this config stops here, having changed nothing
        self.reloader.open()  # JournalError: one line, exit 1
        opening = "activity.sqlite"
        try:
            self.book.open()
            opening = "api_sync.sqlite"
            self.api_sync.start()
        except sqlite3.Error as e:
            raise StartupError(f"cannot open {os.path.join(self.config.data_dir, opening)}: {e}") from None
        self.listen()
        signal.signal(signal.SIGHUP, lambda *_: self.reactor.callFromThread(self._sighup))
        event(log, "started", zones=len(self.config.zones), config=self.config.path)
        return self.reloader.start()

    def stop(self) -> defer.Deferred:
        self.reloader.stop()
        self.notifier.stop()
        self.api_sync.stop()
        self.book.stop()
        return defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in self._ports])

    def _sighup(self) -> None:
        event(log, "sighup")
        # A refused config is logged (`config.refused`); the zones' outcomes log themselves.
        self.commands.reload([]).addErrback(lambda f: f.trap(HiddenPrimaryError))

    def listen(self) -> None:
        limits = self.config.limits
        budget = fd_budget.check(self.config)  # may lower the TCP caps to what the fd limit allows
        tcp_factory = DnsStreamFactory(self.handle, self.reactor, idle_timeout_s=limits.tcp_idle_timeout_s,
                                       max_total=budget.tcp_clients_total,
                                       max_per_client=limits.tcp_clients_per_ip,
                                       xfr_idle_timeout_s=limits.xfr_idle_timeout_s,
                                       reserved=budget.tcp_clients_reserved,
                                       is_reserved_peer=lambda ip: acl.in_prefixes(ip, self._reserved_prefixes))
        self._tcp_factory = tcp_factory
        try:
            for host, port in self.config.listen:
                # TCP first so that port 0 ("any") gives UDP the same port.
                tcp = self.reactor.listenTCP(port, tcp_factory, interface=host, backlog=128)
                port = tcp.getHost().port
                accept_errors.watch(tcp, "dns", f"{host}:{port}", self.reactor.seconds)
                self._ports.append(tcp)
                self._ports.append(udp.listen(self.reactor, port, self.handle, interface=host, fast=self.answer_plain))
                event(log, "listen", address=host, port=port)
            if self.config.metrics is not None:
                from hiddenprimary import metrics_http  # Twisted's web server: only when asked for

                host, port = self.config.metrics
                web = metrics_http.listen(self.metrics, self.reactor, host, port, max_clients=limits.metrics_clients,
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
            port = self.reactor.listenUNIX(path, ControlFactory(self.commands), mode=0o600, wantPID=True)
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


def run(config: Config, config_bytes: bytes | None = None) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit status. `config_bytes`: what `config` was
    parsed from (a reload finding the same bytes parses nothing)."""
    from twisted.internet import reactor

    os.umask(data_dir.PRIVATE_UMASK)  # every file under data_dir 0600, sqlite's -wal/-shm too
    reactor.suggestThreadPoolSize(4)
    # The reactor thread answers queries while reloads and renders run on worker threads; it waits
    # for the GIL up to this long each time it wakes (CPython's default is 5 ms).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server = Server(config, reactor)
    server.commands.config_read(config_bytes)
    try:
        server.start()
    except HiddenPrimaryError as e:  # StartupError, DataDirError: one line (logs go to stderr too)
        print(f"hiddenprimary: {e}", flush=True, file=sys.stderr)
        return e.exit_code
    reactor.addSystemEventTrigger("before", "shutdown", lambda: event(log, "stopping"))
    reactor.addSystemEventTrigger("before", "shutdown", server.stop)
    reactor.addSystemEventTrigger("after", "shutdown", server.reloader.close)  # the worker threads are done
    reactor.run()
    event(log, "stopped")
    return 0
