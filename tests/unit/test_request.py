"""parse_request: malformed packets (reliability checklist section A), as a raw-wire table in the
style of BIND's formerr system test (each row's expected reply compared byte for byte)."""

from __future__ import annotations

import struct

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.serve.request import (
    PARSE_ERRORS,
    Drop,
    ParseAction,
    Reply,
    Request,
    parse_action,
    parse_request,
)

QR = int(dns.flags.QR)
RD = int(dns.flags.RD)
CD = int(dns.flags.CD)


# -- wire builders (after BIND bin/tests/system/formerr/tests_formerr.py) ---------------------------


def u16(value: int) -> bytes:
    return int(value).to_bytes(2, "big")


def u32(value: int) -> bytes:
    return int(value).to_bytes(4, "big")


def name(text: str) -> bytes:
    return dns.name.from_text(text).to_wire()


ROOT = b"\x00"


def header(msg_id=0, flags=0, opcode=dns.opcode.QUERY, rcode=0, qd=0, an=0, ns=0, ar=0) -> bytes:
    return struct.pack("!HHHHHH", msg_id, flags | dns.opcode.to_flags(opcode) | rcode, qd, an, ns, ar)


def reply_header(msg_id=0, opcode=dns.opcode.QUERY, rcode=dns.rcode.FORMERR, qd=0, flags=0) -> bytes:
    return header(msg_id, QR | flags, opcode, rcode, qd)


def question(qname: bytes, qtype=dns.rdatatype.A, qclass=dns.rdataclass.IN) -> bytes:
    return qname + u16(qtype) + u16(qclass)


def rr(owner: bytes, rrtype, rrclass, *, ttl=1, rdata=b"") -> bytes:
    return owner + u16(rrtype) + u16(rrclass) + u32(ttl) + u16(len(rdata)) + rdata


def oversized_name() -> bytes:
    return b"".join([bytes([15]) + b"A" * 15 for _ in range(15)] + [bytes([14]) + b"A" * 14 + ROOT])


def opt_rr(owner: bytes = ROOT, payload=1232, version=0, flags=0, options=b"") -> bytes:
    return rr(owner, dns.rdatatype.OPT, payload, ttl=(version << 16) | flags, rdata=options)


def tsig_rr(rdclass=dns.rdataclass.ANY) -> bytes:
    rdata = dns.rdtypes.ANY.TSIG.TSIG(
        rdclass, dns.rdatatype.TSIG, dns.name.root, 0x010203040506, 0x0102, b"\x00", 0, 0, b""
    ).to_wire()
    return rr(ROOT, dns.rdatatype.TSIG, rdclass, rdata=rdata)


def a_rr(owner: bytes = ROOT) -> bytes:
    return rr(owner, dns.rdatatype.A, dns.rdataclass.IN, rdata=b"\x00\x00\x00\x00")


Q = question(name("AAAAAAAAAAAAAA."))  # a well-formed question, echoed when it parsed

