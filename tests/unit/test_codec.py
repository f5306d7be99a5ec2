"""zone.codec, the journal's binary form: an exact round trip of every kind of record a signed
zone holds, one Name object per owner, and a clear error on bytes it did not write."""

import struct
import time

import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.config import Dnssec
from hiddenprimary.dnssec import zone_signer
from hiddenprimary.zone import codec
from tests.unit.signing import make_key, make_version


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_signed_zone_round_trips_exactly(denial):
    keys = (make_key(13),)
    policy = zone_signer.SigningPolicy.from_config(Dnssec(denial=denial))
    signed, _ = zone_signer.sign_zone(zone_signer.signer_input(make_version(), keys, policy), keys, policy,
                                      int(time.time()))
    original = list(signed.iter_rdatasets())
    decoded = list(codec.decode(codec.encode(original)))
    assert len(decoded) == len(original)
    for (name_a, rds_a), (name_b, rds_b) in zip(original, decoded):
        assert name_a == name_b and name_a.labels == name_b.labels  # case kept, too
        assert rds_a == rds_b and rds_a.ttl == rds_b.ttl and rds_a.covers == rds_b.covers
    # Consecutive rdatasets of one owner share one Name object (dict lookups by identity).
    owners = {}
    for name, _ in decoded:
        owners.setdefault(name.to_text(), set()).add(id(name))
    assert all(len(ids) == 1 for ids in owners.values())


@pytest.mark.parametrize("data", [b"\x03www", b"\x03www\x00\x00\x01", b"\xc0\x0c\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00",
                                  b"\x00\x00\x01\x00\x00\x00\x00\x01\x2c\x00\x01\x00\x05abc"])
def test_bytes_it_did_not_write_are_a_value_error(data):
    with pytest.raises(ValueError):
        list(codec.decode(data))


def test_empty():
    assert list(codec.decode(codec.encode([]))) == []
    assert dns.name.root.to_wire() == b"\x00"


def test_pick_is_the_first_rdataset_of_the_type_or_else_of_the_fallback():
    """codec.pick, the answer fast path's reader, against codec.rrsets (its plain twin) for every
    owner of a signed zone (RRSIGs cover types: covers must be NONE) and every type pair."""
    keys = (make_key(13),)
    policy = zone_signer.SigningPolicy.from_config(Dnssec(denial="nsec"))
    signed, _ = zone_signer.sign_zone(zone_signer.signer_input(make_version(), keys, policy), keys, policy,
                                      int(time.time()))
    picked = 0
    for name, node in signed.nodes().items():
        data = codec.encode([(name, rds) for rds in node.values()])
        plain = [(rdtype, ttl, rdatas) for _o, rdtype, covers, ttl, rdatas in codec.rrsets(data) if covers == 0]
        for rdtype in (1, 2, 5, 6, 15, 16, 28, 46, 47, 48, 99):
            for fallback in (5, 46, 1):
                expected = next((r for r in plain if r[0] == rdtype), None) or next(
                    (r for r in plain if r[0] == fallback), None)
                assert codec.pick(data, rdtype, fallback) == expected
                picked += expected is not None
    assert picked > 50


DECODED: list = []  # examples where dnspython took the bytes (so the fast path was compared)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 65535), st.integers(0, 255), st.integers(0, 255), st.integers(0, 2**32 - 1),
       st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 65535),
       st.lists(st.binary(min_size=1, max_size=5), max_size=3), st.binary(max_size=80))
def test_rrsigs_decode_as_dnspython_decodes_them(covered, algorithm, labels, ttl, expiration, inception, tag,
                                                labels_of_signer, signature):
    """The RRSIG fast path of `decode` is dnspython's `from_wire`: equal, field by field, on the
    wire and as text (or refused when dnspython refuses the bytes)."""
    signer = b"".join(bytes((len(label),)) + label for label in labels_of_signer) + b"\0"
    rdata = struct.pack("!HBBIIIH", covered, algorithm, labels, ttl, expiration, inception, tag) + signer + signature
    owner = b"\x07example\x03com\x00"
    data = owner + struct.pack("!HHIH", dns.rdatatype.RRSIG, covered, 300, 1) + struct.pack("!H", len(rdata)) + rdata
    try:
        plain = dns.rdata.from_wire("IN", dns.rdatatype.RRSIG, rdata, 0, len(rdata))
    except dns.exception.DNSException:
        with pytest.raises(ValueError):
            list(codec.decode(data))
        return
    DECODED.append(1)
    [(_, rds)] = list(codec.decode(data))
    [fast] = list(rds)
    assert fast == plain and fast.to_wire() == plain.to_wire() and fast.to_text() == plain.to_text()
    for field in ("rdclass", "rdtype", "type_covered", "algorithm", "labels", "original_ttl", "expiration",
                  "inception", "key_tag", "signer", "signature"):
        assert getattr(fast, field) == getattr(plain, field) and type(getattr(fast, field)) is type(getattr(plain, field))


def test_the_rrsig_comparison_above_was_not_only_of_refused_bytes():
    DECODED.clear()
    test_rrsigs_decode_as_dnspython_decodes_them()
    assert len(DECODED) > 50
