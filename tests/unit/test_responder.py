"""responder.respond: routing (REFUSED/SERVFAIL/NOTAUTH/NOTIMP), EDNS, truncation, SERVFAIL on
unexpected errors, and the answer cache (byte-identical to the full path)."""

from __future__ import annotations

import logging
import struct
from unittest import mock

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary import logs
from hiddenprimary.clock import FixedClock
from hiddenprimary.serve import answer_cache, responder
from hiddenprimary.serve.request import parse_request
from hiddenprimary.serve.responder import respond
from hiddenprimary.zone.store import Store
from tests.zones import QUERY_ZONE, version_from_text

ORIGIN = dns.name.from_text("example.com.")
UNLOADED = dns.name.from_text("broken.test.")

BIG_TEXT = (
    QUERY_ZONE
    + "".join(f'big TXT "{i:02d}-{"x" * 60}"\n' for i in range(10))  # ~750 octets of answer
    + "".join(f"mx MX {i} mx{i}\nmx{i} A 192.0.2.{i}\nmx{i} AAAA 2001:db8::{i}\n" for i in range(12))
    + "".join(f"bigcut NS ns{i}.bigcut\nns{i}.bigcut A 192.0.2.{i}\nns{i}.bigcut AAAA 2001:db8::{i}\n" for i in range(12))
    + "".join(f"sibcut NS mx{i}\n" for i in range(12))
    + "mixcut NS ns0.mixcut\nmixcut NS ns1.mixcut\nns0.mixcut A 192.0.2.100\nns1.mixcut A 192.0.2.101\n"
    + "".join(f"mixcut NS mx{i}\n" for i in range(12))
)


def make_store(text: str = BIG_TEXT) -> Store:
    store = Store([ORIGIN, UNLOADED])
    store.publish(ORIGIN, version_from_text(text))
    return store


@pytest.fixture
def store() -> Store:
    return make_store()


def query(
    qname: str,
    qtype: str = "A",
    *,
    rdclass: str = "IN",
    edns: int | None = None,
    payload: int = 1232,
    do: bool = False,
    opcode: int = dns.opcode.QUERY,
    options=None,
    msg_id: int | None = None,
) -> bytes:
    q = dns.message.make_query(qname, qtype, rdclass)
    if edns is not None or do:
        q.use_edns(0, dns.flags.DO if do else 0, payload, options=options)
    q.set_opcode(opcode)
    if msg_id is not None:
        q.id = msg_id
    return q.to_wire()


def ask(store, wire: bytes, transport: str = "udp", **kw) -> dns.message.Message:
    out = respond(wire, transport=transport, store=store, **kw)
    assert out is not None
    return dns.message.from_wire(out)


def names_types(rrsets):
    return [(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)) for r in rrsets]


def empty(r: dns.message.Message) -> bool:
    return r.answer == [] and r.authority == [] and r.additional == []


# -- routing ----------------------------------------------------------------------------------------


def test_answer_from_served_zone(store):
    wire = query("www.example.com.", msg_id=4242)
    r = ask(store, wire)
    assert r.id == 4242 and r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert names_types(r.answer) == [("www.example.com.", "A")]


def test_name_in_no_zone_is_refused(store):
    # Checklist C4: REFUSED, AA clear, question echoed.
    wire = query("www.example.net.", "SOA")
    r = ask(store, wire)
    assert r.rcode() == dns.rcode.REFUSED
    assert not r.flags & dns.flags.AA
    assert [q.to_text() for q in r.question] == ["www.example.net. IN SOA"]
    assert empty(r)


def test_version_bind_chaos_is_refused(store):
    r = ask(store, query("version.bind.", "TXT", rdclass="CH"))
    assert r.rcode() == dns.rcode.REFUSED and empty(r)


def test_chaos_class_inside_served_zone_is_refused(store):
    r = ask(store, query("www.example.com.", "A", rdclass="CH"))
    assert r.rcode() == dns.rcode.REFUSED and not r.flags & dns.flags.AA


def test_configured_zone_without_version_is_servfail(store):
    # Checklist C6 (NSD zone_notloaded): SERVFAIL; other zones keep serving.
    r = ask(store, query("www.broken.test."))
    assert r.rcode() == dns.rcode.SERVFAIL and empty(r)
    assert ask(store, query("www.example.com.")).rcode() == dns.rcode.NOERROR


