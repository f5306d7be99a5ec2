"""Faults and load: kill -9 while a reload commits, and many big AXFRs during a reload."""

import random
import socket
import struct
import subprocess
import threading
import time

import dns.message
import dns.query
import dns.rcode
import dns.xfr
import dns.zone
import pytest

from tests.helpers import BIN, wait_for
from tests.integration.harness import Daemon, serial_of
from tests.integration.secondaries import KEYRING, SECONDARY_CONFIG, axfr_zone
from tests.zones import records_of_text, records_of_zone, zone_text


def zone_at(serial: int, hosts: int = 1000) -> str:
    """Version `serial`: h0-h4 and the TXT at the end carry the serial, so a transfer that mixed
    versions shows it at both ends; the other hosts stay, so a diff is small (IXFR is worth it)."""
    return zone_text(serial, minimal=True, hosts=hosts, changed={i: f"10.{serial % 200}.0.{i}" for i in range(5)},
                     extra=f'v TXT "version {serial}"\n')


def expected_records(serial: int, hosts: int = 1000) -> list:
    return records_of_text(zone_at(serial, hosts), "example.com")


def make_primary(tmp_path, text):
    return Daemon(tmp_path, {"example.com": text},
                  extra_zone_config={"example.com": {"secondaries": "[lab]", "serial": "keep"}},
                  extra_config=SECONDARY_CONFIG)


@pytest.mark.parametrize("fault,survivor", [("journal.before_commit", 1), ("journal.after_commit", 2)])
def test_a_crash_at_each_side_of_the_commit(tmp_path, fault, survivor):
    d = make_primary(tmp_path, zone_at(1))
    d.start(wait_zones=["example.com"])
    d.stop()
    d.start(wait_zones=["example.com"], env={"HIDDENPRIMARY_FAULT": fault})
    d.write_zone("example.com", zone_at(2))
    d.hpctl("reload", "example.com")
    assert d.proc.wait(10) == 99  # the fault hook ended the process at that point
    d.write_zone("example.com", zone_at(1))  # hide the new file: only the journal can say what was committed
    d.start(wait_zones=["example.com"])
    try:
        zone = axfr_zone(d.port)
        assert zone.get_soa().serial == survivor
        assert records_of_zone(zone) == expected_records(survivor)
    finally:
        d.stop()


def test_kill_9_at_random_moments_leaves_a_whole_version_and_a_usable_journal(tmp_path):
    rng = random.Random(1995)
    d = make_primary(tmp_path, zone_at(1))
    d.start(wait_zones=["example.com"])
    first = axfr_zone(d.port)  # a secondary's copy at serial 1, brought up to date by IXFR at the end
    served = 1
    try:
        for _ in range(24):
            new = served + 1
            d.write_zone("example.com", zone_at(new))
            reload = subprocess.Popen([str(BIN / "hpctl"), "-c", str(d.config), "reload"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, 0.03))
            d.kill()
            reload.wait(10)
            d.start(wait_zones=["example.com"])
            zone = axfr_zone(d.port)
            serial = zone.get_soa().serial
            assert serial in (served, new)  # the restored version, or the start-up reload of the file
            assert records_of_zone(zone) == expected_records(serial), f"mixed version at serial {serial}"
            # Whatever was restored, the start-up reload converges on the file.
            wait_for(lambda: serial_of(d, "example.com"), interval=0.02, until=lambda serial: serial == new,
                     explain=lambda: d.log()[-2000:])
            served = new
        query, _ = dns.xfr.make_query(first, keyring=KEYRING, keyname="xfr-key.")
        dns.query.inbound_xfr("127.0.0.1", first, query=query, port=d.port, source="127.0.0.2", timeout=10)
        assert records_of_zone(first) == records_of_zone(axfr_zone(d.port)) == expected_records(served)
        assert "kind=IXFR serial=1->" in d.log()
    finally:
        d.stop()


