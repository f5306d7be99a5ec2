"""transfer.transfers.Transfers: what an AXFR/IXFR request gets (TSIG -> ACL -> transport ->
quota -> IXFR choice), the messages read back and verified by dnspython's inbound transfer client,
and the record `on_done` is told. Versions come from the real zone loader and sit in a real Store;
requests are wire bytes and streams are pulled as net.tcp pulls them: no sockets, no sleeps."""

from __future__ import annotations

import time
from types import SimpleNamespace

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.xfr
import dns.zone
import pytest

from hiddenprimary.clock import FixedClock
from hiddenprimary.serve.request import Request, parse_request
from hiddenprimary.transfer.transfers import TransferStream, Transfers
from hiddenprimary.zone.store import Store
from hiddenprimary.zone.version import ZoneVersion
from tests.unit.transfer_setup import (HOSTS, ORIGIN, OTHER_SECRET, SERIAL, TSIG_CONFIG, XFR_KEY, XFR_SECRET,
                                       load_versions, make_config, publish, to_dnspython_zone, zone_nodes)

# -- this file's setup ----------------------------------------------------------------------------

OTHER_KEY = dns.tsig.Key("other-key.", OTHER_SECRET, dns.tsig.HMAC_SHA256)
WRONG_SECRET = dns.tsig.Key("xfr-key.", OTHER_SECRET, dns.tsig.HMAC_SHA256)
KEYED, OPEN, STRANGER = ("127.0.0.2", 40001), ("127.0.0.3", 40002), ("198.51.100.7", 40003)
CONFIG = TSIG_CONFIG + """
secondaries:
  keyed: {allow: ["127.0.0.2/32"], key: xfr-key}
  open:  {allow: ["127.0.0.3/32"]}
zones:
  example.com: {file: example.com.zone, secondaries: [keyed, open]}
"""
V2_HOSTS = {**HOSTS, "h0": "192.0.2.200"}
V3_HOSTS = {**{k: v for k, v in V2_HOSTS.items() if k != "h5"}, "new": "192.0.2.201"}


def setup_transfers(tmp_path, config_text: str = CONFIG) -> SimpleNamespace:
    versions = load_versions(tmp_path, HOSTS, V2_HOSTS, V3_HOSTS)
    store = Store([ORIGIN])
    history = publish(store, versions)
    clock = FixedClock(wall=time.time())  # dnspython signs requests with the real time
    transfers = Transfers(make_config(tmp_path, config_text), clock, store)
    done = []
    transfers.on_done = done.append
    return SimpleNamespace(transfers=transfers, clock=clock, versions=versions, history=history, done=done,
                           current=versions[-1])


@pytest.fixture
def t(tmp_path) -> SimpleNamespace:
    return setup_transfers(tmp_path)


def query(qtype: str, key: dns.tsig.Key | None = None, serial: int | None = None) -> dns.message.Message:
    q = dns.message.make_query(ORIGIN, qtype)
    if serial is not None:  # RFC 1995 3: the client's SOA in the authority section
        q.authority.append(dns.rrset.from_text(ORIGIN, 0, "IN", "SOA", f". . {serial} 0 0 0 0"))
    if key is not None:
        q.use_tsig({key.name: key}, key.name)
    return q


def ask(t, q: dns.message.Message, peer=KEYED, transport: str = "tcp") -> bytes | TransferStream:
    req = parse_request(q.to_wire())  # to_wire signs: q.mac is the request MAC from here on
    assert isinstance(req, Request)
    return t.transfers.handle(req, ORIGIN, t.current, transport, peer)


def pull(stream: TransferStream) -> list[bytes]:
    """Every message of the stream, then finish() (what net.tcp does when the secondary reads all)."""
    assert isinstance(stream, TransferStream)
    messages = []
    while (wire := stream.next_message()) is not None:
        messages.append(wire)
    stream.finish()
    return messages


def read(messages: list[bytes], q: dns.message.Message, ixfr: bool = False) -> list[dns.message.Message]:
    """Parse as dnspython's inbound transfer does: each TSIG verified, chained from the request's
    MAC (raises on a missing or bad signature when the request was signed)."""
    out, ctx = [], None
    for wire in messages:
        m = dns.message.from_wire(wire, keyring=q.keyring, request_mac=q.mac, xfr=True, tsig_ctx=ctx,
                                  multi=True, one_rr_per_rrset=ixfr)
        ctx = m.tsig_ctx
        assert m.id == q.id and m.rcode() == dns.rcode.NOERROR
        out.append(m)
    return out


def received(parsed: list[dns.message.Message], rdtype: str, start: ZoneVersion | None = None,
             serial: int | None = None) -> dict:
    """What a secondary holding `start` (None: nothing; asking from `serial`) has after applying
    the transfer."""
    zone = dns.zone.Zone(ORIGIN, relativize=False) if start is None else to_dnspython_zone(start)
    with dns.xfr.Inbound(zone, dns.rdatatype.from_text(rdtype),
                         serial=start.serial if start is not None else serial) as inbound:
        done = [inbound.process_message(m) for m in parsed]
    assert done[-1] and not any(done[:-1])
    return zone_nodes(zone)


