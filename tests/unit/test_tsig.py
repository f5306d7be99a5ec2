"""hiddenprimary.tsig: server-side TSIG (RFC 8945) with our clock, checked against dnspython's
client side and against an independent HMAC computation written from RFC 8945 4.3."""

from __future__ import annotations

import hashlib
import hmac
import logging
import struct
import time

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.rrset
import dns.tsig
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hiddenprimary.config import parse_config
from hiddenprimary.serve.request import Request, parse_request
from hiddenprimary.transfer import tsig

N = dns.name.from_text
NOW = 1_700_000_000
ZONE = N("example.com.")
SECRET = bytes(range(32))
KEY = dns.tsig.Key(N("xfr-key."), SECRET, dns.tsig.HMAC_SHA256)
KEYRING = {KEY.name: KEY}

ALGORITHMS = {
    "hmac-sha256": (dns.tsig.HMAC_SHA256, hashlib.sha256, 32),
    "hmac-sha384": (dns.tsig.HMAC_SHA384, hashlib.sha384, 48),
    "hmac-sha512": (dns.tsig.HMAC_SHA512, hashlib.sha512, 64),
    "hmac-sha224": (dns.tsig.HMAC_SHA224, hashlib.sha224, 28),
    "hmac-sha1": (dns.tsig.HMAC_SHA1, hashlib.sha1, 20),
    "hmac-md5": (dns.tsig.HMAC_MD5, hashlib.md5, 16),
}
HASHES = {alg: h for alg, h, _ in ALGORITHMS.values()}


# ---------------------------------------------------------------------------------------------
# An independent TSIG implementation (RFC 8945 4.3.3 and 5.3.1), for crafting and checking


def rfc_mac(secret: bytes, algorithm: dns.name.Name, message: bytes, owner: dns.name.Name,
            time_signed: int, fudge: int, original_id: int, error: int = 0, other: bytes = b"",
            request_mac: bytes | None = None) -> bytes:
    """The full MAC of `message` (wire without TSIG, ARCOUNT not counting it)."""
    h = hmac.new(secret, digestmod=HASHES.get(algorithm, hashlib.sha256))
    if request_mac is not None:
        h.update(struct.pack("!H", len(request_mac)) + request_mac)
    h.update(struct.pack("!H", original_id) + message[2:])
    h.update(owner.canonicalize().to_wire() + struct.pack("!HI", dns.rdataclass.ANY, 0))
    h.update(algorithm.canonicalize().to_wire())
    h.update(time_signed.to_bytes(6, "big") + struct.pack("!H", fudge))
    h.update(struct.pack("!HH", error, len(other)) + other)
    return h.digest()


def rfc_continuation_mac(secret: bytes, algorithm: dns.name.Name, prior_mac: bytes, message: bytes,
                         time_signed: int, fudge: int, original_id: int) -> bytes:
    """RFC 8945 5.3.1: a later message of a multi-message response."""
    h = hmac.new(secret, digestmod=HASHES[algorithm])
    h.update(struct.pack("!H", len(prior_mac)) + prior_mac)
    h.update(struct.pack("!H", original_id) + message[2:])
    h.update(time_signed.to_bytes(6, "big") + struct.pack("!H", fudge))
    return h.digest()


def append_tsig(message: bytes, owner: dns.name.Name, rdata) -> bytes:
    rd = rdata.to_wire()
    (arcount,) = struct.unpack_from("!H", message, 10)
    return (message[:10] + struct.pack("!H", arcount + 1) + message[12:] + owner.to_wire()
            + struct.pack("!HHIH", dns.rdatatype.TSIG, dns.rdataclass.ANY, 0, len(rd)) + rd)


def split_tsig(wire: bytes):
    """(message without TSIG and ARCOUNT decremented, owner, rdata) of a signed message."""
    msg = dns.message.from_wire(wire, keyring=False)
    start = tsig.tsig_start(wire)
    (arcount,) = struct.unpack_from("!H", wire, 10)
    return wire[:10] + struct.pack("!H", arcount - 1) + wire[12:start], msg.tsig.name, msg.tsig[0]


def make_query(qtype="AXFR", qid=0x1234, edns=False) -> dns.message.Message:
    q = dns.message.make_query(ZONE, qtype, use_edns=0 if edns else None)
    q.id = qid
    return q