def raw_axfr(port: int, source: str, records_expected: int) -> list[bytes]:
    """An unsigned AXFR read as raw messages until `records_expected` records came (parsing
    20 x 50k records in the test would cost more than the transfers: the test parses the first
    and last messages and counts the rest from the headers)."""
    q = dns.message.make_query("example.com.", "AXFR").to_wire()
    messages, count = [], 0
    with socket.socket() as s:
        s.settimeout(60)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(struct.pack("!H", len(q)) + q)
        stream = s.makefile("rb")
        while count < records_expected:
            (n,) = struct.unpack("!H", stream.read(2))
            wire = stream.read(n)
            messages.append(wire)
            count += struct.unpack_from("!H", wire, 6)[0]
    return messages


def test_twenty_big_axfrs_during_a_reload_are_each_one_whole_version(tmp_path):
    hosts = 50_000
    d = Daemon(tmp_path, {"example.com": zone_at(1, hosts)},
               extra_zone_config={"example.com": {"secondaries": "[open]"}}, extra_config=SECONDARY_CONFIG)
    d.start(wait_zones=["example.com"], timeout=120)
    results, errors = [], []
    stop = threading.Event()
    answered = []

    def transfer():
        try:
            started = time.monotonic()
            msgs = raw_axfr(d.port, "127.0.0.4", hosts + 5)
            first = dns.message.from_wire(msgs[0], xfr=True)
            last = dns.message.from_wire(msgs[-1], xfr=True)
            count = sum(struct.unpack_from("!H", m, 6)[0] for m in msgs)
            ends = [rr for m in (first, last) for rrset in m.answer for rr in rrset
                    if rrset.rdtype == dns.rdatatype.SOA]
            tagged = {rr.to_text().split(".")[1] for rrset in first.answer if rrset.rdtype == dns.rdatatype.A
                      and rrset.name.labels[0] in (b"h0", b"h1", b"h2", b"h3", b"h4") for rr in rrset}
            txt = [rr.to_text() for rrset in last.answer if rrset.rdtype == dns.rdatatype.TXT for rr in rrset]
            results.append((ends[0].serial, ends[-1].serial, count, tagged, txt, time.monotonic() - started))
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(e))

    def query_loop():
        while not stop.is_set():
            started = time.monotonic()
            r = d.query("ns1.example.com", "A", timeout=2)
            answered.append((r.rcode() == dns.rcode.NOERROR, time.monotonic() - started))
            time.sleep(0.01)

    try:
        d.write_zone("example.com", zone_at(2, hosts))
        threads = [threading.Thread(target=transfer) for _ in range(20)]
        querier = threading.Thread(target=query_loop)
        querier.start()
        for t in threads[:10]:
            t.start()
        # The reload is published while the first ten stream version 1; ten more then take version 2.
        reload = subprocess.run([str(BIN / "hpctl"), "-c", str(d.config), "reload"], stdout=subprocess.PIPE,
                                text=True, timeout=120)
        out = reload.stdout
        for t in threads[10:]:
            t.start()
        for t in threads:
            t.join(180)
        stop.set()
        querier.join(10)
        assert not errors, errors
        assert len(results) == 20
        for first_soa, last_soa, count, tagged, txt, _ in results:
            assert first_soa == last_soa  # one version from the first message to the last
            assert count == hosts + 5  # SOA, NS, ns1, the hosts, v TXT, SOA
            assert tagged == {str(first_soa)} and txt == [f'"version {first_soa}"']
        assert "example.com: 1 -> 2" in out
        assert answered and all(ok for ok, _ in answered), "queries went unanswered during the transfers"
        slowest = max(t for _, t in answered)
        print(f"\n20 AXFRs of {hosts} records during a reload: serials {sorted(r[0] for r in results)}, "
              f"slowest transfer {max(r[5] for r in results):.1f}s; {len(answered)} queries answered "
              f"meanwhile, slowest {slowest * 1000:.0f} ms")
    finally:
        stop.set()
        d.stop()
