"""DNS over TCP (RFC 7766): 2-byte length framing, pipelined queries on one connection, an idle
timeout that only complete messages reset, caps on connections per client and in all (with
slots kept for secondaries), and backpressure: a client that does not read stops being read, and
is dropped after the timeout.

A handler may answer with a stream (a zone transfer: an object with `next_message()` and
`finish(error=None)`). Its messages are written only as fast as the client reads them (the
transport tells us when its buffer is full), so a slow secondary never makes us buffer a zone;
queries that arrive meanwhile wait until the stream ends (RFC 5936 4.1 allows that)."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Protocol

from twisted.internet import interfaces, protocol
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from hiddenprimary.logs import RateLimitedEvent, event

log = logging.getLogger("hiddenprimary.tcp")

Handler = Callable[[bytes, str, tuple[str, int]], "bytes | Stream | None"]


class Stream(Protocol):
    def next_message(self) -> bytes | None: ...

    def finish(self, error: str | None = None) -> None: ...

MIN_MESSAGE = 12  # a DNS header; shorter lengths are garbage (BIND closes the connection)


@implementer(interfaces.IPushProducer)
class DnsStreamProtocol(protocol.Protocol):
    def __init__(self, factory: DnsStreamFactory, peer: tuple[str, int]):
        self.factory = factory
        self.peer = peer
        self._buffer = bytearray()
        self._idle_call = None
        self._write_blocked = False
        self._stream: Stream | None = None
        self._pump_call = None
        self._reading = True
        self.secondary = False  # from a secondary's source: not counted in the others' share

    # -- connection life ---------------------------------------------------------------------

    def connectionMade(self) -> None:
        # We are the transport's producer so that it tells us when its write buffer is full.
        self.transport.registerProducer(self, True)
        self._arm_idle_timer()

    def connectionLost(self, reason=None) -> None:
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        self._pump_call = None
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.finish("connection lost")
        if self._idle_call is not None and self._idle_call.active():
            self._idle_call.cancel()
        self._idle_call = None
        self.factory.connection_closed(self)

    def _arm_idle_timer(self) -> None:
        timeout = self.factory.xfr_idle_timeout_s if self._stream is not None else self.factory.idle_timeout_s
        if self._idle_call is not None and self._idle_call.active():
            self._idle_call.reset(timeout)
        else:
            self._idle_call = self.factory.reactor.callLater(timeout, self._idle_expired)

    def _idle_expired(self) -> None:
        self._idle_call = None
        event(log, "tcp.idle_timeout", logging.DEBUG, peer=self.peer[0], write_blocked=self._write_blocked)
        # A client that stopped reading cannot take a graceful close: drop it.
        if self._write_blocked:
            self.transport.abortConnection()
        else:
            self.transport.loseConnection()

    # -- IPushProducer: the transport's write buffer is full / has drained ------------------

    def pauseProducing(self) -> None:
        self._write_blocked = True
        self._update_reading()

    def resumeProducing(self) -> None:
        self._write_blocked = False
        self._update_reading()
        self._schedule_pump()

    def _update_reading(self) -> None:
        """Read from the socket only while we can answer: not write-blocked, no stream running."""
        want = not self._write_blocked and self._stream is None
        if want != self._reading:
            self._reading = want
            if want:
                self.transport.resumeProducing()
            else:
                self.transport.pauseProducing()

    def stopProducing(self) -> None:
        pass

    # -- framing ----------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        self._process()

    def _process(self) -> None:
        while self._stream is None and len(self._buffer) >= 2 and self.connected:
            (length,) = struct.unpack_from("!H", self._buffer)
            if length < MIN_MESSAGE:
                event(log, "tcp.bad_length", logging.DEBUG, peer=self.peer[0], length=length)
                self.transport.abortConnection()
                return
            if len(self._buffer) < 2 + length:
                return
            message = bytes(self._buffer[2 : 2 + length])
            del self._buffer[: 2 + length]
            self._arm_idle_timer()
            try:
                reply = self.factory.handler(message, "tcp", self.peer)
            except Exception:  # protocol boundary
                log.exception("tcp.handler_failed peer=%s", self.peer[0])
                self.transport.abortConnection()
                return
            if reply is None:
                # Not a query (e.g. a response sent to us): RFC 7766 lets us close.
                self.transport.loseConnection()
                return
            if isinstance(reply, bytes):
                self.transport.write(struct.pack("!H", len(reply)) + reply)
            else:
                self._stream = reply
                self._update_reading()
                self._arm_idle_timer()
                self._schedule_pump()

    def _pump(self) -> None:
        """Write the next stream message, then let the reactor breathe before the one after: a
        message may cost a rendering, and queries must not wait behind a whole zone."""
        self._pump_call = None
        stream = self._stream
        if stream is None or self._write_blocked or not self.connected:
            return
        try:
            message = stream.next_message()
        except Exception as e:  # protocol boundary: a transfer that cannot go on is cut
            log.exception("tcp.stream_failed peer=%s", self.peer[0])
            self._stream = None
            stream.finish(f"{type(e).__name__}: {e}")
            self.transport.abortConnection()
            return
        if message is None:
            self._stream = None
            stream.finish()
            self._arm_idle_timer()
            self._update_reading()
            self._process()  # queries that arrived during the transfer
            return
        self._arm_idle_timer()  # progress: the client is reading
        self.transport.write(struct.pack("!H", len(message)) + message)
        self._schedule_pump()

    def _schedule_pump(self) -> None:
        if self._pump_call is None and self._stream is not None:
            self._pump_call = self.factory.reactor.callLater(0, self._pump)


class DnsStreamFactory(protocol.Factory):
    """Caps: `max_total` connections, `max_per_client` per source address, and `reserved` slots
    that only sources `is_reserved_peer` accepts (our secondaries) may take: other sources hold at
    most `max_total - reserved` between them, so idle connections from elsewhere can never lock
    a secondary out of AXFR/IXFR."""

    def __init__(self, handler: Handler, reactor: IReactorTime, *, idle_timeout_s: float,
                 max_total: int, max_per_client: int, xfr_idle_timeout_s: float = 60.0,
                 reserved: int = 0, is_reserved_peer: Callable[[str], bool] = lambda host: False):
        self.handler = handler
        self.reactor = reactor
        self.idle_timeout_s = idle_timeout_s
        self.xfr_idle_timeout_s = xfr_idle_timeout_s
        self.max_total = max_total
        self.max_per_client = max_per_client
        self.reserved = reserved
        self.is_reserved_peer = is_reserved_peer
        self.open_total = 0
        self.open_unreserved = 0  # connections from sources that are not secondaries
        self.open_by_client: dict[str, int] = {}
        self._refused = RateLimitedEvent(log, "tcp.refused_connection", logging.WARNING, reactor.seconds)

    def reconfigure(self, budget, limits) -> None:
        """Caps and timeouts from a re-read config (`fd_budget.FdBudget`, `config.Limits`), for
        connections that come afterwards; open ones keep going (a lower cap refuses new ones)."""
        self.max_total = budget.tcp_clients_total
        self.reserved = budget.tcp_clients_reserved
        self.max_per_client = limits.tcp_clients_per_ip
        self.idle_timeout_s = limits.tcp_idle_timeout_s
        self.xfr_idle_timeout_s = limits.xfr_idle_timeout_s

    def _refusal(self, host: str, secondary: bool) -> str | None:
        """Why a new connection from `host` is refused; None: it may connect."""
        if self.open_total >= self.max_total:
            return "total"
        if self.open_by_client.get(host, 0) >= self.max_per_client:
            return "per_client"
        if not secondary and self.open_unreserved >= self.max_total - self.reserved:
            return "reserved_for_secondaries"
        return None

    def buildProtocol(self, addr):
        host = addr.host
        secondary = self.reserved > 0 and self.is_reserved_peer(host)
        why = self._refusal(host, secondary)
        if why is not None:
            self._refused(peer=host, why=why, open_total=self.open_total, limit=self.max_total,
                          reserved=self.reserved, open_client=self.open_by_client.get(host, 0))
            return None  # Twisted closes the connection at once
        self.open_total += 1
        self.open_unreserved += not secondary
        self.open_by_client[host] = self.open_by_client.get(host, 0) + 1
        proto = DnsStreamProtocol(self, (host, addr.port))
        proto.secondary = secondary
        return proto

    def connection_closed(self, proto: DnsStreamProtocol) -> None:
        host = proto.peer[0]
        self.open_total -= 1
        self.open_unreserved -= not proto.secondary
        left = self.open_by_client.get(host, 1) - 1
        if left:
            self.open_by_client[host] = left
        else:
            self.open_by_client.pop(host, None)