def test_ds_at_apex_answered_from_served_parent():
    parent = dns.name.from_text("com.")
    store = Store([ORIGIN, parent])
    store.publish(ORIGIN, version_from_text(QUERY_ZONE))
    parent_text = (
        "@ 300 IN SOA ns hm 1 2 3 4 60\n@ NS ns\nns A 192.0.2.1\nexample NS ns1.example\n"
        "example DS 1 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"
    )
    store.publish(parent, version_from_text(parent_text, "com."))
    r = ask(store, query("example.com.", "DS"))
    assert names_types(r.answer) == [("example.com.", "DS")] and r.flags & dns.flags.AA
    # Without the parent we answer from the child (NODATA), like a server serving only the child.
    r = ask(make_store(), query("example.com.", "DS"))
    assert r.answer == [] and names_types(r.authority) == [("example.com.", "SOA")]


# -- transfers, NOTIFY, UPDATE ----------------------------------------------------------------------


def test_axfr_over_udp_is_formerr(store):
    # Checklist B9: pinned to BIND's answer ("attempted AXFR over UDP").
    r = ask(store, query("example.com.", "AXFR"), "udp")
    assert r.rcode() == dns.rcode.FORMERR and empty(r)
    assert [q.to_text() for q in r.question] == ["example.com. IN AXFR"]


