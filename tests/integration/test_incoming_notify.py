"""NOTIFY sent to us (the primary) from outside, as the real daemon handles it: refused (REFUSED for
our zones, NOTAUTH for others, checklist C7) and logged at debug with its source, at most one line
per source per minute however many arrive (issue 11 item 15)."""

import socket
import time

import dns.message
import dns.opcode
import dns.query
import dns.rcode

from tests.helpers import wait_for


def notify(qname: str) -> dns.message.Message:
    q = dns.message.make_query(qname, "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    return q


def notify_lines(daemon) -> list[str]:
    return [line for line in daemon.log().splitlines() if "notify.received" in line]


def wait_for_lines(daemon, count: int, timeout: float = 5.0) -> list[str]:
    """The notify.received lines, once there are at least `count`."""
    return wait_for(lambda: notify_lines(daemon), timeout, until=lambda lines: len(lines) >= count)


def test_a_notify_is_refused_and_logged_once_with_its_source(daemon):
    r = dns.query.udp(notify("example.com."), "127.0.0.1", port=daemon.port, timeout=2, source="127.0.0.6")
    assert r.opcode() == dns.opcode.NOTIFY and r.rcode() == dns.rcode.REFUSED
    [line] = wait_for_lines(daemon, 1)
    assert " DEBUG notify.received peer=127.0.0.6 zone=example.com transport=udp answer=REFUSED" in line
    r = dns.query.tcp(notify("other.test."), "127.0.0.1", port=daemon.port, timeout=2, source="127.0.0.7")
    assert r.rcode() == dns.rcode.NOTAUTH
    lines = wait_for_lines(daemon, 2)
    assert len(lines) == 2 and "peer=127.0.0.7 zone=other.test transport=tcp answer=NOTAUTH" in lines[1]


def test_fifty_notifies_from_one_source_give_one_line(daemon):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.8", 0))
        s.settimeout(2)
        for i in range(50):
            q = notify("example.com.")
            s.sendto(q.to_wire(), ("127.0.0.1", daemon.port))
            reply = dns.message.from_wire(s.recv(4096))  # every one is still answered
            assert reply.id == q.id and reply.rcode() == dns.rcode.REFUSED
    r = dns.query.udp(notify("example.com."), "127.0.0.1", port=daemon.port, timeout=2, source="127.0.0.9")
    assert r.rcode() == dns.rcode.REFUSED
    lines = wait_for_lines(daemon, 2)
    time.sleep(0.2)  # anything late would show now
    lines = notify_lines(daemon)
    assert [line.split("notify.received ")[1].split()[0] for line in lines] == ["peer=127.0.0.8", "peer=127.0.0.9"]
    assert daemon.query("example.com", "SOA").rcode() == dns.rcode.NOERROR