def craft(key: dns.tsig.Key = KEY, *, time_signed: int = NOW, owner: dns.name.Name | None = None,
          algorithm: dns.name.Name | None = None, secret: bytes | None = None, fudge: int = 300,
          mac_len: int | None = None, flip: bool = False, mac: bytes | None = None,
          original_id: int | None = None, error: int = 0, other: bytes = b"",
          query: dns.message.Message | None = None) -> tuple[dns.message.Message, bytes]:
    """A request signed by hand: every TSIG field can be chosen. Returns (parsed message, wire)."""
    q = query or make_query()
    base = q.to_wire()
    owner = owner or key.name
    algorithm = algorithm or key.algorithm
    original_id = q.id if original_id is None else original_id
    if mac is None:
        mac = rfc_mac(secret if secret is not None else key.secret, algorithm, base, owner,
                      time_signed, fudge, original_id, error, other)
        if mac_len is not None:
            mac = mac[:mac_len]
        if flip:
            mac = mac[:-1] + bytes([mac[-1] ^ 1])
    rdata = dns.rdtypes.ANY.TSIG.TSIG(dns.rdataclass.ANY, dns.rdatatype.TSIG, algorithm, time_signed,
                                      fudge, mac, original_id, error, other)
    wire = append_tsig(base, owner, rdata)
    outcome = parse_request(wire)
    assert isinstance(outcome, Request), outcome
    return outcome.message, wire


def client_signed(keyring, keyname, algorithm=dns.tsig.HMAC_SHA256, qtype="AXFR", fudge=300,
                  edns=False):
    """A request signed by dnspython's client side (its clock). Returns (query, parsed, wire)."""
    q = make_query(qtype, edns=edns)
    q.use_tsig(keyring, keyname, fudge=fudge, algorithm=algorithm)
    wire = q.to_wire()
    outcome = parse_request(wire)
    assert isinstance(outcome, Request)
    return q, outcome.message, wire


def time_of(message: dns.message.Message) -> int:
    return message.tsig[0].time_signed


# ---------------------------------------------------------------------------------------------
# The test helpers themselves agree with dnspython


def test_rfc_helper_matches_dnspython_signing():
    q, msg, wire = client_signed(KEYRING, KEY.name)
    base, owner, rdata = split_tsig(wire)
    assert rfc_mac(SECRET, rdata.algorithm, base, owner, rdata.time_signed, rdata.fudge,
                   rdata.original_id) == rdata.mac


# ---------------------------------------------------------------------------------------------
# keyring_from_config


def test_keyring_from_config(tmp_path):
    secret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    text = f"""
listen: ["127.0.0.1:5300"]
tsig:
  xfr-key: {{algorithm: hmac-sha256, secret: "{secret}"}}
  Old.Key.: {{algorithm: hmac-md5, secret: "{secret}"}}
  k384: {{algorithm: HMAC-SHA384, secret: "{secret}"}}
"""
    config = parse_config(text, str(tmp_path / "hp.yaml"))
    keyring = tsig.keyring_from_config(config)
    assert set(keyring) == {N("xfr-key."), N("old.key."), N("k384.")}
    assert keyring[N("XFR-KEY.")] == dns.tsig.Key(N("xfr-key."), SECRET, dns.tsig.HMAC_SHA256)
    assert keyring[N("old.key.")].algorithm == dns.tsig.HMAC_MD5
    assert keyring[N("k384.")].algorithm == dns.tsig.HMAC_SHA384
    assert all(k.name.is_absolute() for k in keyring.values())


def test_empty_keyring(tmp_path):
    config = parse_config('listen: ["127.0.0.1:5300"]\n', str(tmp_path / "hp.yaml"))
    assert tsig.keyring_from_config(config) == {}


# ---------------------------------------------------------------------------------------------
# verify_request: each verdict


def test_unsigned_request():
    q = make_query()
    wire = q.to_wire()
    v = tsig.verify_request(parse_request(wire).message, wire, KEYRING, NOW)
    assert (v.signed, v.ok, v.error, v.formerr, v.key, v.request_mac) == (False, False, 0, False, None, b"")


def test_valid_request():
    msg, wire = craft()
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert v.ok and v.signed and v.error == 0 and not v.formerr
    assert v.key is KEY and v.key_name == KEY.name
    assert v.request_mac == msg.tsig[0].mac and len(v.request_mac) == 32
    assert v.reason == "ok" and v.error_text == "NOERROR"


def test_verdict_repr_hides_the_secret():
    msg, wire = craft()
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert "secret" not in repr(v) and "AAECAw" not in repr(v)


def test_key_name_lookup_ignores_case():
    msg, wire = craft(owner=N("XFR-Key."))
    assert tsig.verify_request(msg, wire, KEYRING, NOW).ok


def test_unknown_key_is_badkey():
    other = dns.tsig.Key(N("stranger-key."), SECRET, dns.tsig.HMAC_SHA256)
    msg, wire = craft(other)
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert v.error == dns.rcode.BADKEY and v.key is None and v.key_name == other.name
    assert v.reason == "unknown key stranger-key." and not v.ok and not v.formerr