@pytest.mark.parametrize("qtype", ["AXFR", "IXFR"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_transfer_of_zone_we_do_not_serve_is_notauth(store, qtype, transport):
    # Checklist C5: NOTAUTH (BIND xfrout.c "non-authoritative zone"; Knot NS_NEED_ZONE).
    assert ask(store, query("other.test.", qtype), transport).rcode() == dns.rcode.NOTAUTH
    # A name inside a served zone is not a zone either.
    assert ask(store, query("www.example.com.", qtype), transport).rcode() == dns.rcode.NOTAUTH


def test_transfer_of_unloaded_zone_is_servfail(store):
    assert ask(store, query("broken.test.", "AXFR"), "tcp").rcode() == dns.rcode.SERVFAIL


@pytest.mark.parametrize("qtype,transport", [("AXFR", "tcp"), ("IXFR", "tcp"), ("IXFR", "udp")])
def test_transfer_of_served_zone_goes_to_the_placeholder(store, qtype, transport):
    r = ask(store, query("example.com.", qtype), transport)
    assert r.rcode() == dns.rcode.REFUSED and empty(r)


def test_refuse_transfer_is_the_one_decision_point(store, monkeypatch):
    seen = []

    def fake(request, version, transport):
        seen.append((version.serial, transport))
        reply = responder.reply_skeleton(request)
        reply.set_rcode(dns.rcode.NOTIMP)
        return reply

    monkeypatch.setattr(responder, "refuse_transfer", fake)
    assert ask(store, query("example.com.", "AXFR"), "tcp").rcode() == dns.rcode.NOTIMP
    assert seen == [(2024010101, "tcp")]


def test_notify_for_our_zone_is_refused(store):
    # Checklist C7: we are the primary; pinned REFUSED.
    r = ask(store, query("example.com.", "SOA", opcode=dns.opcode.NOTIFY))
    assert r.opcode() == dns.opcode.NOTIFY
    assert r.rcode() == dns.rcode.REFUSED and empty(r)


@pytest.mark.parametrize("qname", ["other.test.", "www.example.com."])
def test_notify_for_zone_we_do_not_serve_is_notauth(store, qname):
    r = ask(store, query(qname, "SOA", opcode=dns.opcode.NOTIFY))
    assert r.opcode() == dns.opcode.NOTIFY and r.rcode() == dns.rcode.NOTAUTH


# -- incoming NOTIFY is logged, rate-limited (issue 11 item 15) --------------------------------------


@pytest.fixture
def notify_records(monkeypatch):
    records = []
    logger = logging.getLogger("test.responder.notify")
    logger.setLevel(logging.DEBUG)
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    monkeypatch.setattr(responder, "log", logger)
    yield records
    logger.removeHandler(handler)


def test_incoming_notify_is_logged_at_debug_with_its_source(store, notify_records):
    throttle = logs.Throttle(60.0, FixedClock().monotonic)
    wire = query("example.com.", "SOA", opcode=dns.opcode.NOTIFY)
    r = dns.message.from_wire(respond(wire, transport="udp", store=store, peer=("192.0.2.7", 5353),
                                      notify_log=throttle))
    assert r.rcode() == dns.rcode.REFUSED  # unchanged: the log line is all that is new
    (record,) = notify_records
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == "notify.received peer=192.0.2.7 zone=example.com transport=udp answer=REFUSED"
    respond(query("other.test.", "SOA", opcode=dns.opcode.NOTIFY), transport="tcp", store=store,
            peer=("192.0.2.8", 5353), notify_log=throttle)
    assert notify_records[1].getMessage() == (
        "notify.received peer=192.0.2.8 zone=other.test transport=tcp answer=NOTAUTH")


def test_incoming_notifies_are_rate_limited_per_source(store, notify_records):
    clock = FixedClock()
    throttle = logs.Throttle(60.0, clock.monotonic)
    wire = query("example.com.", "SOA", opcode=dns.opcode.NOTIFY)
    for _ in range(50):
        respond(wire, transport="udp", store=store, peer=("192.0.2.7", 1), notify_log=throttle)
        respond(wire, transport="udp", store=store, peer=("192.0.2.9", 1), notify_log=throttle)
    assert [r.getMessage().split()[1] for r in notify_records] == ["peer=192.0.2.7", "peer=192.0.2.9"]
    clock.advance(60)
    respond(wire, transport="udp", store=store, peer=("192.0.2.7", 1), notify_log=throttle)
    assert notify_records[-1].getMessage().endswith("answer=REFUSED suppressed=49")
    assert len(notify_records) == 3


def test_only_notify_requests_are_logged(store, notify_records):
    throttle = logs.Throttle(60.0, FixedClock().monotonic)
    for wire in (query("example.com.", "SOA"), query("example.com.", "SOA", opcode=dns.opcode.UPDATE),
                 dns.message.make_response(dns.message.from_wire(
                     query("example.com.", "SOA", opcode=dns.opcode.NOTIFY))).to_wire()):
        respond(wire, transport="udp", store=store, peer=("192.0.2.7", 1), notify_log=throttle)
    assert notify_records == []
    # Malformed, or no logger at debug: still answered, never an exception.
    bad = query("example.com.", "SOA", opcode=dns.opcode.NOTIFY) + b"x"
    r = dns.message.from_wire(respond(bad, transport="udp", store=store, peer=("192.0.2.7", 1), notify_log=throttle))
    assert r.rcode() == dns.rcode.FORMERR and notify_records[0].getMessage().endswith("answer=FORMERR")


def test_update_is_notimp(store):
    r = ask(store, query("example.com.", "SOA", opcode=dns.opcode.UPDATE))
    assert r.opcode() == dns.opcode.UPDATE and r.rcode() == dns.rcode.NOTIMP



# -- TSIG on transfer refusals the responder answers itself (issue 11 items 5 and 6) ---------------

TSIG_KEY = dns.tsig.Key(dns.name.from_text("xfr-key."), b"k" * 32, dns.tsig.HMAC_SHA256)
KEYRING = {TSIG_KEY.name: TSIG_KEY}
NOW = 1_700_000_000.0


def signed(qname: str, qtype: str, rdclass: str = "IN", key: dns.tsig.Key = TSIG_KEY,
           time_signed: float = NOW) -> tuple[dns.message.Message, bytes]:
    q = dns.message.make_query(qname, qtype, rdclass)
    q.use_tsig({key.name: key}, key.name)
    with mock.patch("time.time", return_value=time_signed):
        wire = q.to_wire()
    return q, wire


def no_transfer_hook(*args):
    raise AssertionError("the transfer service must not see this request")


REFUSED_BEFORE_THE_HOOK = [
    ("other.test.", "AXFR", "IN", "tcp", dns.rcode.NOTAUTH),  # a zone we do not serve
    ("other.test.", "IXFR", "IN", "udp", dns.rcode.NOTAUTH),
    ("www.example.com.", "AXFR", "IN", "tcp", dns.rcode.NOTAUTH),  # not a zone apex
    ("broken.test.", "AXFR", "IN", "tcp", dns.rcode.SERVFAIL),  # configured, never loaded
    ("example.com.", "AXFR", "CH", "tcp", dns.rcode.NOTAUTH),  # we serve IN zones only
    ("example.com.", "IXFR", "ANY", "tcp", dns.rcode.NOTAUTH),
]


@pytest.mark.parametrize("qname,qtype,rdclass,transport,rcode", REFUSED_BEFORE_THE_HOOK)
def test_signed_transfer_refused_before_the_hook_is_signed(store, qname, qtype, rdclass, transport, rcode):
    # BIND signs its NOTAUTH when the key is known and the MAC verifies; dig then trusts it.
    q, wire = signed(qname, qtype, rdclass)
    out = respond(wire, transport=transport, store=store, keyring=KEYRING, now=lambda: NOW + 1,
                  transfer=no_transfer_hook)
    with mock.patch("time.time", return_value=NOW + 1):
        r = dns.message.from_wire(out, keyring=KEYRING, request_mac=q.mac)  # raises unless verified
    assert r.had_tsig and r.tsig_error == 0
    assert r.rcode() == rcode and empty(r) and r.id == q.id


@pytest.mark.parametrize("qname,qtype,rdclass,transport,rcode", REFUSED_BEFORE_THE_HOOK)
def test_transfer_refused_before_the_hook_with_bad_tsig_gets_rfc8945_error(store, qname, qtype, rdclass,
                                                                           transport, rcode):
    stranger = dns.tsig.Key(dns.name.from_text("stranger."), b"s" * 32, dns.tsig.HMAC_SHA256)
    wrong_secret = dns.tsig.Key(TSIG_KEY.name, b"w" * 32, TSIG_KEY.algorithm)
    for key, error in ((stranger, dns.rcode.BADKEY), (wrong_secret, dns.rcode.BADSIG)):
        _, wire = signed(qname, qtype, rdclass, key=key)
        out = respond(wire, transport=transport, store=store, keyring=KEYRING, now=lambda: NOW,
                      transfer=no_transfer_hook)
        r = dns.message.from_wire(out, keyring=False)
        assert r.rcode() == dns.rcode.NOTAUTH and empty(r)
        assert r.tsig[0].error == error and r.tsig[0].mac == b""  # unsigned (RFC 8945 5.3.2)
    _, wire = signed(qname, qtype, rdclass, time_signed=NOW - 3600)
    out = respond(wire, transport=transport, store=store, keyring=KEYRING, now=lambda: NOW,
                  transfer=no_transfer_hook)
    r = dns.message.from_wire(out, keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and r.tsig[0].error == dns.rcode.BADTIME and len(r.tsig[0].mac) == 32


@pytest.mark.parametrize("rdclass", ["CH", "HS", "ANY", "NONE"])
@pytest.mark.parametrize("qtype", ["AXFR", "IXFR"])
def test_transfer_of_other_class_is_notauth_and_never_reaches_the_hook(store, qtype, rdclass):
    # BIND: NOTAUTH (no zone of that class); before, the IN zone was transferred.
    out = respond(query("example.com.", qtype, rdclass=rdclass), transport="tcp", store=store,
                  transfer=no_transfer_hook)
    r = dns.message.from_wire(out)
    assert r.rcode() == dns.rcode.NOTAUTH and empty(r) and not r.flags & dns.flags.AA
    assert r.question[0].rdclass == dns.rdataclass.from_text(rdclass)


@pytest.mark.parametrize("rdclass", ["CH", "HS", "ANY", "NONE"])
@pytest.mark.parametrize("qtype", ["SOA", "A", "ANY", "TXT"])
def test_plain_query_of_other_class_is_refused(store, qtype, rdclass):
    # Pinned: REFUSED, AA clear (BIND answers REFUSED for CH names it has no CH zone for).
    for qname in ("example.com.", "www.example.com.", "version.bind."):
        r = ask(store, query(qname, qtype, rdclass=rdclass))
        assert r.rcode() == dns.rcode.REFUSED and empty(r) and not r.flags & dns.flags.AA


# -- ANY (RFC 8482; issue 11 item 14) ---------------------------------------------------------------


def test_any_over_udp_is_one_rrset_and_over_tcp_all(store):
    wire = query("www.example.com.", "ANY", edns=0, payload=4096)
    for _ in range(2):  # the second round comes from the answer cache
        udp = ask(store, wire, "udp")
        tcp = ask(store, wire, "tcp")
        assert names_types(udp.answer) == [("www.example.com.", "A")] and not udp.flags & dns.flags.TC
        assert sorted(names_types(tcp.answer)) == [
            ("www.example.com.", "A"), ("www.example.com.", "AAAA"), ("www.example.com.", "TXT")]
    entries = store.current(ORIGIN).cache[answer_cache.CACHE_SLOT].entries
    assert sorted(key[6] for key in entries if key[1] == dns.rdatatype.ANY) == ["tcp", "udp"]


def test_any_over_udp_is_small_even_where_the_full_answer_is_not(store):
    # One RRset over UDP, within the usual limits: TC only if that one RRset does not fit.
    for qname in ("example.com.", "big.example.com.", "mx.example.com."):
        full = respond(query(qname, "ANY", edns=0), transport="tcp", store=store)
        small = respond(query(qname, "ANY", edns=0), transport="udp", store=store)
        r = dns.message.from_wire(small)
        assert len(r.answer) == 1 and not r.flags & dns.flags.TC and len(small) <= len(full)
    r = ask(store, query("big.example.com.", "ANY"), "udp")  # 750 octets of TXT, no EDNS: 512
    assert r.answer == [] and r.flags & dns.flags.TC


# -- malformed input through respond ----------------------------------------------------------------


def test_drop_and_formerr_through_respond(store):
    assert respond(b"\x00" * 11, transport="udp", store=store) is None
    response_as_query = dns.message.make_response(dns.message.make_query("example.com.", "A")).to_wire()
    assert respond(response_as_query, transport="tcp", store=store) is None
    out = respond(query("www.example.com.") + b"x", transport="udp", store=store)
    assert dns.message.from_wire(out).rcode() == dns.rcode.FORMERR
    r = ask(store, query("www.example.com.", edns=0).replace(b"\x00\x29\x04\xd0\x00\x00", b"\x00\x29\x04\xd0\x00\x01"))
    assert r.rcode() == dns.rcode.BADVERS and r.payload == 1232


# -- EDNS -------------------------------------------------------------------------------------------


def test_no_opt_without_edns(store):
    r = ask(store, query("www.example.com."))
    assert r.edns == -1


def test_opt_echoed_with_our_payload(store):
    r = ask(store, query("www.example.com.", edns=0, payload=4096), max_udp_payload=1400)
    assert r.edns == 0 and r.payload == 1400
    assert not r.ednsflags & dns.flags.DO


def test_do_bit_echoed(store):
    r = ask(store, query("www.example.com.", edns=0, do=True))
    assert r.ednsflags & dns.flags.DO


def test_opt_echoed_on_error_replies(store):
    r = ask(store, query("www.example.net.", edns=0, do=True))
    assert r.rcode() == dns.rcode.REFUSED and r.edns == 0 and r.ednsflags & dns.flags.DO


def test_options_are_ignored_not_echoed(store):
    cookie = dns.edns.GenericOption(dns.edns.COOKIE, b"12345678")
    r = ask(store, query("www.example.com.", edns=0, options=[cookie]))
    assert r.rcode() == dns.rcode.NOERROR and r.options == ()


@pytest.mark.parametrize(
    "transport,edns,payload,max_udp,expected",
    [
        ("udp", None, 0, 1232, 512),
        ("udp", 0, 100, 1232, 512),
        ("udp", 0, 1000, 1232, 1000),
        ("udp", 0, 4096, 1232, 1232),
        ("udp", 0, 4096, 4096, 4096),
        ("tcp", None, 0, 1232, 65535),
        ("tcp", 0, 512, 1232, 65535),
    ],
)
def test_size_limit(transport, edns, payload, max_udp, expected):
    q = dns.message.make_query("a.", "A")
    if edns is not None:
        q.use_edns(edns, 0, payload)
    assert responder.size_limit(q, transport, max_udp) == expected


# -- truncation -------------------------------------------------------------------------------------


def test_tc_when_answer_does_not_fit_512_without_edns(store):
    out = respond(query("big.example.com.", "TXT"), transport="udp", store=store)
    assert len(out) <= 512
    r = dns.message.from_wire(out)
    assert r.flags & dns.flags.TC
    assert r.rcode() == dns.rcode.NOERROR
    assert [q.to_text() for q in r.question] == ["big.example.com. IN TXT"]
    assert empty(r) and r.edns == -1


def test_tc_reply_keeps_opt(store):
    r = ask(store, query("big.example.com.", "TXT", edns=0, payload=512, do=True))
    assert r.flags & dns.flags.TC and empty(r)
    assert r.edns == 0 and r.ednsflags & dns.flags.DO


def test_fits_with_edns_4096(store):
    out = respond(query("big.example.com.", "TXT", edns=0, payload=4096), transport="udp", store=store)
    r = dns.message.from_wire(out)
    assert not r.flags & dns.flags.TC
    assert len(r.answer[0]) == 10 and 512 < len(out) <= 1232


def test_tcp_has_no_512_limit(store):
    r = ask(store, query("big.example.com.", "TXT"), "tcp")
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 10


def test_additional_that_does_not_fit_is_dropped_without_tc(store):
    # RFC 2181 9: TC only when required data is missing.
    out = respond(query("mx.example.com.", "MX"), transport="udp", store=store)
    assert len(out) <= 512
    r = dns.message.from_wire(out)
    assert not r.flags & dns.flags.TC
    assert len(r.answer[0]) == 12 and r.additional == []
    full = ask(store, query("mx.example.com.", "MX"), "tcp")
    assert len(full.additional) == 24


def test_referral_required_glue_that_does_not_fit_sets_tc(store):
    # RFC 9471: in-domain glue (below the cut) must be included or TC set.
    r = ask(store, query("www.bigcut.example.com."))
    assert r.flags & dns.flags.TC and empty(r)
    r = ask(store, query("www.bigcut.example.com.", edns=0), max_udp_payload=1232)
    assert not r.flags & dns.flags.TC and len(r.additional) == 24


def test_referral_sibling_glue_is_optional(store):
    r = ask(store, query("www.sibcut.example.com."))
    assert not r.flags & dns.flags.TC
    assert names_types(r.authority) == [("sibcut.example.com.", "NS")]
    assert r.additional == []
    r = ask(store, query("www.mixcut.example.com."))
    assert not r.flags & dns.flags.TC
    assert names_types(r.additional) == [("ns0.mixcut.example.com.", "A"), ("ns1.mixcut.example.com.", "A")]


# -- never raise ------------------------------------------------------------------------------------


def test_unexpected_error_is_servfail(store, monkeypatch):
    def boom(zone, request, **kw):
        raise RuntimeError("bug")

    monkeypatch.setattr(responder, "answer", boom)
    errors = []
    wire = query("www.example.com.", edns=0)
    r = ask(store, wire, on_error=lambda exc, w: errors.append((exc, w)))
    assert r.rcode() == dns.rcode.SERVFAIL and r.edns == 0 and empty(r)
    assert [type(e).__name__ for e, _ in errors] == ["RuntimeError"] and errors[0][1] == wire
    # SERVFAIL is not cached: once fixed, the answer comes back.
    monkeypatch.undo()
    assert ask(store, wire).rcode() == dns.rcode.NOERROR


def test_error_while_rendering_is_servfail(store, monkeypatch):
    monkeypatch.setattr(responder, "render", lambda *a: 1 / 0)
    out = respond(query("www.example.com.", msg_id=99), transport="udp", store=store, on_error=lambda e, w: None)
    assert struct.unpack("!HH", out[:4]) == (99, 0x8000 | 0x0100 | dns.rcode.SERVFAIL)


def test_default_error_hook_logs_one_line(store, monkeypatch):
    records = []
    logger = logging.getLogger("test.responder.servfail")
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    monkeypatch.setattr(responder, "log", logger)
    monkeypatch.setattr(responder, "answer", lambda zone, request, **kw: 1 / 0)
    r = ask(store, query("www.example.com."))
    assert r.rcode() == dns.rcode.SERVFAIL
    (record,) = records
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith('query.servfail error=ZeroDivisionError detail="division by zero" query=')
    assert "\n" not in record.getMessage()


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.sampled_from(["udp", "tcp"]))
def test_respond_never_raises(store, wire, transport):
    out = respond(wire, transport=transport, store=store)
    assert out is None or (isinstance(out, bytes) and len(out) >= 12)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(12, 60), st.integers(0, 255)), max_size=4), st.sampled_from(["udp", "tcp"]))
