"""hiddenprimary.acl: who may transfer a zone (reliability checklist C1-C3, D1-D4)."""

from __future__ import annotations

import ipaddress

import dns.message
import dns.name
import dns.rcode
import dns.tsig
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.config import parse_config
from hiddenprimary.serve.request import parse_request
from hiddenprimary.transfer import acl, tsig
from hiddenprimary.transfer.acl import Allow, Deny

N = dns.name.from_text
XFR_SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
OTHER_SECRET = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="

CONFIG_TEXT = f"""
listen: ["127.0.0.1:5300"]
tsig:
  xfr-key: {{algorithm: hmac-sha256, secret: "{XFR_SECRET}"}}
  other-key: {{algorithm: hmac-sha256, secret: "{OTHER_SECRET}"}}
secondaries:
  keyed:       {{allow: ["127.0.0.2/32"], key: xfr-key}}
  open:        {{allow: ["127.0.0.3/32", "2001:db8::/32"]}}
  both-a:      {{allow: ["10.0.0.0/8"], key: xfr-key}}
  both-b:      {{allow: ["10.1.0.0/16"], key: other-key}}
  lan:         {{allow: ["192.168.0.0/16"]}}
  lan-keyed:   {{allow: ["192.168.1.0/24"], key: xfr-key}}
  notify-only: {{notify: ["127.0.0.9"]}}
  elsewhere:   {{allow: ["127.0.0.4/32"]}}
zones:
  example.com:
    file: example.com.zone
    secondaries: [keyed, open, both-a, both-b, lan-keyed, lan, notify-only]
  example.net:
    file: example.net.zone
    secondaries: [elsewhere]
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return parse_config(CONFIG_TEXT, str(tmp_path_factory.mktemp("acl") / "hp.yaml"))


@pytest.fixture(scope="module")
def keyring(config):
    return tsig.keyring_from_config(config)


@pytest.fixture(scope="module")
def zone(config):
    return config.zones[N("example.com.")]


def key_of(keyring, name):
    return keyring[N(name)]


def ok(key):
    return tsig.TsigVerdict(True, key, key.name, 0, False, b"\x01" * 32, "ok")


def error(code, key_name="xfr-key.", key=None):
    return tsig.TsigVerdict(True, key, N(key_name), code, False, b"\x01" * 32, "test")


def formerr(key_name="xfr-key."):
    return tsig.TsigVerdict(True, None, N(key_name), 0, True, b"\x01" * 8, "MAC size 8 below 10 octets")


UNSIGNED = tsig.UNSIGNED
BAD_VERDICTS = {
    "BADKEY": lambda kr: error(dns.rcode.BADKEY, "stranger-key."),
    "BADSIG": lambda kr: error(dns.rcode.BADSIG),
    "BADTIME": lambda kr: error(dns.rcode.BADTIME, key=key_of(kr, "xfr-key.")),
    "BADTRUNC": lambda kr: error(dns.rcode.BADTRUNC, key=key_of(kr, "xfr-key.")),
    "FORMERR": lambda kr: formerr(),
}


# ---------------------------------------------------------------------------------------------
# C1: a source outside every allow prefix is REFUSED, whatever it carries


@pytest.mark.parametrize("peer", ["127.0.0.9", "127.0.0.4", "::1", "2001:db9::1", "172.16.0.1"])
def test_stranger_unsigned_is_refused(config, zone, peer):
    d = acl.decide_transfer(config, zone, peer, UNSIGNED)
    assert d == Deny(dns.rcode.REFUSED, d.reason, None, 0)
    assert "not allowed" in d.reason


def test_stranger_with_a_valid_key_is_refused_signed(config, zone, keyring):
    key = key_of(keyring, "xfr-key.")
    d = acl.decide_transfer(config, zone, "127.0.0.9", ok(key))
    assert isinstance(d, Deny) and d.rcode == dns.rcode.REFUSED and d.tsig_error == 0
    assert d.sign_with is key  # it holds the key already; an unsigned reply would fail its check


@pytest.mark.parametrize("bad", sorted(BAD_VERDICTS))
def test_stranger_with_a_bad_tsig_is_refused_unsigned(config, zone, keyring, bad):
    """Pinned: no NOTAUTH/BADxxx to strangers, so they learn nothing about our keys."""
    d = acl.decide_transfer(config, zone, "127.0.0.9", BAD_VERDICTS[bad](keyring))
    assert d == Deny(dns.rcode.REFUSED, d.reason, None, 0)


def test_secondary_of_another_zone_is_a_stranger(config, zone):
    # `elsewhere` allows 127.0.0.4 but is listed only for example.net.
    assert acl.decide_transfer(config, zone, "127.0.0.4", UNSIGNED).rcode == dns.rcode.REFUSED
    other_zone = config.zones[N("example.net.")]
    assert acl.decide_transfer(config, other_zone, "127.0.0.4", UNSIGNED) == Allow("elsewhere", None)
    assert acl.decide_transfer(config, other_zone, "127.0.0.2", UNSIGNED).rcode == dns.rcode.REFUSED


def test_notify_only_secondary_allows_no_one(config, zone):
    assert isinstance(acl.decide_transfer(config, zone, "127.0.0.9", UNSIGNED), Deny)


@pytest.mark.parametrize("peer", ["", "not-an-ip", "127.0.0.2:53", "300.1.1.1"])
def test_unparsable_peer_is_refused(config, zone, keyring, peer):
    d = acl.decide_transfer(config, zone, peer, ok(key_of(keyring, "xfr-key.")))
    assert isinstance(d, Deny) and d.rcode == dns.rcode.REFUSED


# ---------------------------------------------------------------------------------------------
# D1-D4: a TSIG error from an allowed source is NOTAUTH with that error


@pytest.mark.parametrize("peer", ["127.0.0.2", "127.0.0.3"])  # keyed and keyless secondaries
@pytest.mark.parametrize("code,signed", [
    (dns.rcode.BADKEY, False), (dns.rcode.BADSIG, False), (dns.rcode.BADTIME, True), (dns.rcode.BADTRUNC, True),
])
def test_tsig_error_from_allowed_source_is_notauth(config, zone, keyring, peer, code, signed):
    verdict = BAD_VERDICTS[dns.rcode.to_text(code, tsig=True)](keyring)
    d = acl.decide_transfer(config, zone, peer, verdict)
    assert isinstance(d, Deny)
    assert (d.rcode, d.tsig_error) == (dns.rcode.NOTAUTH, code)
    assert (d.sign_with is not None) == signed
    assert dns.rcode.to_text(code, tsig=True) in d.reason


def test_malformed_tsig_from_allowed_source_is_formerr(config, zone):
    d = acl.decide_transfer(config, zone, "127.0.0.2", formerr())
    assert d == Deny(dns.rcode.FORMERR, d.reason, None, 0)


# ---------------------------------------------------------------------------------------------
# C2/C3 and the allowed cases


def test_keyed_secondary_unsigned_is_refused(config, zone):
    d = acl.decide_transfer(config, zone, "127.0.0.2", UNSIGNED)
    assert d == Deny(dns.rcode.REFUSED, d.reason, None, 0)
    assert "unsigned" in d.reason and "xfr-key" in d.reason


def test_keyed_secondary_with_its_key_is_allowed(config, zone, keyring):
    key = key_of(keyring, "xfr-key.")
    assert acl.decide_transfer(config, zone, "127.0.0.2", ok(key)) == Allow("keyed", key)


def test_keyed_secondary_with_another_known_key_is_refused_signed_with_it(config, zone, keyring):
    other = key_of(keyring, "other-key.")
    d = acl.decide_transfer(config, zone, "127.0.0.2", ok(other))
    assert isinstance(d, Deny) and d.rcode == dns.rcode.REFUSED and d.tsig_error == 0
    assert d.sign_with is other
    assert "other-key" in d.reason and "xfr-key" in d.reason


def test_stale_key_with_the_right_name_does_not_satisfy(config, zone):
    # A keyring older than the config (secret changed): the name alone is not enough.
    stale = dns.tsig.Key(N("xfr-key."), b"\x00" * 32, dns.tsig.HMAC_SHA256)
    d = acl.decide_transfer(config, zone, "127.0.0.2", ok(stale))
    assert isinstance(d, Deny) and d.rcode == dns.rcode.REFUSED


@pytest.mark.parametrize("peer", ["127.0.0.3", "2001:db8::53", "::ffff:127.0.0.3"])
def test_keyless_secondary_is_allowed_by_address(config, zone, peer):
    assert acl.decide_transfer(config, zone, peer, UNSIGNED) == Allow("open", None)


@pytest.mark.parametrize("name", ["xfr-key.", "other-key."])
def test_keyless_secondary_signed_with_a_known_key_is_allowed_and_signed(config, zone, keyring, name):
    key = key_of(keyring, name)
    assert acl.decide_transfer(config, zone, "127.0.0.3", ok(key)) == Allow("open", key)


def test_ipv4_mapped_peer_matches_ipv4_prefix(config, zone, keyring):
    key = key_of(keyring, "xfr-key.")
    assert acl.decide_transfer(config, zone, "::ffff:127.0.0.2", ok(key)) == Allow("keyed", key)


# ---------------------------------------------------------------------------------------------
# Several secondaries match: allowed if any one is satisfied


def test_overlapping_keyed_secondaries(config, zone, keyring):
    xfr, other = key_of(keyring, "xfr-key."), key_of(keyring, "other-key.")
    # 10.1.2.3 is in both-a (10/8, xfr-key) and both-b (10.1/16, other-key).
    assert acl.decide_transfer(config, zone, "10.1.2.3", ok(xfr)) == Allow("both-a", xfr)
    assert acl.decide_transfer(config, zone, "10.1.2.3", ok(other)) == Allow("both-b", other)
    d = acl.decide_transfer(config, zone, "10.1.2.3", UNSIGNED)
    assert isinstance(d, Deny) and d.rcode == dns.rcode.REFUSED and d.sign_with is None
    assert "both-a,both-b" in d.reason and "other-key,xfr-key" in d.reason
    # 10.2.0.1 is only in both-a.
    d = acl.decide_transfer(config, zone, "10.2.0.1", ok(other))
    assert isinstance(d, Deny) and d.rcode == dns.rcode.REFUSED and d.sign_with is other


def test_keyed_and_keyless_overlap_prefers_the_keyed_match(config, zone, keyring):
    xfr, other = key_of(keyring, "xfr-key."), key_of(keyring, "other-key.")
    # 192.168.1.5 is in lan-keyed (xfr-key) and lan (no key).
    assert acl.decide_transfer(config, zone, "192.168.1.5", ok(xfr)) == Allow("lan-keyed", xfr)
    assert acl.decide_transfer(config, zone, "192.168.1.5", UNSIGNED) == Allow("lan", None)
    assert acl.decide_transfer(config, zone, "192.168.1.5", ok(other)) == Allow("lan", other)
    # A TSIG error is NOTAUTH even though `lan` alone would not need a key.
    d = acl.decide_transfer(config, zone, "192.168.1.5", error(dns.rcode.BADSIG))
    assert isinstance(d, Deny) and d.tsig_error == dns.rcode.BADSIG


def test_allow_and_deny_reprs_hide_secrets(config, zone, keyring):
    key = key_of(keyring, "xfr-key.")
    allowed = acl.decide_transfer(config, zone, "127.0.0.2", ok(key))
    denied = acl.decide_transfer(config, zone, "127.0.0.2", ok(key_of(keyring, "other-key.")))
    assert XFR_SECRET not in repr(allowed) and OTHER_SECRET not in repr(denied)


# ---------------------------------------------------------------------------------------------
# End to end: dnspython-signed requests through verify_request, decide_transfer, error_response


def _signed_request(key_name, secret_b64, now_offset=0):
    key = dns.tsig.Key(N(key_name), secret_b64, dns.tsig.HMAC_SHA256)
    q = dns.message.make_query("example.com.", "AXFR")
    q.use_tsig({key.name: key}, key.name)
    wire = q.to_wire()
    msg = parse_request(wire).message
    return q, key, msg, wire, msg.tsig[0].time_signed + now_offset


def test_end_to_end_allowed(config, zone, keyring):
    q, key, msg, wire, now = _signed_request("xfr-key.", XFR_SECRET)
    verdict = tsig.verify_request(msg, wire, keyring, now)
    d = acl.decide_transfer(config, zone, "127.0.0.2", verdict)
    assert d == Allow("keyed", key)


def test_end_to_end_badtime_from_allowed_source(config, zone, keyring):
    q, key, msg, wire, now = _signed_request("xfr-key.", XFR_SECRET, now_offset=3600)
    verdict = tsig.verify_request(msg, wire, keyring, now)
    d = acl.decide_transfer(config, zone, "127.0.0.2", verdict)
    assert isinstance(d, Deny) and d.tsig_error == dns.rcode.BADTIME
    with pytest.raises(dns.tsig.PeerBadTime):
        dns.message.from_wire(tsig.error_response(msg, verdict, now), keyring={key.name: key},
                              request_mac=q.mac)


def test_end_to_end_wrong_secret_from_stranger_gets_plain_refused(config, zone, keyring):
    q, key, msg, wire, now = _signed_request("xfr-key.", OTHER_SECRET)
    verdict = tsig.verify_request(msg, wire, keyring, now)
    assert verdict.error == dns.rcode.BADSIG
    d = acl.decide_transfer(config, zone, "198.51.100.7", verdict)
    assert d == Deny(dns.rcode.REFUSED, d.reason, None, 0)


# ---------------------------------------------------------------------------------------------
# Property: an Allow always has a reason in the config


_peers = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.sampled_from(["127.0.0.2", "127.0.0.3", "10.1.2.3", "10.2.0.1", "192.168.1.5", "192.168.7.7",
                     "127.0.0.4", "::ffff:10.1.0.1", "2001:db8::1"]),
)


@settings(max_examples=300, deadline=None)
@given(peer=_peers, which=st.sampled_from(["unsigned", "xfr-key.", "other-key.", "BADKEY", "BADSIG",
                                           "BADTIME", "BADTRUNC", "FORMERR"]))
def test_decisions_follow_the_rules(config, zone, keyring, peer, which):
    if which == "unsigned":
        verdict = UNSIGNED
    elif which in BAD_VERDICTS:
        verdict = BAD_VERDICTS[which](keyring)
    else:
        verdict = ok(key_of(keyring, which))
    d = acl.decide_transfer(config, zone, peer, verdict)
    addrs = acl.peer_addresses(peer)
    matching = [config.secondaries[n] for n in zone.secondaries
                if any(a in net for net in config.secondaries[n].allow for a in addrs if a.version == net.version)]
    if not matching:
        assert isinstance(d, Deny) and d.rcode == dns.rcode.REFUSED and d.tsig_error == 0
        assert d.sign_with is (verdict.key if verdict.ok else None)
        return
    if isinstance(d, Allow):
        sec = config.secondaries[d.secondary]
        assert sec in matching and verdict.error == 0 and not verdict.formerr
        assert d.key is verdict.key
        if sec.key is not None:
            assert verdict.ok and verdict.key.name == N(sec.key)
    elif verdict.error:
        assert (d.rcode, d.tsig_error) == (dns.rcode.NOTAUTH, verdict.error)
    elif verdict.formerr:
        assert d.rcode == dns.rcode.FORMERR
    else:
        assert d.rcode == dns.rcode.REFUSED
        assert all(sec.key is not None for sec in matching)
        assert d.sign_with is verdict.key


def test_peer_addresses():
    assert acl.peer_addresses("::ffff:192.0.2.1") == (
        ipaddress.ip_address("::ffff:192.0.2.1"), ipaddress.ip_address("192.0.2.1"))
    assert acl.peer_addresses("192.0.2.1") == (ipaddress.ip_address("192.0.2.1"),)
    assert acl.peer_addresses("nonsense") == ()


# ---------------------------------------------------------------------------------------------
# Which sources TCP keeps reserved slots for (B6): any secondary's allow prefix, in any zone


@pytest.mark.parametrize("peer,expected", [
    ("127.0.0.2", True), ("127.0.0.4", True), ("10.200.1.1", True), ("2001:db8::53", True),
    ("::ffff:127.0.0.3", True), ("127.0.0.9", False), ("2001:db9::1", False), ("not-an-ip", False),
])
def test_secondary_sources_for_reserved_tcp_slots(config, peer, expected):
    assert acl.in_prefixes(peer, acl.secondary_prefixes(config)) is expected