def test_algorithm_mismatch_is_badkey():
    msg, wire = craft(algorithm=dns.tsig.HMAC_SHA512)
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert v.error == dns.rcode.BADKEY and v.key is None
    assert "hmac-sha512" in v.reason


def test_unsupported_algorithm_in_keyring_is_badkey():
    odd = dns.tsig.Key(N("xfr-key."), SECRET, dns.tsig.HMAC_SHA256_128)
    msg, wire = craft(odd, mac_len=16)
    v = tsig.verify_request(msg, wire, {odd.name: odd}, NOW)
    assert v.error == dns.rcode.BADKEY and "unsupported" in v.reason


def test_wrong_secret_is_badsig():
    msg, wire = craft(secret=b"\xff" * 32)
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert v.error == dns.rcode.BADSIG and v.key is None and v.reason == "bad MAC"


def test_flipped_mac_byte_is_badsig():
    msg, wire = craft(flip=True)
    assert tsig.verify_request(msg, wire, KEYRING, NOW).error == dns.rcode.BADSIG


def test_changed_message_is_badsig():
    msg, wire = craft()
    # QTYPE AXFR (252) -> IXFR (251): the question ends just before the TSIG record.
    start = tsig.tsig_start(wire)
    changed = wire[: start - 3] + b"\xfb" + wire[start - 2:]
    assert parse_request(changed).message.question[0].rdtype == dns.rdatatype.IXFR
    assert tsig.verify_request(parse_request(changed).message, changed, KEYRING, NOW).error == dns.rcode.BADSIG


def test_changed_id_is_badsig_unless_original_id_says_so():
    msg, wire = craft()
    forwarded = b"\x99\x99" + wire[2:]
    # The MAC covers the Original ID, not the header ID (RFC 8945 4.3.1), so a new ID is fine...
    assert tsig.verify_request(parse_request(forwarded).message, forwarded, KEYRING, NOW).ok
    # ... while a different Original ID is not.
    msg, wire = craft()
    base, owner, rdata = split_tsig(wire)
    moved = append_tsig(base, owner, rdata.replace(original_id=rdata.original_id ^ 1))
    assert tsig.verify_request(parse_request(moved).message, moved, KEYRING, NOW).error == dns.rcode.BADSIG


@pytest.mark.parametrize("offset", [3600, -3600, 301, -301])
def test_time_outside_fudge_is_badtime(offset):
    msg, wire = craft(time_signed=NOW)
    v = tsig.verify_request(msg, wire, KEYRING, NOW + offset)
    assert v.error == dns.rcode.BADTIME and not v.ok
    assert v.key is KEY  # the MAC verified: the reply is signed with it
    assert f"time {abs(offset)}s off" in v.reason and "fudge 300" in v.reason


@pytest.mark.parametrize("offset", [0, 300, -300, 300.9])
def test_time_inside_fudge_is_ok(offset):
    msg, wire = craft(time_signed=NOW)
    assert tsig.verify_request(msg, wire, KEYRING, NOW + offset).ok


def test_fudge_is_the_requests():
    msg, wire = craft(fudge=0)
    assert tsig.verify_request(msg, wire, KEYRING, NOW).ok
    assert tsig.verify_request(msg, wire, KEYRING, NOW + 1).error == dns.rcode.BADTIME


def test_order_key_before_mac_before_time():
    # Unknown key, bad MAC, bad time: BADKEY.
    other = dns.tsig.Key(N("nobody."), SECRET, dns.tsig.HMAC_SHA256)
    msg, wire = craft(other, flip=True)
    assert tsig.verify_request(msg, wire, KEYRING, NOW + 3600).error == dns.rcode.BADKEY
    # Bad MAC and bad time: BADSIG (the time of an unverified message means nothing).
    msg, wire = craft(flip=True)
    assert tsig.verify_request(msg, wire, KEYRING, NOW + 3600).error == dns.rcode.BADSIG
    # Bad time and too-short truncation: BADTIME comes first (5.2.3 before 5.2.4).
    msg, wire = craft(mac_len=12)
    assert tsig.verify_request(msg, wire, KEYRING, NOW + 3600).error == dns.rcode.BADTIME


def test_request_with_error_and_other_data_fields_verifies():
    # Both are covered by the MAC; a request carrying them is still just a signed request.
    msg, wire = craft(error=dns.rcode.BADTIME, other=b"\x00\x01\x02\x03\x04\x05")
    assert tsig.verify_request(msg, wire, KEYRING, NOW).ok


