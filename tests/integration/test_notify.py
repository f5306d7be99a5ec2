"""NOTIFY (RFC 1996) as a target on loopback sees it: sent right after a reload, TSIG-signed,
retried with growing intervals until acknowledged, superseded by a newer serial."""

import socket
import threading
import time

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import pytest

from tests.helpers import free_port, wait_for
from tests.integration.harness import Daemon
from tests.integration.secondaries import KEYRING, SECRET
from tests.zones import example_com

RETRIES = (0.3, 0.6, 1.2)


class Target:
    """A UDP NOTIFY target on 127.0.0.5: records what arrives; answers per `mode`
    ("silent", "ack", "ack-unsigned")."""

    def __init__(self, mode: str):
        self.mode = mode
        self.port = free_port("127.0.0.5")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.5", self.port))
        self.sock.settimeout(0.2)
        self.arrivals: list[tuple[float, dns.message.Message]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.tcp_arrivals: list[dns.message.Message] = []
        if mode == "tcp-only":  # silent over UDP, answers over TCP on the same port
            self.listener = socket.create_server(("127.0.0.5", self.port))
            self.listener.settimeout(0.2)
            self._tcp_thread = threading.Thread(target=self._run_tcp, daemon=True)
            self._tcp_thread.start()

    def _run_tcp(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(2)
                size = int.from_bytes(conn.recv(2, socket.MSG_WAITALL), "big")
                msg = dns.message.from_wire(conn.recv(size, socket.MSG_WAITALL), keyring=KEYRING)
                self.tcp_arrivals.append(msg)
                reply = dns.message.make_response(msg).to_wire()
                conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def _run(self):
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            msg = dns.message.from_wire(data, keyring=KEYRING)  # raises unless the TSIG verifies
            self.arrivals.append((time.monotonic(), msg))
            if self.mode.startswith("ack"):
                reply = dns.message.make_response(msg)  # signed with the request's key
                if self.mode == "ack-unsigned":
                    reply = dns.message.Message(id=msg.id)
                    reply.flags = dns.flags.QR | dns.flags.AA
                    reply.set_opcode(dns.opcode.NOTIFY)
                    reply.question = msg.question
                self.sock.sendto(reply.to_wire(), addr)

    def serials(self):
        return [m.answer[0][0].serial for _, m in self.arrivals]

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        if self.mode == "tcp-only":
            self._tcp_thread.join(2)
            self.listener.close()


@pytest.fixture
def notify_setup(tmp_path, request):
    target = Target(request.param)
    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab]"}},
               extra_config=(f'tsig:\n  xfr-key: {{algorithm: hmac-sha256, secret: "{SECRET}"}}\n'
                             "notify_source: 127.0.0.1\n"
                             "secondaries:\n"
                             f"  lab: {{allow: [127.0.0.5/32], key: xfr-key, notify: ['127.0.0.5:{target.port}'],"
                             f" notify_retries_s: {list(RETRIES)}}}\n"))
    d.start(wait_zones=["example.com"])
    yield d, target
    d.stop()
    target.close()


@pytest.mark.parametrize("notify_setup", ["silent"], indirect=True)
def test_unanswered_notify_is_retried_with_growing_intervals_then_given_up(notify_setup):
    d, target = notify_setup
    wait_for(lambda: "notify.failed" in d.log())  # the start-up NOTIFY ran its course
    target.arrivals.clear()
    d.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.11"))
    started = time.monotonic()
    assert d.hpctl("reload").returncode == 0
    wait_for(lambda: len(target.arrivals) >= 4)
    time.sleep(sum(RETRIES))  # nothing more comes after the last try
    assert len(target.arrivals) == 4 and target.serials() == [2026112702] * 4
    times = [t for t, _ in target.arrivals]
    print(f"\nNOTIFY after reload: first {1000 * (times[0] - started):.0f} ms after hpctl started; "
          f"gaps {[round(b - a, 2) for a, b in zip(times, times[1:])]}")
    for gap, planned in zip([b - a for a, b in zip(times, times[1:])], RETRIES):
        assert planned * 0.8 < gap < planned + 0.5
    assert all(m.had_tsig and m.opcode() == dns.opcode.NOTIFY and m.flags & dns.flags.AA for _, m in target.arrivals)
    assert "transport=tcp" in d.log()  # the last try went over TCP (nobody listens there)
    assert "notify.failed zone=example.com target=127.0.0.5" in d.log()


@pytest.mark.parametrize("notify_setup", ["silent"], indirect=True)
def test_a_newer_serial_supersedes_a_pending_notify(notify_setup):
    d, target = notify_setup
    d.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.11"))
    d.hpctl("reload")
    d.write_zone("example.com", example_com(serial=2026112703, www="192.0.2.12"))
    d.hpctl("reload")
    mark = len(target.arrivals)
    time.sleep(sum(RETRIES) + 1.5)
    later = target.serials()[mark:]
    assert later and set(later) == {2026112703}  # the old serial's retries were dropped
    assert len(later) <= 4


@pytest.mark.parametrize("notify_setup", ["ack"], indirect=True)
def test_a_signed_ack_stops_the_retries(notify_setup):
    d, target = notify_setup
    wait_for(lambda: "notify.acked" in d.log())
    count = len(target.arrivals)
    time.sleep(sum(RETRIES) + 0.5)
    assert len(target.arrivals) == count == 1


@pytest.mark.parametrize("notify_setup", ["ack-unsigned"], indirect=True)
def test_an_unsigned_answer_is_not_an_ack(notify_setup):
    d, target = notify_setup
    wait_for(lambda: len(target.arrivals) >= 3)
    assert "notify.acked" not in d.log()


@pytest.mark.parametrize("notify_setup", ["tcp-only"], indirect=True)
def test_after_the_udp_tries_a_tcp_try_can_be_acknowledged(notify_setup):
    d, target = notify_setup
    wait_for(lambda: "notify.acked" in d.log())
    assert len(target.arrivals) == 1 + len(RETRIES) and len(target.tcp_arrivals) == 1
    assert target.tcp_arrivals[0].had_tsig and target.tcp_arrivals[0].answer[0][0].serial == 2026112701
