"""AXFR/IXFR from the real daemon, checked by dnspython acting as a secondary: who may transfer,
what refusals look like on the wire (RFC 8945 5.3.2), IXFR after reloads and restarts."""

import base64
import json
import socket
import struct
import time
from unittest import mock

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone
import pytest

from tests.helpers import wait_for
from tests.integration.harness import Daemon
from tests.integration.secondaries import KEYRING, SECONDARY_CONFIG, SECRET, axfr_zone
from tests.wire import compressed_axfr_query
from tests.zones import example_com, records_of_zone


def raw_tcp(port: int, wire: bytes, source: str) -> bytes:
    """One request over TCP from `source`; the first reply message, unparsed."""
    with socket.socket() as s:
        s.settimeout(5)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(struct.pack("!H", len(wire)) + wire)
        head = s.recv(2, socket.MSG_WAITALL)
        (n,) = struct.unpack("!H", head)
        return s.recv(n, socket.MSG_WAITALL)


def signed_axfr(keyring=KEYRING, keyname="xfr-key."):
    q = dns.message.make_query("example.com.", "AXFR")
    if keyring is not None:
        q.use_tsig(keyring, keyname)
    return q


def test_allowed_signed_axfr_gets_the_zone(primary):
    zone = axfr_zone(primary.port)
    assert zone.get_soa().serial == 2026112701
    assert ("www.example.com.", 3600, "A", "192.0.2.10") in records_of_zone(zone)
    assert len(records_of_zone(zone)) == 15


def test_keyless_secondary_transfers_by_address(primary):
    zone = axfr_zone(primary.port, source="127.0.0.4", keyring=None)
    assert zone.get_soa().serial == 2026112701


@pytest.mark.parametrize("source,request_factory,rcode,tsig_error", [
    ("127.0.0.9", lambda: signed_axfr(), dns.rcode.REFUSED, None),  # not allowed, even with a valid key
    ("127.0.0.2", lambda: signed_axfr(keyring=None), dns.rcode.REFUSED, None),  # no TSIG
    ("127.0.0.2", lambda: signed_axfr(dns.tsigkeyring.from_text(
        {"xfr-key.": ("hmac-sha256", base64.b64encode(b"w" * 32).decode())})), dns.rcode.NOTAUTH, dns.rcode.BADSIG),
    ("127.0.0.2", lambda: signed_axfr(dns.tsigkeyring.from_text(
        {"nobody.": ("hmac-sha256", SECRET)}), "nobody."), dns.rcode.NOTAUTH, dns.rcode.BADKEY),
])
def test_refusals_leak_no_records(primary, source, request_factory, rcode, tsig_error):
    reply = dns.message.from_wire(raw_tcp(primary.port, request_factory().to_wire(), source), keyring=False)
    assert reply.rcode() == rcode
    assert reply.answer == [] and reply.authority == []
    if tsig_error is None:
        assert not reply.tsig or reply.tsig[0].error == 0
    else:
        assert reply.tsig[0].error == tsig_error
        assert reply.tsig[0].mac == b""  # BADKEY/BADSIG answers are unsigned (RFC 8945 5.3.2)
    assert f"peer={source}" in primary.log() and "xfr.refused" in primary.log()


def test_clock_an_hour_off_gets_badtime_signed_with_our_time(primary):
    q = signed_axfr()
    with mock.patch("time.time", return_value=time.time() - 3600):
        wire = q.to_wire()
    reply = dns.message.from_wire(raw_tcp(primary.port, wire, "127.0.0.2"), keyring=False)
    assert reply.rcode() == dns.rcode.NOTAUTH and reply.answer == []
    tsig = reply.tsig[0]
    assert tsig.error == dns.rcode.BADTIME and len(tsig.mac) == 32  # signed
    server_time = int.from_bytes(tsig.other, "big")
    assert abs(server_time - time.time()) < 30
    # And the client can verify it with the key: dnspython reports the peer's BADTIME.
    with pytest.raises(dns.tsig.PeerBadTime):
        dns.message.from_wire(raw_tcp(primary.port, wire, "127.0.0.2"), keyring=KEYRING, request_mac=q.mac)


def test_axfr_over_udp_is_formerr(primary):
    q = signed_axfr()
    r = dns.query.udp(q, "127.0.0.1", port=primary.port, source="127.0.0.2", timeout=3)
    assert r.rcode() == dns.rcode.FORMERR and r.answer == []


def test_ixfr_after_reloads_brings_a_secondary_copy_up_to_date(primary):
    copy = axfr_zone(primary.port)
    for serial, www in ((2026112702, "192.0.2.11"), (2026112703, "192.0.2.12")):
        primary.write_zone("example.com", example_com(serial=serial, www=www, extra="new A 192.0.2.99\n"))
        assert primary.hpctl("reload", "example.com").returncode == 0
    query, _ = dns.xfr.make_query(copy, keyring=KEYRING, keyname="xfr-key.")
    assert query.question[0].rdtype == dns.rdatatype.IXFR
    dns.query.inbound_xfr("127.0.0.1", copy, query=query, port=primary.port, source="127.0.0.2", timeout=10)
    assert records_of_zone(copy) == records_of_zone(axfr_zone(primary.port))
    assert copy.get_soa().serial == 2026112703
    assert "kind=IXFR serial=2026112701->2026112703" in primary.log()