def test_respond_to_mutated_queries(store, flips, transport):
    wire = bytearray(query("www.example.com.", "A", edns=0, do=True))
    for pos, value in flips:
        if pos < len(wire):
            wire[pos] = value
    out = respond(bytes(wire), transport=transport, store=store)
    assert out is None or len(out) >= 12


# -- the answer cache -------------------------------------------------------------------------------


def test_cache_hit_splices_id_rd_cd_and_question_case(store):
    first = query("www.example.com.", msg_id=1)
    respond(first, transport="udp", store=store)
    second = bytearray(query("WwW.ExAmPlE.cOm.", msg_id=2))
    second[2] &= ~0x01  # RD clear
    second[3] |= 0x10  # CD set
    second = bytes(second)
    pre = answer_cache.preparse(second, "udp", 1232)
    hit = answer_cache.lookup(answer_cache.version_of(store, pre), pre, second)
    assert hit is not None
    assert hit == respond(second, transport="udp", store=store, use_cache=False)
    r = dns.message.from_wire(hit)
    assert r.id == 2 and not r.flags & dns.flags.RD and r.flags & dns.flags.CD
    assert r.question[0].name.to_text() == "WwW.ExAmPlE.cOm."


def test_cache_is_per_version(store):
    wire = query("www.example.com.")
    respond(wire, transport="udp", store=store)
    changed = BIG_TEXT.replace("www               A     192.0.2.3", "www A 192.0.2.99")
    store.publish(ORIGIN, version_from_text(changed))
    r = ask(store, wire)
    assert r.answer[0][0].address == "192.0.2.99"


