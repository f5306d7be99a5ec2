"""The interop harness checked against a real primary (Knot), so that the zone-transfer tests can
trust it once our own server is the primary: both secondaries bootstrap with AXFR, follow a change
by IXFR, report AXFR when the primary has no journal, follow NOTIFY, refuse a wrong key, and hand
back exactly the zone they were given."""

from __future__ import annotations

import os
import socket
import time

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import pytest

from tests.helpers import free_port
from tests.interop.peers import LOOPBACK, PeerError, dnspython_key, new_key
from tests.zones import records_of_text

ZONE = "example.com"
V1 = """\
$ORIGIN example.com.
$TTL 300
@       SOA     ns1 hostmaster 2026112701 7200 3600 1209600 300
        NS      ns1
        NS      ns2.example.net.
        MX      10 mail
ns1     A       192.0.2.1
www     A       192.0.2.10
        AAAA    2001:db8::10
mail    A       192.0.2.25
old     TXT     "goes away"
"""
# One changed, one added, one removed record, and a new serial.
V2 = (V1.replace("2026112701", "2026112702").replace("192.0.2.10", "192.0.2.11")
      .replace('old     TXT     "goes away"\n', "new     A       192.0.2.99\n"))


def both(primary, bind_secondary, knot_secondary, key):
    return (bind_secondary([ZONE], primary.port, key=key, address="127.0.0.2"),
            knot_secondary([ZONE], primary.port, key=key, address="127.0.0.3"))


def test_axfr_then_ixfr_then_retransfer(knot_primary, bind_secondary, knot_secondary, tsig_key):
    primary = knot_primary({ZONE: V1}, key=tsig_key)
    assert primary.serial(ZONE) == 2026112701
    assert primary.axfr(ZONE) == records_of_text(V1, ZONE)
    secs = both(primary, bind_secondary, knot_secondary, tsig_key)
    for s in secs:
        s.wait_serial(ZONE, 2026112701, timeout=10)
        assert s.wait_transfers(1, ZONE) == ["AXFR"], s.log_tail()
        assert s.axfr(ZONE) == records_of_text(V1, ZONE)

    primary.set_zone(ZONE, V2)
    primary.reload(ZONE)
    assert primary.serial(ZONE) == 2026112702
    for s in secs:
        s.refresh(ZONE)
    for s in secs:
        s.wait_serial(ZONE, 2026112702, timeout=10)
        assert s.wait_transfers(2, ZONE) == ["AXFR", "IXFR"], s.log_tail()
        assert s.axfr(ZONE) == records_of_text(V2, ZONE)
        assert s.transfers("other.example") == []

    for s in secs:
        s.retransfer(ZONE)
    for s in secs:
        assert s.wait_transfers(3, ZONE) == ["AXFR", "IXFR", "AXFR"], s.log_tail()
        assert s.serial(ZONE) == 2026112702

    # The secondaries' refresh queries and transfers came from their own addresses.
    assert "remote 127.0.0.2@" in primary.log() and "remote 127.0.0.3@" in primary.log()


def test_ixfr_answered_with_full_zone_counts_as_axfr(knot_primary, bind_secondary, knot_secondary, tsig_key):
    primary = knot_primary({ZONE: V1}, key=tsig_key, ixfr=False)
    secs = both(primary, bind_secondary, knot_secondary, tsig_key)
    for s in secs:
        s.wait_serial(ZONE, 2026112701)
    primary.set_zone(ZONE, V2)
    primary.reload(ZONE)
    for s in secs:
        s.refresh(ZONE)
    for s in secs:
        s.wait_serial(ZONE, 2026112702)
        assert s.wait_transfers(2, ZONE) == ["AXFR", "AXFR"], s.log_tail()
        assert s.axfr(ZONE) == records_of_text(V2, ZONE)


def test_notify_from_primary_triggers_ixfr(knot_primary, bind_secondary, knot_secondary, tsig_key):
    primary = knot_primary({ZONE: V1}, key=tsig_key, start=False)
    secs = both(primary, bind_secondary, knot_secondary, tsig_key)
    primary.notify = [s.endpoint for s in secs]
    primary.start()
    for s in secs:
        s.wait_serial(ZONE, 2026112701)
    primary.set_zone(ZONE, V2)
    primary.reload(ZONE)            # no refresh(): the NOTIFY alone must bring the change
    for s in secs:
        s.wait_serial(ZONE, 2026112702)
        assert s.wait_transfers(2, ZONE) == ["AXFR", "IXFR"], s.log_tail()


