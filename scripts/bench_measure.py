"""How scripts/bench.py measures, the same client for every server; every wait bounded in time.

  - `wait_serial`: poll the zone's SOA (every 5 ms by default) until it answers a serial;
  - `axfr_seconds`: one AXFR read raw over TCP, records counted from the message headers, so the
    client is never the bottleneck (Knot drops a reader that stalls for 500 ms);
  - `dnsperf`: UDP queries per second over a query file, pinned to the client core;
  - `Probe`: UDP queries at a steady rate from a thread (open loop: a slow answer does not delay
    the next query), each answer's latency, and the queries not answered within 1 s."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from bench_servers import LOOPBACK, ZONE

RESEND = 0.2   # s without an answer before wait_serial asks again


class Timeout(Exception):
    """A figure did not come within its time; the table prints `timeout`."""


def wait_serial(port: int, serial: int, timeout: float, *, since: float | None = None, interval: float = 0.005,
                alive: Callable[[], bool] = lambda: True) -> float:
    """Seconds from `since` (default: now) until the server on `port` answers the zone's SOA
    with `serial` (NOERROR). One query at a time from a connected UDP socket (so a port nobody
    listens on yet answers at once, with ICMP): the next `interval` after an answer, or after
    RESEND s without one (an answer to an earlier query still counts)."""
    since = time.monotonic() if since is None else since
    deadline = since + timeout
    query = dns.message.make_query(ZONE, "SOA")
    ids: set[int] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((LOOPBACK, port))
        send_at = 0.0
        while (now := time.monotonic()) < deadline:
            if now >= send_at:
                query.id = (query.id + 1) & 0xFFFF
                ids.add(query.id)
                try:
                    s.send(query.to_wire())
                except OSError:
                    pass
                send_at = now + RESEND
            s.settimeout(max(0.001, min(send_at, deadline) - now))
            try:
                answer = dns.message.from_wire(s.recv(65535))
            except (socket.timeout, TimeoutError):
                continue
            except OSError:          # ECONNREFUSED: not listening (yet)
                answer = None
            except dns.exception.DNSException:
                continue
            if answer is not None and answer.id in ids:
                if _soa_serial(answer) == serial:
                    return time.monotonic() - since
            elif answer is not None:
                continue
            if not alive():
                raise RuntimeError("server exited")
            time.sleep(interval)
            send_at = time.monotonic()
    raise Timeout(f"serial {serial} not served on port {port} within {timeout:.0f}s")


def _soa_serial(answer: dns.message.Message) -> int | None:
    if answer.rcode() != dns.rcode.NOERROR:
        return None
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None


def axfr_seconds(port: int, expected: int, timeout: float) -> float:
    """Time to receive a whole AXFR of `expected` records (the closing SOA not counted)."""
    query = dns.message.make_query(ZONE, "AXFR").to_wire()
    started = time.monotonic()
    records = 0
    with socket.create_connection((LOOPBACK, port), timeout=min(timeout, 60)) as s:
        s.sendall(struct.pack("!H", len(query)) + query)
        stream = s.makefile("rb")
        while records < expected + 1:
            if time.monotonic() - started > timeout:
                raise Timeout(f"AXFR: {records} records in {timeout:.0f}s")
            head = stream.read(2)
            if len(head) < 2:
                raise EOFError(f"AXFR: server closed after {records} records")
            (size,) = struct.unpack("!H", head)
            message = stream.read(size)
            if message[3] & 0x0F:
                raise RuntimeError(f"AXFR refused: rcode {message[3] & 0x0F}")
            records += struct.unpack_from("!H", message, 6)[0]
    return time.monotonic() - started


def dnsperf(port: int, queries_file: str, seconds: int, cpu: int | None) -> dict[str, object]:
    """dnsperf for `seconds`: {"qps": ..., "lost_pct": ..., "rcodes": ...}."""
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    out = subprocess.run(pin + ["dnsperf", "-s", LOOPBACK, "-p", str(port), "-d", queries_file,
                                "-l", str(seconds), "-c", "4", "-q", "200", "-t", "2"],
                         capture_output=True, text=True, timeout=seconds + 120)
    found = {}
    for line in out.stdout.splitlines():
        if "Queries per second" in line:
            found["qps"] = float(line.split(":")[1])
        elif "Queries lost:" in line:
            found["lost_pct"] = float(line.split("(")[1].split("%")[0])
        elif "Response codes:" in line:
            found["rcodes"] = line.split(":", 1)[1].strip()   # e.g. "NOERROR 1234 (100.00%)"
    if "qps" not in found:
        raise RuntimeError(f"dnsperf printed no rate:\n{out.stdout}\n{out.stderr}")
    return found


class Probe:
    """Sends `rate` queries a second (cycling over `names`) to 127.0.0.1:`port` from one UDP
    socket until stopped; each query's send time and, if it came within `timeout`, its latency."""

    def __init__(self, port: int, names: list[tuple[str, str]], rate: float = 2000.0, timeout: float = 1.0):
        self.port = port
        self.rate = rate
        self.timeout = timeout
        self.wires = [dns.message.make_query(n, t).to_wire() for n, t in names]
        self.sent: list[float] = []               # send time of query number i
        self.latency: dict[int, float] = {}       # query number -> seconds to its answer
        self._pending: dict[int, int] = {}        # DNS id -> query number
        self._stop = threading.Event()       # stop sending
        self._done = threading.Event()       # stop receiving
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self._sock.connect((LOOPBACK, port))
        self._sock.settimeout(0.1)
        self._threads = [threading.Thread(target=self._send, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]

    def start(self) -> Probe:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        """Stop sending, wait `timeout` for the last answers, then stop receiving."""
        self._stop.set()
        self._threads[0].join(5)
        time.sleep(self.timeout)
        self._done.set()
        self._threads[1].join(5)
        self._sock.close()

    def _send(self) -> None:
        step = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
            number = len(self.sent)
            qid = number & 0xFFFF
            wire = self.wires[number % len(self.wires)]
            self._pending[qid] = number
            self.sent.append(time.monotonic())
            try:
                self._sock.send(struct.pack("!H", qid) + wire[2:])
            except OSError:
                pass  # counted as lost
            next_at = max(next_at + step, time.monotonic() - 0.1)   # catch up at most 100 ms

    def _receive(self) -> None:
        while not self._done.is_set():
            try:
                data = self._sock.recv(4096)
            except (socket.timeout, OSError):
                continue
            now = time.monotonic()
            if len(data) < 12:
                continue
            number = self._pending.pop(struct.unpack_from("!H", data)[0], None)
            if number is not None and now - self.sent[number] <= self.timeout:
                self.latency[number] = now - self.sent[number]

    def window(self, start: float, end: float) -> dict[str, float]:
        """For the queries sent between `start` and `end` (monotonic): p99 and max latency (ms)
        of those answered, how many were sent, and how many lost (no answer within `timeout`)."""
        numbers = [i for i, t in enumerate(self.sent) if start <= t <= end]
        answered = sorted(self.latency[i] for i in numbers if i in self.latency)
        p99 = answered[min(len(answered) - 1, int(len(answered) * 0.99))] if answered else None
        return {"probe_p99_ms": None if p99 is None else p99 * 1000,
                "probe_max_ms": answered[-1] * 1000 if answered else None,
                "probe_sent": len(numbers), "probe_lost": len(numbers) - len(answered)}