def reply(wire: bytes, q: dns.message.Message) -> dns.message.Message:
    """A single reply, its TSIG verified when it has one and the request had a key."""
    r = dns.message.from_wire(wire, keyring=q.keyring, request_mac=q.mac)
    assert r.id == q.id and r.flags & dns.flags.QR
    return r


# -- AXFR --------------------------------------------------------------------------------------------


def test_axfr_from_a_keyed_secondary_with_its_key_gets_the_zone_signed(t):
    q = query("AXFR", XFR_KEY)
    parsed = read(pull(ask(t, q)), q)
    assert all(m.had_tsig and m.keyname == XFR_KEY.name for m in parsed)
    assert received(parsed, "AXFR") == zone_nodes(to_dnspython_zone(t.current))


def test_axfr_by_address_alone_is_unsigned(t):
    q = query("AXFR")
    parsed = read(pull(ask(t, q, peer=OPEN)), q)
    assert not any(m.had_tsig for m in parsed)
    assert received(parsed, "AXFR") == zone_nodes(to_dnspython_zone(t.current))


def test_a_zone_over_several_messages_is_signed_in_one_chain(tmp_path):
    t = setup_transfers(tmp_path)
    big = {f"host{i}": f"10.0.{i // 250}.{i % 250 + 1}" for i in range(800)}
    (tmp_path / "big").mkdir()
    t.current = load_versions(tmp_path / "big", big)[0]  # handed to handle() as the current version
    q = query("AXFR", XFR_KEY)
    messages = pull(ask(t, q))
    assert len(messages) >= 2
    parsed = read(messages, q)  # dnspython verifies each MAC against the previous one
    assert received(parsed, "AXFR") == zone_nodes(to_dnspython_zone(t.current))
    assert t.done[-1].messages == len(messages)


# -- refusals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, XFR_KEY, WRONG_SECRET], ids=["unsigned", "valid-key", "wrong-secret"])
def test_a_stranger_is_refused_whatever_it_signs(t, key):
    q = query("AXFR", key)
    out = ask(t, q, peer=STRANGER)
    assert isinstance(out, bytes)
    r = dns.message.from_wire(out, keyring=q.keyring if key is XFR_KEY else False, request_mac=q.mac)
    assert r.rcode() == dns.rcode.REFUSED and r.answer == []
    assert r.had_tsig == (key is XFR_KEY)  # signed only with a key that verified: no oracle for strangers
    assert t.done == [] and not t.transfers.active


def test_keyed_secondary_without_a_signature_is_refused(t):
    q = query("AXFR")
    r = reply(ask(t, q), q)
    assert r.rcode() == dns.rcode.REFUSED and r.answer == [] and not r.had_tsig


def test_keyed_secondary_signing_with_another_known_key_is_refused_signed_with_that_key(t):
    q = query("AXFR", OTHER_KEY)
    r = reply(ask(t, q), q)  # verifies with other-key
    assert r.rcode() == dns.rcode.REFUSED and r.answer == [] and r.keyname == OTHER_KEY.name


@pytest.mark.parametrize("key,error", [(WRONG_SECRET, dns.rcode.BADSIG),
                                       (dns.tsig.Key("nobody.", XFR_SECRET), dns.rcode.BADKEY)])
