"""DNS over UDP: one datagram in, at most one datagram out. The handler does the DNS work."""

from __future__ import annotations

import logging
from collections.abc import Callable

from twisted.internet import protocol

from hiddenprimary.logs import event

log = logging.getLogger("hiddenprimary.udp")

# handler(wire, transport name, (host, port)) -> reply bytes, or None to send nothing
Handler = Callable[[bytes, str, tuple[str, int]], "bytes | None"]


class DnsDatagramProtocol(protocol.DatagramProtocol):
    def __init__(self, handler: Handler):
        self._handler = handler

    def datagramReceived(self, data: bytes, addr: tuple) -> None:
        peer = (addr[0], addr[1])
        try:
            reply = self._handler(data, "udp", peer)
        except Exception:  # protocol boundary: one bad datagram must not stop the listener
            log.exception("udp.handler_failed peer=%s", peer[0])
            return
        if reply is not None:
            try:
                self.transport.write(reply, addr)
            except OSError as e:  # e.g. EAGAIN under flood, or an unreachable peer
                event(log, "udp.send_failed", logging.DEBUG, peer=peer[0], error=e)