def test_cache_key_separates_transport_edns_do_and_size(store):
    variants = [
        (query("big.example.com.", "TXT"), "udp"),
        (query("big.example.com.", "TXT"), "tcp"),
        (query("big.example.com.", "TXT", edns=0, payload=4096), "udp"),
        (query("big.example.com.", "TXT", edns=0, payload=600), "udp"),
        (query("big.example.com.", "TXT", edns=0, payload=4096, do=True), "udp"),
    ]
    for wire, transport in variants * 2:  # the second round is served from the cache
        assert respond(wire, transport=transport, store=store) == respond(
            wire, transport=transport, store=store, use_cache=False
        )
    cache = store.current(ORIGIN).cache[answer_cache.CACHE_SLOT]
    assert len(cache) == 5


@pytest.mark.parametrize(
    "wire",
    [
        query("www.example.com.", edns=0, options=[dns.edns.GenericOption(dns.edns.COOKIE, b"12345678")]),
        query("www.example.com.", opcode=dns.opcode.NOTIFY),
        query("www.example.com.", edns=0)[:-11] + b"\x00\x00\x29\x04\xd0\x00\x01\x00\x00\x00\x00",  # EDNS v1
        query("www.example.com.") + b"x",
        b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # pointer qname
    ],
)
def test_unusual_queries_are_not_cacheable(wire):
    assert answer_cache.preparse(wire, "udp", 1232) is None