def test_wrong_key_gets_nothing_and_wait_fails_with_the_log(knot_primary, bind_secondary, knot_secondary,
                                                            tsig_key):
    primary = knot_primary({ZONE: V1}, key=tsig_key)
    wrong = new_key(tsig_key[0])                     # same name, other secret
    secs = both(primary, bind_secondary, knot_secondary, wrong)
    for s in secs:
        started = time.monotonic()
        with pytest.raises(PeerError) as e:
            s.wait_serial(ZONE, 2026112701, timeout=1.0)
        assert time.monotonic() - started < 3
        assert "serial None" in str(e.value) and str(s.log_path) in str(e.value)
        assert s.serial(ZONE) is None and s.transfers() == []


def test_stop_is_by_pid_and_a_restarted_secondary_keeps_its_zone(knot_primary, knot_secondary,
                                                                 bind_secondary, tsig_key):
    primary = knot_primary({ZONE: V1}, key=tsig_key)
    secs = both(primary, bind_secondary, knot_secondary, tsig_key)
    for s in secs:
        s.wait_serial(ZONE, 2026112701)
        pid = s.proc.pid
        assert s.running()
        assert s.stop() == 0
        assert s.stop() == 0 and not s.running()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert s.serial(ZONE, timeout=0.2) is None               # nothing answers there any more
    primary.set_zone(ZONE, V2)
    primary.reload(ZONE)
    for s in secs:
        s.start()                                                # same dir, ports, config
        s.wait_serial(ZONE, 2026112701, timeout=5)               # its saved copy...
        s.refresh(ZONE)                                          # (neither refreshes on start)
        s.wait_serial(ZONE, 2026112702)                          # ...brought up to date by IXFR
        assert s.wait_transfers(2, ZONE) == ["AXFR", "IXFR"], s.log_tail()


def test_notify_acceptance(knot_primary, bind_secondary, knot_secondary, tsig_key):
    """Unsigned NOTIFY from 127.0.0.1: BIND takes it; Knot only with notify_key=False."""
    primary = knot_primary({ZONE: V1}, key=tsig_key)
    bind = bind_secondary([ZONE], primary.port, key=tsig_key)
    strict = knot_secondary([ZONE], primary.port, key=tsig_key, address="127.0.0.3")
    lax = knot_secondary([ZONE], primary.port, key=tsig_key, address="127.0.0.4", notify_key=False)

    def notify(peer, signed, source=LOOPBACK):
        q = dns.message.make_query(ZONE, "SOA")
        q.flags = dns.flags.AA
        q.set_opcode(dns.opcode.NOTIFY)                          # after flags: opcode lives there
        if signed:
            q.use_tsig(dnspython_key(tsig_key))
        r = dns.query.udp(q, peer.listen_address, port=peer.port, timeout=2, source=source)
        return dns.rcode.to_text(r.rcode())

    for peer, unsigned in ((bind, "NOERROR"), (strict, "NOTAUTH"), (lax, "NOERROR")):
        assert notify(peer, signed=False) == unsigned, peer.log_tail()
        assert notify(peer, signed=True) == "NOERROR", peer.log_tail()
    assert notify(bind, signed=False, source="127.0.0.9") == "REFUSED"
    assert notify(lax, signed=False, source="127.0.0.9") == "NOTAUTH"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "127.0.0.3"])
def test_free_port_is_free_for_tcp_and_udp(host):
    port = free_port(host)
    assert port > 1024
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        t.bind((host, port))
        u.bind((host, port))


def test_records_normalises_names_and_sorts():
    rs = records_of_text(V1, ZONE)
    assert rs == sorted(rs)
    assert ("www.example.com.", 300, "A", "192.0.2.10") in rs
    assert ("example.com.", 300, "MX", "10 mail.example.com.") in rs
    assert sum(1 for r in rs if r[2] == "SOA") == 1