def ixfr_query(serial: int) -> dns.message.Message:
    q = dns.message.make_query("example.com.", "IXFR")
    q.authority.append(dns.rrset.from_text("example.com.", 0, "IN", "SOA", f". . {serial} 0 0 0 0"))
    q.use_tsig(KEYRING, "xfr-key.")
    return q


def test_ixfr_from_current_or_newer_is_a_single_soa(primary):
    for serial in (2026112701, 2026112750):
        q = ixfr_query(serial)
        r = dns.query.tcp(q, "127.0.0.1", port=primary.port, source="127.0.0.2", timeout=5)
        assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.SOA] and r.answer[0][0].serial == 2026112701


def test_ixfr_from_an_unknown_serial_is_axfr_style(primary):
    msgs = list(dns.query.xfr("127.0.0.1", "example.com.", rdtype=dns.rdatatype.IXFR, serial=5, port=primary.port,
                              keyring=KEYRING, keyname="xfr-key.", source="127.0.0.2", relativize=False))
    rrs = [rrset for m in msgs for rrset in m.answer]
    assert rrs[0].rdtype == dns.rdatatype.SOA and rrs[-1].rdtype == dns.rdatatype.SOA
    assert sum(len(r) for r in rrs) == 15 + 1  # the whole zone, SOA at both ends
    assert "xfr.ixfr_fallback" in primary.log()


def test_ixfr_over_udp_diff_when_it_fits_else_soa(primary):
    primary.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.11"))
    assert primary.hpctl("reload", "example.com").returncode == 0
    q = ixfr_query(2026112701)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.bind(("127.0.0.2", 0))
        s.sendto(q.to_wire(), ("127.0.0.1", primary.port))
        wire = s.recv(65535)
    # Verified with the key, one RR per RRset as an IXFR reader must parse it.
    r = dns.message.from_wire(wire, keyring=KEYRING, request_mac=q.mac, one_rr_per_rrset=True)
    types = [dns.rdatatype.to_text(rr.rdtype) for rr in r.answer]
    assert types == ["SOA", "SOA", "A", "SOA", "A", "SOA"]  # new, old, -www, new, +www, new
    # A diff that does not fit in 512 bytes: a single SOA tells the secondary to use TCP.
    big = "".join(f"n{i} A 192.0.2.{i}\n" for i in range(1, 60))
    primary.write_zone("example.com", example_com(serial=2026112703, www="192.0.2.11", extra=big))
    assert primary.hpctl("reload", "example.com").returncode == 0
    q = ixfr_query(2026112702)
    q.use_edns(False)
    r = dns.query.udp(q, "127.0.0.1", port=primary.port, source="127.0.0.2", timeout=3)
    assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.SOA] and r.answer[0][0].serial == 2026112703


def test_ixfr_works_across_a_restart(primary):
    copy = axfr_zone(primary.port)
    primary.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.11"))
    assert primary.hpctl("reload", "example.com").returncode == 0
    before = primary.hpctl("status", "--json").stdout
    assert primary.stop() == 0
    primary.start(wait_zones=["example.com"])
    assert primary.hpctl("status", "--json").stdout.count('"entries": 1') == before.count('"entries": 1') == 1
    query, _ = dns.xfr.make_query(copy, keyring=KEYRING, keyname="xfr-key.")
    dns.query.inbound_xfr("127.0.0.1", copy, query=query, port=primary.port, source="127.0.0.2", timeout=10)
    assert copy.get_soa().serial == 2026112702
    assert records_of_zone(copy) == records_of_zone(axfr_zone(primary.port))


def test_status_shows_the_journal_range(primary):
    primary.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.11"))
    primary.hpctl("reload")
    out = primary.hpctl("status", "example.com").stdout
    assert "2026112701..2026112702 (1 diffs," in out


def test_a_signed_soa_query_gets_a_signed_answer(primary):
    # BIND signs its refresh SOA query with the transfer key and rejects an unsigned answer.
    q = dns.message.make_query("example.com.", "SOA")
    q.use_tsig(KEYRING, "xfr-key.")
    r = dns.query.udp(q, "127.0.0.1", port=primary.port, source="127.0.0.2", timeout=3)  # verifies the TSIG
    assert r.had_tsig and r.answer[0][0].serial == 2026112701
    bad = dns.message.make_query("example.com.", "SOA")
    bad.use_tsig(dns.tsigkeyring.from_text({"nobody.": ("hmac-sha256", SECRET)}), "nobody.")
    reply = dns.message.from_wire(raw_tcp(primary.port, bad.to_wire(), "127.0.0.2"), keyring=False)
    assert reply.rcode() == dns.rcode.NOTAUTH and reply.tsig[0].error == dns.rcode.BADKEY and reply.answer == []