def test_tsig_signed_query_is_not_cacheable():
    import dns.tsigkeyring

    q = dns.message.make_query("www.example.com.", "A")
    q.use_tsig(dns.tsigkeyring.from_text({"k.": "c2VjcmV0c2VjcmV0c2VjcmV0"}), "k.")
    assert answer_cache.preparse(q.to_wire(), "udp", 1232) is None


def test_refused_and_servfail_are_not_cached(store):
    respond(query("www.example.net."), transport="udp", store=store)
    respond(query("www.broken.test."), transport="udp", store=store)
    assert answer_cache.CACHE_SLOT not in store.current(ORIGIN).cache


def test_cache_is_bounded():
    entries = answer_cache._Entries(max_entries=3, max_bytes=100)
    for i in range(10):
        entries.put(("k", i), (0, 0, b"", b""), 10)
    assert len(entries) == 3 and list(entries.entries) == [("k", 7), ("k", 8), ("k", 9)]
    entries.put(("big",), (0, 0, b"", b""), 95)
    assert list(entries.entries) == [("big",)] and entries.total_bytes == 95
    entries.put(("huge",), (0, 0, b"", b""), 101)
    assert ("huge",) not in entries.entries


def test_version_cache_bounded_in_respond(store, monkeypatch):
    monkeypatch.setattr(answer_cache, "MAX_ENTRIES", 5)
    monkeypatch.setattr(answer_cache._Entries.__init__, "__defaults__", (5, answer_cache.MAX_BYTES))
    for i in range(20):
        respond(query(f"n{i}.example.com."), transport="udp", store=store)
    assert len(store.current(ORIGIN).cache[answer_cache.CACHE_SLOT]) == 5


