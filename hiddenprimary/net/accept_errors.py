"""accept() failures on a listening port (out of descriptors, out of memory), logged as one
`accept.failed` line per listener and interval.

Twisted copes on its own (on EMFILE it frees a spare descriptor, accepts and closes the waiting
connections) but tells only its own log, which this daemon does not print: without this, running
out of descriptors refuses AXFR and hpctl with nothing logged at all."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable

from hiddenprimary.logs import RateLimitedEvent

log = logging.getLogger("hiddenprimary.accept")

# The errors Twisted's accept loop survives (twisted.internet.tcp._ACCEPT_ERRORS, less ECONNABORTED:
# a client that gave up is no problem of ours).
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class _WatchedListener:
    """The listening socket with its accept() errors reported; all else passes through."""

    def __init__(self, sock, report: Callable[[int], None]):
        self._sock = sock
        self._report = report

    def accept(self):
        try:
            return self._sock.accept()
        except OSError as e:
            if e.errno in RESOURCE_ERRORS:
                self._report(e.errno)
            raise

    def __getattr__(self, name):
        return getattr(self._sock, name)


def watch(port, listener: str, address: str, now: Callable[[], float]) -> None:
    """Report accept() errors of a listening Twisted `port` (TCP or UNIX) as `listener`."""
    failed = RateLimitedEvent(log, "accept.failed", logging.ERROR, now)

    def report(code: int) -> None:
        failed(listener=listener, address=address, error=errno.errorcode.get(code, code), reason=os.strerror(code))

    port.socket = _WatchedListener(port.socket, report)