def test_axfr_honours_edns(primary):
    q = signed_axfr()
    q.use_edns(0, payload=4096)
    r = dns.message.from_wire(raw_tcp(primary.port, q.to_wire(), "127.0.0.2"), keyring=KEYRING,
                              request_mac=q.mac, xfr=True)
    assert r.edns == 0 and r.payload == 1232  # our OPT, then the TSIG last (verified above)


def test_ixfr_without_the_client_soa_is_formerr(primary):
    q = dns.message.make_query("example.com.", "IXFR")
    q.use_tsig(KEYRING, "xfr-key.")
    r = dns.query.tcp(q, "127.0.0.1", port=primary.port, source="127.0.0.2", timeout=5)
    assert r.rcode() == dns.rcode.FORMERR and r.answer == []


def test_transfer_quota_is_taken_only_by_allowed_peers(tmp_path):
    # ~6 MB: more than the kernel's socket buffers can absorb for a client that does not read
    big = example_com(extra="".join(f"n{i} TXT \"{'x' * 250}\"\n" for i in range(25000)))
    d = Daemon(tmp_path, {"example.com": big},
               extra_zone_config={"example.com": {"secondaries": "[lab, open]"}},
               extra_config=SECONDARY_CONFIG + "limits:\n  transfers_out: 1\n")
    d.start(wait_zones=["example.com"])
    try:
        # An allowed secondary opens a transfer and reads nothing: it holds the only slot.
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.bind(("127.0.0.4", 0))
        stuck.connect(("127.0.0.1", d.port))
        w = dns.message.make_query("example.com.", "AXFR").to_wire()
        stuck.sendall(struct.pack("!H", len(w)) + w)
        time.sleep(0.5)
        # Strangers are refused before the quota is looked at ...
        stranger = dns.message.from_wire(raw_tcp(d.port, signed_axfr(keyring=None).to_wire(), "127.0.0.9"))
        assert stranger.rcode() == dns.rcode.REFUSED
        # ... and an allowed peer over the quota gets a quick SERVFAIL (try later), not a hang.
        over = dns.message.from_wire(raw_tcp(d.port, signed_axfr(keyring=None).to_wire(), "127.0.0.4"))
        assert over.rcode() == dns.rcode.SERVFAIL
        assert "transfers_out quota (1) reached" in d.log()
        stuck.close()
        wait_for(lambda: dns.message.from_wire(raw_tcp(d.port, signed_axfr(keyring=None).to_wire(), "127.0.0.4")),
                 timeout=10, interval=0.1,  # the slot comes back once the stuck transfer is gone
                 until=lambda r: r.rcode() == dns.rcode.NOERROR)
    finally:
        d.stop()


def test_status_tells_what_each_secondary_did_and_keeps_it_across_a_restart(primary):
    axfr_zone(primary.port)  # lab at 127.0.0.2 takes serial 1 by AXFR
    primary.query("example.com", "SOA")  # not from a secondary: not counted
    q = dns.message.make_query("example.com.", "SOA")
    q.use_tsig(KEYRING, "xfr-key.")  # lab has a key: only queries it signed count (issue 11 item 11)
    dns.query.udp(q, "127.0.0.1", port=primary.port, source="127.0.0.2", timeout=3)  # lab's SOA check
    primary.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.11"))
    assert primary.hpctl("reload").returncode == 0

    def lab():
        status = json.loads(primary.hpctl("status", "--json", "example.com").stdout)
        return {s["secondary"]: s for s in status["zones"][0]["secondaries"]}["lab"]

    view = lab()
    assert view["last_transfer"]["serial_to"] == 2026112701 and view["last_transfer"]["kind"] == "AXFR"
    assert view["behind"] is True and view["soa_queries"] == 1
    assert primary.stop() == 0
    primary.start(wait_zones=["example.com"])
    view = lab()  # kept in data_dir
    assert view["last_transfer"]["peer"] == "127.0.0.2" and view["behind"] is True
    out = primary.hpctl("status").stdout
    assert "example.com <- lab: serial 2026112701 by AXFR" in out and "behind" in out


def test_axfr_with_a_compression_pointer_in_the_question_is_served(primary):
    reply = dns.message.from_wire(raw_tcp(primary.port, compressed_axfr_query(), "127.0.0.4"), xfr=True)
    assert reply.rcode() == dns.rcode.NOERROR and reply.id == 0x0042
    assert reply.question[0].name.to_text() == "ExAmPlE.CoM."  # the client's case, uncompressed
    soas = [rrset for rrset in reply.answer if rrset.rdtype == dns.rdatatype.SOA]
    assert len(soas) == 2 and len(reply.answer) > 10  # the whole (one-message) zone, SOA at both ends
    assert "ERROR" not in primary.log() and "tcp.stream_failed" not in primary.log()