# Names that exercise every answer type of the test zone, plus misses.
CACHE_NAMES = [
    "example.com.", "www.example.com.", "alias.example.com.", "chain1.example.com.", "loop1.example.com.",
    "out.example.com.", "dangling.example.com.", "tocut.example.com.", "_sip._tcp.example.com.",
    "b.ent.example.com.", "x.wild.example.com.", "a.b.wild.example.com.", "exists.wild.example.com.",
    "x.deleg.wild.example.com.", "foo.cn.example.com.", "sub.example.com.", "host.sub.example.com.",
    "insecure.example.com.", "nothere.example.com.", "big.example.com.", "mx.example.com.",
    "a.bigcut.example.com.", "a.sibcut.example.com.", "mixcut.example.com.", "www.example.net.",
    "www.broken.test.", "version.bind.",
]
CACHE_TYPES = ["A", "AAAA", "MX", "NS", "TXT", "SOA", "CNAME", "DS", "SRV", "ANY", "RRSIG", "TYPE999"]


def _random_case(text: str, mask: int) -> str:
    return "".join(c.upper() if (mask >> (i % 60)) & 1 else c for i, c in enumerate(text))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    qname=st.sampled_from(CACHE_NAMES),
    qtype=st.sampled_from(CACHE_TYPES),
    rdclass=st.sampled_from(["IN", "IN", "IN", "CH"]),
    edns=st.sampled_from([None, 0]),
    payload=st.sampled_from([0, 512, 600, 1232, 1400, 4096, 65535]),
    do=st.booleans(),
    transport=st.sampled_from(["udp", "tcp"]),
    masks=st.tuples(st.integers(0, 2**60), st.integers(0, 2**60)),
    ids=st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
    flags=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    max_udp=st.sampled_from([512, 1232, 4096]),
)
def test_cached_and_uncached_replies_are_identical(store, qname, qtype, rdclass, edns, payload, do, transport, masks, ids, flags, max_udp):
    def wire_for(mask, msg_id, bits):
        q = dns.message.make_query(_random_case(qname, mask), qtype, rdclass)
        if edns is not None:
            q.use_edns(0, dns.flags.DO if do else 0, payload)
        q.id = msg_id
        q.flags = dns.flags.Flag((dns.flags.RD if bits & 1 else 0) | (dns.flags.CD if bits & 2 else 0))
        return q.to_wire()

    warm, probe = wire_for(masks[0], ids[0], flags[0]), wire_for(masks[1], ids[1], flags[1])
    kw = {"transport": transport, "store": store, "max_udp_payload": max_udp}
    respond(warm, **kw)
    expected = respond(probe, use_cache=False, **kw)
    cold_and_maybe_cached = respond(probe, **kw)
    assert cold_and_maybe_cached == expected
    pre = answer_cache.preparse(probe, transport, max_udp)
    assert pre is not None
    version = answer_cache.version_of(store, pre)
    hit = None if version is None else answer_cache.lookup(version, pre, probe)
    zone_found = store.find(dns.name.from_text(qname))
    answered_from_zone = (
        zone_found is not None and zone_found[1] is not None and qtype not in ("AXFR", "IXFR")
    )
    if answered_from_zone:
        assert hit == expected  # a hit, byte for byte the full path's reply
    else:
        assert hit is None


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=10), min_size=0, max_size=5),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.sampled_from([None, 0]),
    st.integers(0, 0xFFFF),
    st.booleans(),
)
def test_preparse_agrees_with_dnspython(labels, qtype, qclass, edns, payload, do):
    # DESIGN.md Conventions: the 12-byte header + question pre-parse is checked against dnspython.
    qname = dns.name.Name(labels + [b""])
    q = dns.message.Message()
    q.question = [dns.rrset.RRset(qname, qclass, qtype)]
    q.flags = dns.flags.Flag(0)
    if edns is not None:
        q.use_edns(0, dns.flags.DO if do else 0, payload)
    wire = q.to_wire()
    pre = answer_cache.preparse(wire, "udp", 1232)
    outcome = parse_request(wire)
    if pre is None:
        return
    message = outcome.message
    (question,) = message.question
    lowered, ptype, pclass, pdo, pedns, limit, _, _ = pre.key
    assert lowered == question.name.canonicalize().to_wire()
    assert len(pre.label_starts) == len(question.name.labels)
    assert (ptype, pclass) == (question.rdtype, question.rdclass)
    assert pedns == (message.edns >= 0)
    assert pdo == bool(message.ednsflags & dns.flags.DO)
    assert limit == responder.size_limit(message, "udp", 1232)
    assert pre.question_end == 12 + len(question.name.to_wire()) + 4


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from([b"a", b"B", b"c", b"xn--d"]), max_size=3), min_size=1, max_size=6),
    st.lists(st.sampled_from([b"a", b"b", b"C", b"xn--D", b"e"]), max_size=5),
)
def test_zone_of_agrees_with_store_find(zones, labels):
    store = Store({dns.name.Name(z + [b""]) for z in zones})
    wire = query(dns.name.Name(labels + [b""]).to_text())
    pre = answer_cache.preparse(wire, "udp", 1232)
    found = store.find(dns.name.Name(labels + [b""]))
    expected = None if found is None else found[0]
    zone = answer_cache.zone_of(store, pre)
    assert zone == expected
    assert answer_cache.version_of(store, pre) is None  # nothing published yet
    if zone is not None:
        assert zone.to_text() == expected.to_text()  # the Store's own spelling
    marks = {}
    for configured in store.zones():
        marks[configured] = object()
        store.publish(configured, marks[configured])  # type: ignore[arg-type]  # only found again
    assert answer_cache.version_of(store, pre) is (None if expected is None else marks[expected])