def test_request_with_edns_and_compressed_key_name():
    # Key name under the zone: dnspython compresses the TSIG owner against the question.
    key = dns.tsig.Key(N("xfr.example.com."), SECRET, dns.tsig.HMAC_SHA256)
    keyring = {key.name: key}
    q, msg, wire = client_signed(keyring, key.name, edns=True)
    assert wire.count(b"\x03xfr") == 1 and wire.count(b"\x07example") == 1  # owner was compressed
    assert msg.edns == 0
    assert tsig.verify_request(msg, wire, keyring, time_of(msg)).ok


# ---------------------------------------------------------------------------------------------
# MAC size and truncation (RFC 8945 5.2.2.1 and 5.2.4)


def test_truncated_mac_at_half_the_digest_is_accepted():
    msg, wire = craft(mac_len=16)  # of 32 (hmac-sha256)
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert v.ok and v.request_mac == msg.tsig[0].mac and len(v.request_mac) == 16


def test_truncated_mac_below_10_octets_is_formerr():
    msg, wire = craft(mac_len=8)
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert v.formerr and v.error == 0 and not v.ok and v.key is None and v.error_text == "FORMERR"


def test_truncated_mac_between_10_and_half_is_badtrunc():
    msg, wire = craft(mac_len=12)
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert v.error == dns.rcode.BADTRUNC and not v.formerr and v.key is KEY
    assert "12 of 32" in v.reason


def test_wrong_truncated_mac_is_badsig():
    msg, wire = craft(mac_len=16, flip=True)
    assert tsig.verify_request(msg, wire, KEYRING, NOW).error == dns.rcode.BADSIG
    msg, wire = craft(mac_len=12, flip=True)  # MAC before truncation policy
    assert tsig.verify_request(msg, wire, KEYRING, NOW).error == dns.rcode.BADSIG


def test_mac_longer_than_the_digest_is_formerr():
    msg, wire = craft(mac=rfc_mac(SECRET, KEY.algorithm, make_query().to_wire(), KEY.name, NOW, 300,
                                  0x1234) + b"\x00")
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    assert v.formerr and "larger" in v.reason


