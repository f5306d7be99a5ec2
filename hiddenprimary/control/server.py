"""The control socket: a Unix socket speaking JSON lines. Each request line is
`{"command": NAME, ...arguments}`; each answer line is `{"ok": true, "result": ...}` or
`{"ok": false, "error": "one line"}`. The socket only schedules work through `commands`; it never
touches zone contents itself."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import stat
from typing import Protocol as TypingProtocol

from twisted.internet import defer, protocol
from twisted.protocols.basic import LineOnlyReceiver

from hiddenprimary.errors import HiddenPrimaryError
from hiddenprimary.logs import event

log = logging.getLogger("hiddenprimary.control")

MAX_REQUEST_BYTES = 64 * 1024


COMMANDS = ("reload", "status", "notify", "check", "ds", "plan")


class Commands(TypingProtocol):
    """Each command takes the zone names (empty: all) and its options; returns a result or a
    Deferred of one (JSON-able)."""

    def reload(self, zones: list[str], options: dict) -> defer.Deferred: ...

    def status(self, zones: list[str], options: dict) -> dict: ...

    def notify(self, zones: list[str], options: dict) -> dict: ...

    def check(self, zones: list[str], options: dict) -> defer.Deferred: ...

    def ds(self, zones: list[str], options: dict) -> dict: ...

    def plan(self, zones: list[str], options: dict) -> defer.Deferred: ...


class ControlProtocol(LineOnlyReceiver):
    delimiter = b"\n"
    MAX_LENGTH = MAX_REQUEST_BYTES

    def __init__(self, commands: Commands):
        self._commands = commands

    def lineReceived(self, line: bytes) -> None:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                raise ValueError("a request is a JSON object with a 'command' string")
            name = request["command"]
            zones = request.get("zones", [])
            if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
                raise ValueError("'zones' must be a list of zone names")
            if name not in COMMANDS:
                raise ValueError(f"unknown command {name!r} (known: {', '.join(COMMANDS)})")
            options = request.get("options", {})
            if not isinstance(options, dict):
                raise ValueError("'options' must be an object")
        except ValueError as e:
            self._send({"ok": False, "error": f"bad request: {e}"})
            return
        event(log, "control.request", command=name, zones=",".join(zones) or "all")
        d = defer.maybeDeferred(getattr(self._commands, name), zones, options)
        d.addCallbacks(lambda result: self._send({"ok": True, "result": result}), self._failed)

    def _failed(self, failure) -> None:
        if failure.check(HiddenPrimaryError):
            self._send({"ok": False, "error": str(failure.value), "exit": failure.value.exit_code})
        else:
            log.error("control.failed error=%s", failure.getTraceback())
            self._send({"ok": False, "error": f"internal error: {failure.getErrorMessage()}"})

    def _send(self, answer: dict) -> None:
        if self.transport is not None and self.connected:
            self.sendLine(json.dumps(answer).encode())

    def lineLengthExceeded(self, line: bytes) -> None:
        self.transport.loseConnection()


class ControlFactory(protocol.Factory):
    def __init__(self, commands: Commands):
        self._commands = commands

    def buildProtocol(self, addr):
        return ControlProtocol(self._commands)


# -- who holds the socket path (a second daemon on the same config must not take it over) --------


def socket_holder(path: str) -> str | None:
    """Who holds the control socket `path`, as text for an error line, or None when nobody does
    (absent, or stale: left by a crash, nothing listening, no live process in its lock file)."""
    pid = _lock_pid(path)
    if _accepts(path):
        return f"another daemon (pid {pid})" if pid is not None else "another process (it accepts connections)"
    if pid is not None:  # locked but not listening yet (starting), or the PID was reused
        return f"pid {pid}, named by {path}.lock (remove that file if pid {pid} is not a hiddenprimary)"
    return None


def remove_stale_socket(path: str) -> None:
    """Remove a socket file nobody listens on (`socket_holder` said None). Twisted replaces one
    only when it also finds a stale lock file; a crash between them can leave the socket alone.
    Any other kind of file there is left, and is an error (OSError)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, "it exists and is not a socket")
    os.unlink(path)


def _lock_pid(path: str) -> int | None:
    """The PID in Twisted's lock file beside the socket (a symlink to it), if that process lives."""
    try:
        pid = int(os.readlink(path + ".lock"))
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return pid


def _accepts(path: str) -> bool:
    """Whether something listens on `path`; when we cannot tell (e.g. another user's socket), yes:
    such a socket is left alone."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(path)
        except socket.timeout:
            return True  # a listener with a full backlog
        except OSError as e:
            return e.errno not in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK, errno.ENOTDIR)
        return True
