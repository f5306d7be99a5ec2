"""Route 53 for the tests: moto in server mode (a local Route 53 API on loopback, real HTTP, real
boto3), and a fault proxy in front of it that counts the API calls it passes and, when told,
answers Route 53 errors (Throttling, InvalidChangeBatch...) instead of passing a call on. The
daemon under test talks to the proxy; the tests check what moto holds directly."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections import Counter

from tests.helpers import free_port, wait_for

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def moto_server(timeout: float = 20.0):
    """Start `moto_server` on a free loopback port; yield its URL; stop it by its PID."""
    port = free_port()
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    cmd = [exe] if exe else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **ENV})
    try:
        def listening() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited with status {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False
        wait_for(listening, timeout, interval=0.1, explain=lambda: "moto server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client(url: str):
    import boto3

    return boto3.session.Session(**{
        "aws_access_key_id": ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": ENV["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": ENV["AWS_SESSION_TOKEN"], "region_name": ENV["AWS_DEFAULT_REGION"],
    }).client("route53", endpoint_url=url)


def create_hosted_zone(r53, zone: str) -> str:
    return r53.create_hosted_zone(Name=zone, CallerReference=str(uuid.uuid4()))["HostedZone"]["Id"].rsplit("/", 1)[-1]


_OPERATIONS = [
    ("POST", re.compile(r"^/2013-04-01/hostedzone/[^/]+/rrset/?$"), "change_resource_record_sets"),
    ("GET", re.compile(r"^/2013-04-01/hostedzone/[^/]+/rrset/?$"), "list_resource_record_sets"),
    ("GET", re.compile(r"^/2013-04-01/change/"), "get_change"),
    ("GET", re.compile(r"^/2013-04-01/hostedzonesbyname"), "list_hosted_zones_by_name"),
]


def operation(method: str, path: str) -> str:
    path = path.split("?", 1)[0]
    for m, pattern, name in _OPERATIONS:
        if m == method and pattern.match(path):
            return name
    return "other"


def _error_body(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>").encode()


class FaultProxy:
    """An HTTP proxy to moto on a free loopback port. `counts` holds the calls that reached it,
    by operation; `fail(op, code, message, times)` answers the next `times` calls of `op` (None:
    every call until `clear()`) with that Route 53 error (HTTP 400) instead of passing them on."""

    def __init__(self, upstream: str):
        self.upstream = upstream.removeprefix("http://")
        self.counts: Counter = Counter()
        self.failed: Counter = Counter()
        self.change_bodies: list[bytes] = []  # ChangeResourceRecordSets requests passed on (XML)
        # Cleared: ChangeResourceRecordSets calls wait (up to 30 s) until it is set again, so a test
        # can read what moto holds while the daemon has its next change ready.
        self.gate = threading.Event()
        self.gate.set()
        self.pending_polls = 0  # GetChange answers turned from INSYNC to PENDING (moto is INSYNC at once)
        self._faults: dict[str, list] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                op = operation(self.command, self.path)
                if op == "change_resource_record_sets":
                    proxy.gate.wait(30)
                fault = proxy._take(op)
                if fault is not None:
                    data, status = _error_body(*fault), 400
                    headers = {"Content-Type": "text/xml"}
                else:
                    if op == "change_resource_record_sets":
                        with proxy._lock:
                            proxy.change_bodies.append(body)
                    conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                    headers_in = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    conn.request(self.command, self.path, body=body, headers=headers_in)
                    answer = conn.getresponse()
                    data, status = answer.read(), answer.status
                    if op == "get_change" and proxy._take_pending():
                        data = data.replace(b"<Status>INSYNC</Status>", b"<Status>PENDING</Status>")
                    headers = {k: v for k, v in answer.getheaders()
                               if k.lower() not in ("transfer-encoding", "connection", "content-length")}
                    conn.close()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    def _take(self, op: str):
        with self._lock:
            self.counts[op] += 1
            faults = self._faults.get(op)
            if not faults:
                return None
            code, message, times = faults[0]
            if times is not None:
                if times <= 1:
                    faults.pop(0)
                else:
                    faults[0] = (code, message, times - 1)
            self.failed[(op, code)] += 1
            return code, message

    def _take_pending(self) -> bool:
        with self._lock:
            if self.pending_polls > 0:
                self.pending_polls -= 1
                return True
            return False

    def fail(self, op: str, code: str, message: str, times: int | None = 1) -> None:
        with self._lock:
            self._faults.setdefault(op, []).append((code, message, times))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def snapshot(self) -> Counter:
        with self._lock:
            return Counter(self.counts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