# (id, query wire, expected reply wire)
FORMERR_TABLE = [
    ("nametoolong", header(qd=1) + question(oversized_name()), reply_header()),
    (
        "twoquestionnames",
        header(qd=2) + Q + question(name("AAAAAAAAAAAAAA.") + name("AAAAAAAAAAAAAB.")),
        reply_header(),
    ),
    ("twoquestiontypes", header(qd=2) + Q + question(name("AAAAAAAAAAAAAA."), dns.rdatatype.NS), reply_header()),
    ("dupquestion", header(qd=2) + Q + Q, reply_header()),
    ("noquestions", header(), reply_header()),
    ("shortquestion", header(qd=1) + ROOT + u16(dns.rdatatype.A), reply_header()),
    ("shortrecord", header(ar=1) + question(ROOT), reply_header()),
    ("shortrecord-with-question", header(qd=1, ar=1) + Q + question(ROOT), reply_header(qd=1) + Q),
    ("countsbeyondcontent", header(qd=1, an=65535) + Q, reply_header(qd=1) + Q),
    ("badlabeltype-0x40", header(qd=1) + b"\x41" + b"a" * 65 + b"\x00" + u16(1) + u16(1), reply_header()),
    ("badlabeltype-0x80", header(qd=1) + b"\x81a\x00" + u16(1) + u16(1), reply_header()),
    ("selfpointer", header(qd=1) + b"\xc0\x0c" + u16(1) + u16(1), reply_header()),
    ("forwardpointer", header(qd=1) + b"\xc0\x12" + u16(1) + u16(1) + b"\x01a\x00", reply_header()),
    ("pointerintoself", header(qd=1) + b"\x01a\xc0\x0c" + u16(1) + u16(1), reply_header()),
    ("pointerloop-in-answer", header(qd=1, an=1) + Q + rr(b"\xc0\x22", 1, 1), reply_header(qd=1) + Q),
    ("trailingjunk", header(qd=1) + Q + b"x", reply_header(qd=1) + Q),
    ("twoopt", header(qd=1, ar=2) + Q + opt_rr() + opt_rr(), reply_header(qd=1) + Q),
    ("optwrongname", header(ar=1) + opt_rr(owner=name("A.")), reply_header()),
    ("optwrongname-with-question", header(qd=1, ar=1) + Q + opt_rr(owner=name("A.")), reply_header(qd=1) + Q),
    ("optinanswer", header(qd=1, an=1) + Q + opt_rr(), reply_header(qd=1) + Q),
    ("tsigwrongclass", header(ar=1) + tsig_rr(dns.rdataclass.IN), reply_header()),
    ("tsignotlast", header(msg_id=67, ar=2) + tsig_rr() + a_rr(), reply_header(msg_id=67)),
    (
        "tsignotlast-with-question",
        header(msg_id=67, qd=1, ar=2) + Q + tsig_rr() + a_rr(),
        reply_header(msg_id=67, qd=1) + Q,
    ),
    (
        "tsigwrongclass-with-question",
        header(msg_id=68, qd=1, ar=1) + Q + tsig_rr(dns.rdataclass.IN),
        reply_header(msg_id=68, qd=1) + Q,
    ),
    (
        "malformeddeltype",  # BIND: UPDATE with non-empty rdata for a class-ANY delete
        header(opcode=dns.opcode.UPDATE, ns=1) + rr(ROOT, dns.rdatatype.A, dns.rdataclass.ANY, ttl=0, rdata=b"\x00"),
        reply_header(opcode=dns.opcode.UPDATE),
    ),
    ("badrdata", header(qd=1, an=1) + Q + rr(ROOT, dns.rdatatype.A, 1, rdata=b"\x00\x00\x00"), reply_header(qd=1) + Q),
    ("rd-and-cd-echoed", header(msg_id=7, flags=RD | CD, qd=2) + Q + Q, reply_header(msg_id=7, flags=RD | CD)),
    ("notify-noquestion", header(msg_id=9, opcode=dns.opcode.NOTIFY), reply_header(msg_id=9, opcode=dns.opcode.NOTIFY)),
]


@pytest.mark.parametrize("query_wire,expected_wire", [pytest.param(q, e, id=i) for i, q, e in FORMERR_TABLE])
def test_formerr_table(query_wire: bytes, expected_wire: bytes):
    outcome = parse_request(query_wire)
    assert isinstance(outcome, Reply), outcome
    assert outcome.wire == expected_wire
    assert outcome.reason.startswith("formerr")


@pytest.mark.parametrize("size", range(12))
def test_short_header_is_dropped(size):
    # Checklist A1 (Knot security/dnsheader): < 12 octets cannot be answered.
    assert parse_request(b"\x00" * size) == Drop("short-header")
    assert isinstance(parse_request(b"\xff" * size), Drop)


def test_header_only_zero_bytes_is_formerr():
    assert parse_request(b"\x00" * 12) == Reply(reply_header(), "formerr:qdcount=0")


@pytest.mark.parametrize("body", [Q, b"", b"garbage"])
def test_response_as_query_is_dropped(body):
    # Checklist A2: QR=1 is never answered (reflection loops), whatever follows.
    assert parse_request(header(flags=QR, qd=1) + body) == Drop("qr-set")
    assert isinstance(parse_request(header(flags=QR, opcode=6)), Drop)


@pytest.mark.parametrize("opcode", [1, 2, 3, 6, 7, 15])
def test_unknown_opcode_is_notimp(opcode):
    # RFC 1035 4.1.1; checklist A10. The body is not looked at (its format is unknown).
    query = header(msg_id=0x1234, flags=RD, opcode=opcode, qd=1) + Q
    assert parse_request(query) == Reply(
        reply_header(msg_id=0x1234, opcode=opcode, rcode=dns.rcode.NOTIMP, flags=RD), f"notimp:opcode={opcode}"
    )


