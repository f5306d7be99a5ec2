"""Zones at runtime (issue 15): `hpctl reload` and SIGHUP re-read the config file first. A new zone
is served, a dropped one is REFUSED (its journal kept, and taken up again when it comes back),
a config with an error changes nothing, what needs a restart says so."""

import re
import signal
import socket
import sqlite3
import struct

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.xfr
import dns.zone
import pytest

from tests.helpers import wait_for
from tests.integration.harness import Daemon, serial_of
from tests.integration.secondaries import KEYRING, SECONDARY_CONFIG, axfr_zone
from tests.zones import NET_ZONE, example_com

ORG_ZONE = """\
$ORIGIN example.org.
$TTL 300
@   IN SOA ns1 hostmaster 2024010101 3600 900 604800 300
    IN NS ns1
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
"""


def _zone_block(name: str, options: str = "") -> str:
    return f"  {name}:\n    file: zones/{name}.zone\n{options}"


def _set_zones(d: Daemon, *blocks: str, extra: str = "") -> None:
    """Rewrite the config's zones: section (and put `extra` before it), atomically."""
    text = d.config.read_text()
    head = text[:text.index("zones:\n")]
    tmp = d.config.with_suffix(".tmp")
    tmp.write_text(head + extra + "zones:\n" + "".join(blocks))
    tmp.rename(d.config)


@pytest.fixture
def d(tmp_path):
    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab]"}}, extra_config=SECONDARY_CONFIG)
    d.start(wait_zones=["example.com"])
    yield d
    d.stop()


def _rcode(d: Daemon, name: str) -> int:
    return d.query(name, "SOA").rcode()


def test_a_zone_added_to_the_config_is_served_and_transferable(d):
    d.write_zone("example.org", ORG_ZONE)
    _set_zones(d, _zone_block("example.com", "    secondaries: [lab]\n"),
               _zone_block("example.org", "    secondaries: [lab]\n"))
    r = d.hpctl("reload")
    assert r.returncode == 0, r.stderr
    assert "example.org: added, serial 2024010101" in r.stdout
    assert "example.com: 2026112701 -> 2026112701, unchanged" in r.stdout
    assert serial_of(d, "example.org") == 2024010101
    assert d.query("www.example.org", "A").answer[0][0].address == "192.0.2.80"
    zone = dns.zone.Zone("example.org.", relativize=False)
    query, _ = dns.xfr.make_query(zone, keyring=KEYRING, keyname="xfr-key.")
    dns.query.inbound_xfr("127.0.0.1", zone, query=query, port=d.port, source="127.0.0.2", timeout=10)
    assert zone.get_soa().serial == 2024010101
    assert "config.zone_added zone=example.org" in d.log()


def test_a_zone_dropped_is_refused_and_its_journal_resumes_when_it_comes_back(d):
    d.write_zone("example.net", NET_ZONE)
    _set_zones(d, _zone_block("example.com", "    secondaries: [lab]\n"),
               _zone_block("example.net", "    serial: increment\n"))
    assert d.hpctl("reload").returncode == 0
    d.write_zone("example.net", NET_ZONE.replace("203.0.113.7", "203.0.113.8"))
    r = d.hpctl("reload", "example.net")
    bumped = serial_of(d, "example.net")
    assert r.returncode == 0 and bumped > 1, r.stdout

    _set_zones(d, _zone_block("example.com", "    secondaries: [lab]\n"))
    r = d.hpctl("reload")
    assert r.returncode == 0, r.stderr
    assert "example.net: removed" in r.stdout.splitlines()
    assert _rcode(d, "example.net") == dns.rcode.REFUSED
    assert _rcode(d, "example.com") == dns.rcode.NOERROR
    with sqlite3.connect(d.dir / "var" / "journal.sqlite") as db:  # its journal is kept on disk
        kept = db.execute("SELECT count(*) FROM snapshot JOIN zones ON zones.id = snapshot.zone "
                          "WHERE zones.name = 'example.net.'").fetchone()[0]
    assert kept == 1
    status = d.hpctl("status", "example.net")
    assert status.returncode == 2 and "unknown zone 'example.net' (1 zone configured" in status.stderr

    _set_zones(d, _zone_block("example.com", "    secondaries: [lab]\n"),
               _zone_block("example.net", "    serial: increment\n"))
    r = d.hpctl("reload", "example.net")  # only the edited config names it
    assert r.returncode == 0, r.stderr
    # From its journal: the serial it had, not the file's (an increment zone never goes back).
    assert f"example.net: added, serial {bumped}" in r.stdout
    assert serial_of(d, "example.net") == bumped