def test_keyed_secondary_with_a_bad_signature_gets_notauth(t, key, error):
    q = query("AXFR", key)
    r = dns.message.from_wire(ask(t, q), keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and r.answer == []
    assert r.tsig[0].error == error and r.tsig[0].mac == b""  # RFC 8945 5.3.2: unsigned
    assert t.done == []


def test_a_request_signed_outside_the_fudge_gets_notauth_badtime(t):
    t.clock.advance(3600)
    q = query("AXFR", XFR_KEY)
    r = dns.message.from_wire(ask(t, q), keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and r.tsig[0].error == dns.rcode.BADTIME and r.answer == []


def test_axfr_over_udp_is_formerr(t):
    q = query("AXFR", XFR_KEY)
    r = reply(ask(t, q, transport="udp"), q)
    assert r.rcode() == dns.rcode.FORMERR and r.answer == [] and t.done == []


def test_the_transfers_out_quota_answers_servfail_until_a_slot_frees(tmp_path):
    t = setup_transfers(tmp_path, CONFIG + "limits: {transfers_out: 1}\n")
    first = ask(t, query("AXFR", XFR_KEY))
    q = query("AXFR", XFR_KEY)
    assert reply(ask(t, q), q).rcode() == dns.rcode.SERVFAIL
    pull(first)
    assert isinstance(ask(t, query("AXFR", XFR_KEY)), TransferStream)


# -- IXFR ----------------------------------------------------------------------------------------------


def segments(parsed: list[dns.message.Message]) -> list[tuple[int, set]]:
    """An IXFR's records cut at each SOA: [(SOA serial, the records after it up to the next SOA)]."""
    out: list[tuple[int, set]] = []
    for rrset in (r for m in parsed for r in m.answer):
        if rrset.rdtype == dns.rdatatype.SOA:
            out.append((rrset[0].serial, set()))
        else:
            out[-1][1].update((rrset.name, rrset.rdtype, rd.to_text()) for rd in rrset)
    return out


def changes(rdatasets) -> set:
    return {(name, rds.rdtype, rd.to_text()) for name, rds in rdatasets for rd in rds}


@pytest.mark.parametrize("start", [0, 1])
def test_ixfr_from_a_serial_in_the_history_gets_the_diffs(t, start):
    old = t.versions[start]
    q = query("IXFR", XFR_KEY, serial=old.serial)
    parsed = read(pull(ask(t, q)), q, ixfr=True)
    expected = [(t.current.serial, set())]
    for d in t.history[start:]:  # RFC 1995 4: old SOA, deletions, new SOA, additions; per step
        expected += [(d.serial_from, changes(d.removed)), (d.serial_to, changes(d.added))]
    expected.append((t.current.serial, set()))
    assert segments(parsed) == expected
    assert received(parsed, "IXFR", old) == zone_nodes(to_dnspython_zone(t.current))
    assert (t.done[-1].kind, t.done[-1].serial_from) == ("IXFR", old.serial)


def test_ixfr_from_a_serial_the_history_does_not_reach_is_answered_axfr_style(t):
    q = query("IXFR", XFR_KEY, serial=SERIAL - 5)
    parsed = read(pull(ask(t, q)), q, ixfr=True)
    records = [r for m in parsed for r in m.answer]
    assert [r.rdtype for r in (records[0], records[-1])] == [dns.rdatatype.SOA] * 2
    assert sum(r.rdtype == dns.rdatatype.SOA for r in records) == 2  # the whole zone, not a diff
    assert received(parsed, "IXFR", serial=SERIAL - 5) == zone_nodes(to_dnspython_zone(t.current))
    assert (t.done[-1].kind, t.done[-1].serial_from) == ("AXFR-style IXFR", SERIAL - 5)


@pytest.mark.parametrize("serial", [SERIAL + 2, SERIAL + 9])
def test_ixfr_from_our_serial_or_newer_gets_our_soa_alone(t, serial):
    q = query("IXFR", XFR_KEY, serial=serial)
    r = reply(ask(t, q), q)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert [(rr.rdtype, rr[0].serial) for rr in r.answer] == [(dns.rdatatype.SOA, t.current.serial)]
    assert t.done == []  # nothing was transferred


def test_ixfr_over_udp_sends_the_diff_when_it_fits_in_a_datagram(t):
    q = query("IXFR", XFR_KEY, serial=SERIAL + 1)
    out = ask(t, q, transport="udp")
    assert isinstance(out, bytes) and len(out) <= 512
    parsed = read([out], q, ixfr=True)
    assert received(parsed, "IXFR", t.versions[1]) == zone_nodes(to_dnspython_zone(t.current))
    assert [(r.kind, r.outcome, r.messages) for r in t.done] == [("IXFR", "ok", 1)]


def test_ixfr_without_the_clients_soa_is_formerr(t):
    q = query("IXFR", XFR_KEY)
    assert reply(ask(t, q), q).rcode() == dns.rcode.FORMERR


# -- what on_done is told ----------------------------------------------------------------------------------


def test_on_done_gets_zone_secondary_kind_serials_and_outcome(t):
    q = query("IXFR", XFR_KEY, serial=SERIAL)
    stream = ask(t, q)
    assert t.transfers.active == {stream} and t.done == []  # told when it ends, not when it starts
    t.clock.advance(0.25)
    messages = pull(stream)
    (r,) = t.done
    assert (r.zone, r.peer, r.secondary, r.kind, r.serial_from, r.serial_to, r.outcome) == (
        "example.com", KEYED[0], "keyed", "IXFR", SERIAL, SERIAL + 2, "ok")
    assert (r.messages, r.bytes, r.duration_ms) == (len(messages), sum(map(len, messages)), 250.0)
    assert not t.transfers.active
    stream.finish()  # a second finish (connection closed after the end) tells no one again
    assert len(t.done) == 1


def test_on_done_hears_of_an_aborted_transfer(t):
    stream = ask(t, query("AXFR"), peer=OPEN)
    stream.next_message()
    stream.finish("connection lost")
    (r,) = t.done
    assert (r.secondary, r.kind, r.serial_from, r.serial_to) == ("open", "AXFR", None, SERIAL + 2)
    assert r.outcome == "aborted: connection lost" and r.messages == 1 and not t.transfers.active