# -- soa_seen: what the daemon counts as a secondary's SOA check (issue 11 item 11) ------------------


def test_soa_seen_gets_unsigned_and_verified_soa_queries_only(store):
    import time

    import dns.tsig
    import dns.tsigkeyring

    keyring = dns.tsigkeyring.from_text({"k.": ("hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=")})
    forged = dns.tsigkeyring.from_text({"k.": ("hmac-sha256", "Zm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkMTI=")})
    seen = []

    def ask_soa(wire):
        return respond(wire, transport="udp", store=store, keyring=keyring, now=time.time,
                       soa_seen=lambda qname, key: seen.append((qname, key and key.to_text())))

    def signed(ring, qtype="SOA"):
        q = dns.message.make_query("example.com.", qtype)
        q.use_tsig(ring, "k.", algorithm=dns.tsig.HMAC_SHA256)
        return q.to_wire()

    ask_soa(query("example.com.", "SOA"))  # full path, then cached
    ask_soa(query("EXAMPLE.com.", "SOA"))  # a cache hit
    assert answer_cache.CACHE_SLOT in store.current(ORIGIN).cache
    ask_soa(signed(keyring))
    apex = b"\x07example\x03com\x00"  # lowercase wire form, whatever the query's case
    assert seen == [(apex, None), (apex, None), (apex, "k.")]
    seen.clear()
    assert dns.message.from_wire(ask_soa(signed(forged)), keyring=False).rcode() == dns.rcode.NOTAUTH
    ask_soa(query("www.example.com.", "A"))
    ask_soa(signed(keyring, "A"))
    ask_soa(query("example.com.", "SOA", opcode=dns.opcode.NOTIFY))
    assert seen == []  # a forged TSIG, other types and NOTIFY are not SOA checks