def test_a_config_with_an_error_changes_nothing(d):
    before = d.config.read_text()
    d.write_zone("example.org", ORG_ZONE)
    _set_zones(d, _zone_block("example.org"), extra="limits: {tcp_idle_timeout_s: -1}\n")
    r = d.hpctl("reload")
    assert r.returncode == 1
    assert re.search(r"config not reloaded, nothing changed: .*hiddenprimary.yaml:\d+: limits.tcp_idle_timeout_s",
                     r.stderr), r.stderr
    # The daemon reads the same file on SIGHUP: it refuses it too, and says so in its log.
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "config.refused" in d.log(), 10, explain=d.log)
    assert _rcode(d, "example.com") == dns.rcode.NOERROR
    assert _rcode(d, "example.org") == dns.rcode.REFUSED
    d.config.write_text(before)
    assert d.hpctl("reload").returncode == 0


def test_a_new_zone_with_a_broken_file_is_reported_and_the_rest_applies(d):
    d.write_zone("example.org", ORG_ZONE)
    d.write_zone("example.net", NET_ZONE.replace("203.0.113.7", "203.0.113.300"))
    _set_zones(d, _zone_block("example.org"), _zone_block("example.net"))
    r = d.hpctl("reload")
    assert r.returncode == 1
    assert "example.org: added, serial 2024010101" in r.stdout
    assert "example.com: removed" in r.stdout
    assert "example.net: rejected, still serving nothing (never loaded)" in r.stderr
    assert re.search(r"example.net.zone:\d+: ", r.stderr), r.stderr
    assert _rcode(d, "example.net") == dns.rcode.SERVFAIL
    assert _rcode(d, "example.org") == dns.rcode.NOERROR
    assert _rcode(d, "example.com") == dns.rcode.REFUSED


def test_unknown_zone_is_refused_before_anything_applies(d):
    d.write_zone("example.org", ORG_ZONE)
    _set_zones(d, _zone_block("example.com", "    secondaries: [lab]\n"), _zone_block("example.org"))
    r = d.hpctl("reload", "nosuch.example")
    assert r.returncode == 2
    assert "unknown zone 'nosuch.example' (2 zones configured" in r.stderr
    assert _rcode(d, "example.org") == dns.rcode.REFUSED  # nothing applied


def test_settings_bound_at_start_need_a_restart(d, tmp_path):
    text = d.config.read_text()
    other = d.port + 1 if d.port < 65000 else d.port - 1
    d.config.write_text(text.replace(f"127.0.0.1:{d.port}", f"127.0.0.1:{other}"))
    r = d.hpctl("reload")
    assert r.returncode == 0, r.stderr
    assert f"config: listen: changed in the file; needs a restart (still 127.0.0.1:{d.port})" in r.stderr
    assert _rcode(d, "example.com") == dns.rcode.NOERROR  # still on the old port
    again = d.hpctl("reload")
    assert "needs a restart" in again.stderr  # said again until the restart


def test_changed_transfer_settings_apply_to_the_next_transfer(d):
    assert axfr_zone(d.port).get_soa().serial == 2026112701
    text = d.config.read_text()
    d.config.write_text(text.replace("allow: [127.0.0.2/32]", "allow: [127.0.0.9/32]"))
    assert d.hpctl("reload").returncode == 0
    with pytest.raises(dns.xfr.TransferError):
        axfr_zone(d.port)


def test_a_transfer_running_when_its_zone_is_dropped_finishes_from_its_version(tmp_path):
    lines = "".join(f"h{i} IN TXT \"{'x' * 200}\"\n" for i in range(4000))
    big = ORG_ZONE + lines
    d = Daemon(tmp_path, {"example.org": big, "example.com": example_com()},
               extra_zone_config={"example.org": {"secondaries": "[open]"}}, extra_config=SECONDARY_CONFIG)
    d.start(wait_zones=["example.org", "example.com"])
    try:
        query = dns.message.make_query("example.org.", "AXFR").to_wire()
        with socket.socket() as s:
            s.settimeout(10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the daemon's stream waits on us
            s.bind(("127.0.0.4", 0))
            s.connect(("127.0.0.1", d.port))
            s.sendall(struct.pack("!H", len(query)) + query)
            first = _read_message(s)
            _set_zones(d, _zone_block("example.com"))
            r = d.hpctl("reload")
            assert "example.org: removed" in r.stdout, r.stdout + r.stderr
            assert _rcode(d, "example.org") == dns.rcode.REFUSED
            records = len(first.answer)
            last = first
            while not (records > 1 and last.answer[-1].rdtype == dns.rdatatype.SOA):
                last = _read_message(s)
                records += sum(len(rrset) for rrset in last.answer)
        assert records >= 4005  # SOA, NS, 2 A, 4000 TXT, SOA again
    finally:
        d.stop()


def _read_exactly(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        assert chunk, "connection closed mid-transfer"
        data += chunk
    return data


def _read_message(s: socket.socket) -> dns.message.Message:
    (n,) = struct.unpack("!H", _read_exactly(s, 2))
    return dns.message.from_wire(_read_exactly(s, n), one_rr_per_rrset=False)