def test_edns_version_1_is_badvers():
    # RFC 6891 6.1.3: BADVERS, with our OPT at version 0.
    query = header(msg_id=5, flags=RD, qd=1, ar=1) + Q + opt_rr(payload=4096, version=1, flags=0x8000)
    outcome = parse_request(query, edns_payload=1400)
    assert isinstance(outcome, Reply) and outcome.reason == "badvers:1"
    reply = dns.message.from_wire(outcome.wire)
    assert reply.id == 5
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.RD
    assert reply.edns == 0 and reply.payload == 1400
    assert reply.ednsflags & dns.flags.DO
    assert [q.to_text() for q in reply.question] == ["AAAAAAAAAAAAAA. IN A"]
    assert reply.answer == reply.authority == reply.additional == []
    # Header rcode 0, extended rcode 1 in the OPT TTL (16 = 1 << 4 | 0).
    assert outcome.wire[3] & 0xF == 0


def test_well_formed_query_is_a_request():
    query = dns.message.make_query("www.example.com.", "A", use_edns=0, want_dnssec=True)
    wire = query.to_wire()
    outcome = parse_request(wire)
    assert isinstance(outcome, Request)
    assert outcome.wire == wire
    assert outcome.message.question == query.question
    assert outcome.message.edns == 0 and outcome.opcode == dns.opcode.QUERY


def test_tsig_is_kept_not_verified():
    import dns.tsigkeyring

    keyring = dns.tsigkeyring.from_text({"k.": "c2VjcmV0c2VjcmV0c2VjcmV0"})
    query = dns.message.make_query("example.com.", "AXFR")
    query.use_tsig(keyring, "k.")
    wire = query.to_wire()
    outcome = parse_request(wire)
    assert isinstance(outcome, Request)
    assert outcome.message.had_tsig and outcome.message.tsig is not None
    # A wrong MAC still parses: verifying is tsig.py's job, with our clock.
    bad = wire[:-10] + bytes(10)
    assert isinstance(parse_request(bad), (Request, Reply))


def test_notify_and_update_parse():
    for opcode in (dns.opcode.NOTIFY, dns.opcode.UPDATE):
        query = dns.message.make_query("example.com.", "SOA")
        query.set_opcode(opcode)
        outcome = parse_request(query.to_wire())
        assert isinstance(outcome, Request) and outcome.opcode == opcode


def test_parse_error_table():
    assert parse_action(dns.message.ShortHeader()) is ParseAction.DROP
    for exc in (
        dns.name.BadPointer(),
        dns.name.BadLabelType(),
        dns.name.NameTooLong(),
        dns.message.TrailingJunk(),
        dns.exception.FormError(),
        dns.message.BadEDNS(),
        dns.message.BadTSIG(),
        ValueError(),
    ):
        assert parse_action(exc) is ParseAction.FORMERR
    assert PARSE_ERRORS[-1] == (Exception, ParseAction.FORMERR)


# -- hypothesis: any bytes give exactly one of the three outcomes (checklist A11) ------------------


def _check(wire: bytes) -> None:
    outcome = parse_request(wire)
    assert isinstance(outcome, (Request, Reply, Drop))
    if isinstance(outcome, Reply):
        assert len(outcome.wire) >= 12
        assert outcome.wire[:2] == wire[:2]  # the ID is echoed
        assert outcome.wire[2] & 0x80  # QR
        reply = dns.message.from_wire(outcome.wire)  # and it is itself well formed
        assert reply.flags & dns.flags.QR
    if len(wire) < 12 or wire[2] & 0x80:
        assert isinstance(outcome, Drop)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(wire):
    _check(wire)


VALID = [
    dns.message.make_query("www.example.com.", "A").to_wire(),
    dns.message.make_query("example.com.", "MX", use_edns=0, want_dnssec=True).to_wire(),
    header(qd=1, ar=2) + Q + a_rr() + tsig_rr(),
]


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
    st.integers(0, 80),
)
def test_mutated_queries(base, flips, cut):
    wire = bytearray(base)
    for pos, value in flips:
        if pos < len(wire):
            wire[pos] = value
    wire = bytes(wire[: len(wire) - cut]) if cut < len(wire) else bytes(wire)
    _check(wire)


@settings(max_examples=1000, deadline=None)
@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4),
    st.binary(max_size=300),
)
def test_random_header_and_body(msg_id, flags, counts, body):
    _check(struct.pack("!HH4H", msg_id, flags, *counts) + body)
