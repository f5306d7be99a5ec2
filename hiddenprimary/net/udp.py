"""DNS over UDP: one datagram in, at most one datagram out. The handler does the DNS work.

`listen` opens a Twisted UDP port whose read loop calls the handler and sends its reply with the
socket's own `recvfrom`/`sendto`: Twisted's generic `Port.write` checks every address's syntax
and family again (a fifth of a cached answer's cost), though the address is the one the datagram
came from. The loop reads at most READS_PER_WAKEUP datagrams before the reactor runs other work
(TCP, timers, reloads' callbacks) again; errors on one datagram never stop the listener."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable

from twisted.internet import protocol, udp

from hiddenprimary.logs import event

log = logging.getLogger("hiddenprimary.udp")

READS_PER_WAKEUP = 64
MAX_DATAGRAM = 8192  # read buffer (Twisted's default): a longer query arrives cut, and is FORMERR
_AGAIN = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})

# handler(wire, transport name, (host, port)) -> reply bytes, or None to send nothing
Handler = Callable[[bytes, str, tuple[str, int]], "bytes | None"]
# fast(wire) -> reply bytes, or None to ask the handler; must not raise
Fast = Callable[[bytes, tuple], "bytes | None"]  # (datagram, source address) -> reply


class DnsDatagramProtocol(protocol.DatagramProtocol):
    """What the port's read loop calls: `fast` first (if given), then the handler."""

    def __init__(self, handler: Handler, fast: Fast | None = None):
        self.handler = handler
        self.fast = fast or _never


def _never(wire: bytes, peer: tuple) -> None:
    return None


def _handle(handler: Handler, data: bytes, addr: tuple) -> bytes | None:
    try:
        return handler(data, "udp", (addr[0], addr[1]))
    except Exception:  # protocol boundary: one bad datagram must not stop the listener
        log.exception("udp.handler_failed peer=%s", addr[0])
        return None


class DnsPort(udp.Port):
    """A UDP port that answers in its read loop (see the module docstring)."""

    def doRead(self) -> None:
        sock = self.socket
        handler, fast = self.protocol.handler, self.protocol.fast
        for _ in range(READS_PER_WAKEUP):
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except OSError as e:
                if e.errno not in _AGAIN and e.errno != errno.ECONNREFUSED:
                    event(log, "udp.receive_failed", logging.WARNING, error=e)
                return
            try:
                reply = fast(data, addr)
            except Exception:  # a bug in the fast path: the handler (full path) still answers
                log.exception("udp.fast_path_failed peer=%s", addr[0])
                reply = None
            if reply is None:
                reply = _handle(handler, data, addr)
            if reply is not None:
                try:
                    sock.sendto(reply, addr)
                except OSError as e:  # e.g. EAGAIN under flood, or an unreachable peer
                    event(log, "udp.send_failed", logging.DEBUG, peer=addr[0], error=e)


def listen(reactor, port: int, handler: Handler, interface: str = "", fast: Fast | None = None) -> DnsPort:
    """A listening DnsPort on `interface`:`port` (as `reactor.listenUDP`)."""
    listening = DnsPort(port, DnsDatagramProtocol(handler, fast), interface, MAX_DATAGRAM, reactor)
    listening.startListening()
    return listening
