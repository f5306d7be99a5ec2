"""The hpctl side of the control socket: one JSON request line out, one answer line back.
Standard library only, so hpctl starts fast and never loads the server."""

from __future__ import annotations

import json
import socket

from hiddenprimary.errors import ControlError

MAX_WAIT_S = 365 * 86400.0  # beyond this the socket module overflows; nobody waits a year anyway


def call(socket_path: str, request: dict, timeout_s: float) -> dict:
    """Send `request`, return the answer object. Raises ControlError when the daemon can't be
    reached or answers badly."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(min(timeout_s, MAX_WAIT_S))
            sock.connect(socket_path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except FileNotFoundError:
        raise ControlError(f"cannot reach the daemon: no control socket at {socket_path} (is hiddenprimary running?)") from None
    except ConnectionRefusedError:
        raise ControlError(f"cannot reach the daemon: {socket_path} refuses connections (is hiddenprimary running?)") from None
    except socket.timeout:
        raise ControlError(f"the daemon did not answer within {timeout_s:g}s ({socket_path})") from None
    except OSError as e:
        raise ControlError(f"cannot reach the daemon at {socket_path}: {e.strerror or e}") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlError(f"the daemon sent a bad answer: {data[:200]!r}") from None
    if not isinstance(answer, dict) or "ok" not in answer:
        raise ControlError(f"the daemon sent a bad answer: {data[:200]!r}") from None
    return answer