def test_empty_mac_is_formerr():
    msg, wire = craft(mac=b"")
    assert tsig.verify_request(msg, wire, KEYRING, NOW).formerr


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_truncation_limits_per_algorithm(name):
    algorithm, _, size = ALGORITHMS[name]
    key = dns.tsig.Key(N("k."), SECRET, algorithm)
    keyring = {key.name: key}
    minimum = max(10, size // 2)
    assert tsig.minimum_mac_size(size) == minimum

    def verdict(n):
        msg, wire = craft(key, mac_len=n)
        return tsig.verify_request(msg, wire, keyring, NOW)

    assert verdict(size).ok
    assert verdict(minimum).ok
    assert verdict(9).formerr
    if minimum > 10:
        assert verdict(minimum - 1).error == dns.rcode.BADTRUNC
        assert verdict(10).error == dns.rcode.BADTRUNC


# ---------------------------------------------------------------------------------------------
# Every algorithm round-trips with dnspython's client side


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_algorithm_round_trips_with_dnspython(name):
    algorithm = ALGORITHMS[name][0]
    key = dns.tsig.Key(N("xfr-key."), SECRET, algorithm)
    keyring = {key.name: key}
    q, msg, wire = client_signed(keyring, key.name, algorithm=algorithm, qtype="SOA")
    now = time.time()
    v = tsig.verify_request(msg, wire, keyring, now)
    assert v.ok and v.key == key
    reply = dns.message.make_response(msg)
    signed = tsig.StreamSigner(v.key, v.request_mac, now, msg.id).sign_message(reply)
    checked = dns.message.from_wire(signed, keyring=keyring, request_mac=q.mac)
    assert checked.had_tsig and checked.id == q.id and checked.tsig_error == 0


# ---------------------------------------------------------------------------------------------
# Pinned dnspython 2.9.2 behaviours that made us verify by hand


def test_pin_dnspython_validate_rejects_a_valid_truncated_mac():
    msg, wire = craft(mac_len=16)
    with pytest.raises(dns.tsig.BadSignature):
        dns.tsig.validate(wire, KEY, KEY.name, msg.tsig[0], NOW, b"", tsig.tsig_start(wire))


def test_pin_dnspython_validate_checks_mac_then_time():
    # code-we-admire.md says dnspython checks time before MAC; 2.9.2 checks the MAC first (as
    # RFC 8945 wants). from_wire still uses time.time(), so we verify by hand anyway.
    msg, wire = craft(flip=True)
    with pytest.raises(dns.tsig.BadSignature):
        dns.tsig.validate(wire, KEY, KEY.name, msg.tsig[0], NOW + 3600, b"", tsig.tsig_start(wire))
    msg, wire = craft()
    with pytest.raises(dns.tsig.BadTime):
        dns.tsig.validate(wire, KEY, KEY.name, msg.tsig[0], NOW + 3600, b"", tsig.tsig_start(wire))


def test_pin_keyring_false_keeps_tsig_unverified():
    msg, wire = craft(flip=True)
    assert msg.had_tsig and msg.keyname == KEY.name and msg.tsig_ctx is None


def test_tsig_start_matches_the_record():
    msg, wire = craft()
    start = tsig.tsig_start(wire)
    assert wire[start:start + len(KEY.name.to_wire())] == KEY.name.to_wire()
    assert dns.message.from_wire(wire[:10] + b"\x00\x00" + wire[12:start], keyring=False).tsig is None


# ---------------------------------------------------------------------------------------------
# error_response, read by dnspython's client side


def _parsed(reply: bytes) -> dns.message.Message:
    return dns.message.from_wire(reply, keyring=False)


def test_badkey_reply_is_unsigned_and_client_sees_peerbadkey():
    bogus = dns.tsig.Key(N("bogus-key."), SECRET, dns.tsig.HMAC_SHA256)
    client_keyring = {bogus.name: bogus}
    q, msg, wire = client_signed(client_keyring, bogus.name)
    now = time_of(msg) + 5
    v = tsig.verify_request(msg, wire, KEYRING, now)
    assert v.error == dns.rcode.BADKEY
    reply = tsig.error_response(msg, v, now)
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.message.from_wire(reply, keyring=client_keyring, request_mac=q.mac)
    r = _parsed(reply)
    assert r.rcode() == dns.rcode.NOTAUTH and r.id == q.id and r.question == q.question
    assert r.flags & dns.flags.QR
    rd = r.tsig[0]
    assert r.tsig.name == bogus.name and rd.algorithm == dns.tsig.HMAC_SHA256
    assert rd.mac == b"" and rd.error == dns.rcode.BADKEY and rd.time_signed == int(now)
    assert rd.original_id == q.id and rd.other == b""


def test_badsig_reply_is_unsigned_and_client_sees_peerbadsignature():
    wrong = dns.tsig.Key(KEY.name, b"\x01" * 32, KEY.algorithm)
    client_keyring = {wrong.name: wrong}
    q, msg, wire = client_signed(client_keyring, wrong.name)
    now = time_of(msg)
    v = tsig.verify_request(msg, wire, KEYRING, now)
    assert v.error == dns.rcode.BADSIG
    reply = tsig.error_response(msg, v, now)
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.message.from_wire(reply, keyring=client_keyring, request_mac=q.mac)
    r = _parsed(reply)
    assert r.rcode() == dns.rcode.NOTAUTH and r.tsig[0].mac == b"" and r.tsig.name == KEY.name


@pytest.mark.parametrize("offset", [3600, -3600])
def test_badtime_reply_is_signed_with_our_time_as_other_data(offset):
    q, msg, wire = client_signed(KEYRING, KEY.name)
    now = time_of(msg) + offset + 0.75
    v = tsig.verify_request(msg, wire, KEYRING, now)
    assert v.error == dns.rcode.BADTIME
    reply = tsig.error_response(msg, v, now)
    with pytest.raises(dns.tsig.PeerBadTime):
        dns.message.from_wire(reply, keyring=KEYRING, request_mac=q.mac)
    r = _parsed(reply)
    rd = r.tsig[0]
    assert r.rcode() == dns.rcode.NOTAUTH and r.id == q.id and r.question == q.question
    assert rd.error == dns.rcode.BADTIME and len(rd.other) == 6
    assert int.from_bytes(rd.other, "big") == int(now)
    assert rd.time_signed == time_of(msg)  # the request's, so the client's window check passes
    base, owner, _ = split_tsig(reply)
    assert rd.mac == rfc_mac(SECRET, KEY.algorithm, base, owner, rd.time_signed, rd.fudge,
                             rd.original_id, rd.error, rd.other, request_mac=q.mac)


def test_badtrunc_reply_is_signed():
    msg, wire = craft(mac_len=12)
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    reply = tsig.error_response(msg, v, NOW + 1)
    with pytest.raises(dns.tsig.PeerBadTruncation):
        dns.message.from_wire(reply, keyring=KEYRING, request_mac=msg.tsig[0].mac)
    base, owner, rd = split_tsig(reply)
    assert _parsed(reply).rcode() == dns.rcode.NOTAUTH and rd.error == dns.rcode.BADTRUNC
    assert rd.time_signed == NOW + 1 and rd.other == b""
    # The first response MAC covers the request MAC as received (truncated), RFC 8945 5.2.2.1.
    assert rd.mac == rfc_mac(SECRET, KEY.algorithm, base, owner, rd.time_signed, rd.fudge,
                             rd.original_id, rd.error, request_mac=msg.tsig[0].mac)


def test_formerr_verdict_gets_plain_formerr():
    msg, wire = craft(mac_len=4)
    v = tsig.verify_request(msg, wire, KEYRING, NOW)
    r = _parsed(tsig.error_response(msg, v, NOW))
    assert r.rcode() == dns.rcode.FORMERR and r.tsig is None and r.id == msg.id


def test_error_response_refuses_a_verdict_without_error():
    msg, wire = craft()
    with pytest.raises(ValueError):
        tsig.error_response(msg, tsig.verify_request(msg, wire, KEYRING, NOW), NOW)
    q = make_query()
    with pytest.raises(ValueError):
        tsig.error_response(q, tsig.UNSIGNED, NOW)


# ---------------------------------------------------------------------------------------------
# StreamSigner: multi-message responses (RFC 8945 5.3.1)


def _records(start: int, count: int) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(ZONE, 300, "IN", "TXT", [f'"r{i}"' for i in range(start, start + count)])


def _stream_wires() -> list[bytes]:
    """Three AXFR messages as a wire cache holds them: ID 0, no TSIG."""
    soa = dns.rrset.from_text(ZONE, 300, "IN", "SOA", "ns. host. 1 7200 3600 1209600 300")
    wires = []
    for i, rrsets in enumerate([[soa, _records(0, 3)], [_records(3, 3)], [_records(6, 2), soa]]):
        m = dns.message.Message(id=0)
        m.flags = dns.flags.QR | dns.flags.AA
        if i == 0:
            m.question = [dns.rrset.RRset(ZONE, dns.rdataclass.IN, dns.rdatatype.AXFR)]
        m.answer = rrsets
        wires.append(m.to_wire())
    return wires


def _client_read(wires, keyring, request_mac):
    """What dns.query.xfr does with each message of a TCP transfer."""
    tsig_ctx = None
    out = []
    for w in wires:
        r = dns.message.from_wire(w, keyring=keyring, request_mac=request_mac, xfr=True, origin=ZONE,
                                  tsig_ctx=tsig_ctx, multi=True)
        tsig_ctx = r.tsig_ctx
        out.append(r)
    return out


def test_three_message_stream_verifies_with_dnspython():
    q, msg, wire = client_signed(KEYRING, KEY.name)
    now = time.time()
    v = tsig.verify_request(msg, wire, KEYRING, now)
    signer = tsig.StreamSigner(v.key, v.request_mac, now, msg.id)
    cached = _stream_wires()
    signed = [signer.sign(w) for w in cached]
    assert signer.messages == 3
    read = _client_read(signed, KEYRING, q.mac)
    assert [r.had_tsig for r in read] == [True, True, True]
    assert all(r.id == q.id for r in read)
    assert sum(len(rrset) for r in read for rrset in r.answer) == 1 + 3 + 3 + 2 + 1
    # ARCOUNT counts the TSIG; the rest of each cached message is carried over unchanged.
    assert all(struct.unpack_from("!H", s, 10)[0] == 1 for s in signed)
    assert all(s[2:10] == c[2:10] and s[12:len(c)] == c[12:] for s, c in zip(signed, cached))


def test_stream_macs_follow_rfc_8945_5_3_1():
    now = NOW
    request_mac = b"\x11" * 32
    signer = tsig.StreamSigner(KEY, request_mac, now, 0x4242)
    prior = None
    for i, w in enumerate(_stream_wires()):
        base, owner, rd = split_tsig(signer.sign(w, now=now + i))
        assert base[:2] == b"\x42\x42" and rd.original_id == 0x4242 and rd.time_signed == now + i
        if prior is None:
            expected = rfc_mac(SECRET, KEY.algorithm, base, owner, rd.time_signed, rd.fudge, 0x4242,
                               request_mac=request_mac)
        else:
            expected = rfc_continuation_mac(SECRET, KEY.algorithm, prior, base, rd.time_signed, rd.fudge,
                                            0x4242)
        assert rd.mac == expected
        prior = rd.mac


def test_tampered_stream_message_fails_on_the_client():
    q, msg, wire = client_signed(KEYRING, KEY.name)
    now = time.time()
    signer = tsig.StreamSigner(KEY, q.mac, now, msg.id)
    signed = [signer.sign(w) for w in _stream_wires()]
    bad = bytearray(signed[1])
    bad[tsig.tsig_start(signed[1]) - 1] ^= 0x01  # last byte of the last TXT string
    with pytest.raises(dns.tsig.BadSignature):
        _client_read([signed[0], bytes(bad), signed[2]], KEYRING, q.mac)
    with pytest.raises(dns.tsig.BadSignature):  # order matters: each MAC chains the previous one
        _client_read([signed[0], signed[2], signed[1]], KEYRING, q.mac)


def test_same_cached_messages_signed_for_two_transfers():
    cached = _stream_wires()
    a = [tsig.StreamSigner(KEY, b"\x01" * 32, NOW, 1).sign(w) for w in cached]
    b = [tsig.StreamSigner(KEY, b"\x02" * 32, NOW, 2).sign(w) for w in cached]
    assert [w[:2] for w in a] == [b"\x00\x01"] * 3 and [w[:2] for w in b] == [b"\x00\x02"] * 3
    assert all(x[2:10] == c[2:10] and x[12:len(c)] == c[12:] for x, c in zip(a, cached))
    assert all(split_tsig(x)[2].mac != split_tsig(y)[2].mac for x, y in zip(a, b))


def test_sign_message_is_sign_of_its_wire():
    reply = dns.message.make_response(make_query("SOA"))
    one = tsig.StreamSigner(KEY, b"\x05" * 32, NOW, 7).sign_message(reply)
    two = tsig.StreamSigner(KEY, b"\x05" * 32, NOW, 7).sign(reply.to_wire())
    assert one == two


def test_sign_message_refuses_a_message_with_tsig():
    q = make_query()
    q.use_tsig(KEYRING, KEY.name)
    with pytest.raises(ValueError):
        tsig.StreamSigner(KEY, b"", NOW, 1).sign_message(q)


def test_stream_signer_refuses_unsupported_algorithm():
    with pytest.raises(ValueError):
        tsig.StreamSigner(dns.tsig.Key(N("k."), SECRET, dns.tsig.GSS_TSIG), b"", NOW, 1)


def test_signed_refused_reply_to_a_truncated_request_verifies():
    # A REFUSED (or SOA-only IXFR) reply to a request with a truncated MAC, dnspython side.
    q, msg, wire = client_signed(KEYRING, KEY.name, qtype="IXFR")
    base, owner, rd = split_tsig(wire)
    short = append_tsig(base, owner, rd.replace(mac=rd.mac[:16]))
    parsed = parse_request(short).message
    now = time.time()
    v = tsig.verify_request(parsed, short, KEYRING, now)
    assert v.ok and len(v.request_mac) == 16
    reply = dns.message.make_response(parsed)
    reply.set_rcode(dns.rcode.REFUSED)
    out = tsig.StreamSigner(v.key, v.request_mac, now, parsed.id).sign_message(reply)
    r = dns.message.from_wire(out, keyring=KEYRING, request_mac=v.request_mac)
    assert r.rcode() == dns.rcode.REFUSED


# ---------------------------------------------------------------------------------------------
# Weak algorithms are logged once per key


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def tsig_log():
    handler = _Records()
    logger = logging.getLogger("hiddenprimary.tsig")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    tsig._weak_warned.clear()
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(old_level)
    tsig._weak_warned.clear()


def test_weak_algorithms_warn_once_per_key(tsig_log):
    sha1 = dns.tsig.Key(N("old-key."), SECRET, dns.tsig.HMAC_SHA1)
    md5 = dns.tsig.Key(N("older-key."), SECRET, dns.tsig.HMAC_MD5)
    keyring = {sha1.name: sha1, md5.name: md5, KEY.name: KEY}
    for _ in range(3):
        for key in (sha1, md5, KEY):
            msg, wire = craft(key)
            assert tsig.verify_request(msg, wire, keyring, NOW).ok
            tsig.StreamSigner(key, b"", NOW, 1)
    warnings = [r for r in tsig_log if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    text = " ".join(r.getMessage() for r in warnings)
    assert "tsig.weak_algorithm" in text and "key=old-key" in text and "algorithm=hmac-sha1" in text
    assert "key=older-key" in text and "algorithm=hmac-md5.sig-alg.reg.int" in text


def test_bad_mac_with_weak_key_does_not_warn(tsig_log):
    sha1 = dns.tsig.Key(N("old-key."), SECRET, dns.tsig.HMAC_SHA1)
    msg, wire = craft(sha1, flip=True)
    assert tsig.verify_request(msg, wire, {sha1.name: sha1}, NOW).error == dns.rcode.BADSIG
    assert not tsig_log


# ---------------------------------------------------------------------------------------------
# Fuzzed TSIG rdata never makes verify_request raise (BIND tests_tsig_hypothesis style)

_KNOWN = [KEY, dns.tsig.Key(N("md5-key."), SECRET, dns.tsig.HMAC_MD5),
          dns.tsig.Key(N("sha512-key."), SECRET[:7], dns.tsig.HMAC_SHA512)]
_FUZZ_KEYRING = {k.name: k for k in _KNOWN}
_ALGORITHM_NAMES = [a for a, _, _ in ALGORITHMS.values()] + [
    dns.tsig.HMAC_SHA256_128, dns.tsig.GSS_TSIG, N("hmac-sha3-256."), dns.name.root, N("HMAC-SHA256.")]

_labels = st.binary(min_size=1, max_size=12)
_names = st.lists(_labels, min_size=0, max_size=4).map(lambda labels: dns.name.Name(labels + [b""]))
_owners = st.one_of(st.sampled_from([k.name for k in _KNOWN] + [N("XFR-KEY."), N("nobody.")]), _names)
_algorithms = st.one_of(st.sampled_from(_ALGORITHM_NAMES), _names)
_times = st.one_of(st.just(NOW), st.integers(NOW - 400, NOW + 400), st.integers(0, 2**48 - 1))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(_KNOWN), owner=_owners, algorithm=_algorithms, time_signed=_times,
       fudge=st.integers(0, 65535), original_id=st.integers(0, 65535), error=st.integers(0, 4095),
       other=st.binary(max_size=16), mac_mode=st.sampled_from(["right", "random"]),
       mac_len=st.integers(0, 80), random_mac=st.binary(max_size=80), qtype=st.sampled_from(["AXFR", "IXFR", "SOA"]),
       edns=st.booleans(), now_offset=st.integers(-1000, 1000), consistent=st.booleans())
def test_fuzzed_tsig_fields_never_raise(key, owner, algorithm, time_signed, fudge, original_id, error,
                                        other, mac_mode, mac_len, random_mac, qtype, edns, now_offset,
                                        consistent):
    if consistent:  # reach the MAC, time and truncation checks often, not only BADKEY
        owner, algorithm = key.name, key.algorithm
    query = make_query(qtype, edns=edns)
    if mac_mode == "right":
        mac = rfc_mac(key.secret, algorithm, query.to_wire(), owner, time_signed, fudge, original_id,
                      error, other)[:mac_len]
    else:
        mac = random_mac
    msg, wire = craft(key, owner=owner, algorithm=algorithm, time_signed=time_signed, fudge=fudge,
                      original_id=original_id, error=error, other=other, mac=mac, query=query)
    now = NOW + now_offset
    v = tsig.verify_request(msg, wire, _FUZZ_KEYRING, now)
    event(v.error_text)
    assert v.signed and v.key_name == owner
    assert v.error in (0, *tsig.TSIG_ERRORS)
    assert not (v.formerr and v.error)
    assert v.ok == (v.error == 0 and not v.formerr)
    if v.ok:
        assert v.key is not None and v.key.name == owner
    if v.error in (dns.rcode.BADTIME, dns.rcode.BADTRUNC):
        assert v.key is not None
    if v.error in (dns.rcode.BADKEY, dns.rcode.BADSIG):
        assert v.key is None
    if v.error or v.formerr:
        reply = dns.message.from_wire(tsig.error_response(msg, v, now), keyring=False)
        assert reply.id == msg.id
        assert reply.rcode() == (dns.rcode.FORMERR if v.formerr else dns.rcode.NOTAUTH)
        if v.error:
            assert reply.tsig[0].error == v.error


@settings(max_examples=300, deadline=None)
@given(rdata=st.binary(max_size=120), owner=_owners)
def test_fuzzed_tsig_rdata_bytes_never_raise(rdata, owner):
    base = make_query().to_wire()
    wire = (base[:10] + b"\x00\x01" + base[12:] + owner.to_wire()
            + struct.pack("!HHIH", dns.rdatatype.TSIG, dns.rdataclass.ANY, 0, len(rdata)) + rdata)
    outcome = parse_request(wire)
    if not isinstance(outcome, Request):
        return
    v = tsig.verify_request(outcome.message, wire, _FUZZ_KEYRING, NOW)
    assert v.signed and v.error in (0, *tsig.TSIG_ERRORS)


def test_verify_request_survives_a_wire_that_does_not_match_the_message():
    msg, wire = craft()
    v = tsig.verify_request(msg, wire[:20], KEYRING, NOW)
    assert v.formerr and "malformed" in v.reason
