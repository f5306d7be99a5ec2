"""zone.wire_version.WireVersion against its plain twin ZoneVersion: the same zone built both
ways answers every read alike (hypothesis over random zones and names), the full query path
renders the same bytes from both, and the compact forms (journal snapshot, evolve, apply)
round-trip exactly."""

from __future__ import annotations

import time

import dns.message
import dns.name
import dns.rdataset
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.config import Dnssec
from hiddenprimary.dnssec import zone_signer
from hiddenprimary.serve.query import answer
from hiddenprimary.zone import codec
from hiddenprimary.zone.diff import apply, diff
from hiddenprimary.zone.version import ZoneVersion
from hiddenprimary.zone.wire_version import WireVersion, wire_key
from tests.unit.signing import make_key
from tests.zones import DENIAL_ZONE, QUERY_ZONE, version_from_text

ORIGIN = dns.name.from_text("example.com.")
T = dns.rdatatype

# Owners below the apex: deep names (empty non-terminals between), a cut with glue and data
# below it, wildcards, mixed case, an escaped dot and a zero octet inside a label.
LABELS = ["www", "WWW.Deep.a", "a.b.c", "b.c", "sub", "ns.sub", "x.y.sub", "*.w", "a.*.w", "z",
          "host\\.dot", "zer\\000o", "nsec3hash0", "c", "zer", "zera", "a.zer"]
RDATA = {
    "A": ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
    "TXT": ['"a"', '"b c"', '"\\000x"'],
    "NS": ["ns.sub.example.com.", "ns.example.net."],
    "MX": ["10 www.example.com.", "20 mail.example.net."],
    "CNAME": ["www.example.com."],
    "DS": ["12345 13 2 " + "ab" * 32],
}


def _rdataset(rdtype: str, ttl: int, texts) -> dns.rdataset.Rdataset:
    return dns.rdataset.from_text("IN", rdtype, ttl, *texts)


def _apex(serial: int = 1) -> dict:
    return {(T.SOA, 0): _rdataset("SOA", 3600, [f"ns1.example.com. h.example.com. {serial} 1 2 3 4"]),
            (T.NS, 0): _rdataset("NS", 3600, ["ns1.example.com."])}


node_sets = st.dictionaries(
    st.sampled_from(sorted(RDATA)),
    st.tuples(st.sampled_from([60, 300]), st.integers(1, 3)),
    min_size=1, max_size=3,
).map(lambda d: {(T.from_text(t), 0): _rdataset(t, ttl, RDATA[t][:n]) for t, (ttl, n) in d.items()})
zones = st.dictionaries(st.sampled_from(LABELS), node_sets, max_size=10).map(
    lambda d: {ORIGIN: _apex(), **{dns.name.from_text(label, ORIGIN): node for label, node in d.items()}})
probes = st.lists(st.sampled_from(LABELS + ["nothere", "q.www", "a.x.y.sub", "deep.a", "b.C", "@", "e.*.w"]),
                  min_size=1, max_size=6)


def _twins(nodes: dict) -> tuple[ZoneVersion, WireVersion]:
    return ZoneVersion(ORIGIN, nodes), WireVersion.from_nodes(ORIGIN, nodes)


def _probe(text: str) -> dns.name.Name:
    return ORIGIN if text == "@" else dns.name.from_text(text, ORIGIN)


def _same_pairs(a, b, exact: bool = True) -> None:
    """The same (owner, rdataset) pairs; `exact`: in the same order and owner spelling too (not
    so after an evolve, whose owners keep their first spelling and rdatasets their own order)."""
    a, b = list(a), list(b)
    if not exact:
        a, b = (sorted(pairs, key=lambda p: (p[0], p[1].rdtype, p[1].covers)) for pairs in (a, b))
    assert [n for n, _ in a] == [n for n, _ in b]
    if exact:
        assert [n.labels for n, _ in a] == [n.labels for n, _ in b]
    for (_, ra), (_, rb) in zip(a, b):
        assert (ra.rdtype, ra.covers, ra.ttl) == (rb.rdtype, rb.covers, rb.ttl) and ra == rb


def _same_version(plain, wire, names, exact: bool = True) -> None:
    assert wire.serial == plain.serial and wire.rr_count == plain.rr_count
    assert wire.names() == plain.names()
    _same_pairs(plain.iter_rdatasets(), wire.iter_rdatasets(), exact)
    for name in names:
        for variant in (name, dns.name.from_text(name.to_text().upper())):
            assert dict(wire.node(variant)) == dict(plain.node(variant))
            assert wire.get(variant, T.A) == plain.get(variant, T.A)
            assert wire.name_exists(variant) == plain.name_exists(variant)
            assert wire.delegation_above(variant) == plain.delegation_above(variant)
            assert wire.closest_encloser(variant) == plain.closest_encloser(variant)
            for rdtype in (T.A, T.NS, T.TXT, T.NSEC):
                assert wire.predecessor(variant, rdtype) == plain.predecessor(variant, rdtype)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones, probes)
def test_every_read_matches_the_plain_twin(nodes, probe_texts):
    plain, wire = _twins(nodes)
    names = [_probe(t) for t in probe_texts] + list(nodes)
    _same_version(plain, wire, names)
    assert dict(wire.nodes().items()) == dict(plain.nodes().items())
    assert set(wire.nodes()) == set(plain.nodes()) and len(wire.nodes()) == len(plain.nodes())
    for name in names:
        assert (name in wire.nodes()) == (name in plain.nodes())


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones, zones, probes)
def test_evolve_apply_and_the_snapshot_match_the_plain_twin(a_nodes, b_nodes, probe_texts):
    b_nodes[ORIGIN] = _apex(2)
    plain_a, wire_a = _twins(a_nodes)
    plain_b = ZoneVersion(ORIGIN, b_nodes)
    names = [_probe(t) for t in probe_texts] + list(a_nodes) + list(b_nodes)
    # evolve: every owner of either zone given b's node (empty: removed)
    changes = {name: b_nodes.get(name, {}) for name in set(a_nodes) | set(b_nodes)}
    _same_version(plain_a.evolve(changes), wire_a.evolve(changes), names, exact=False)
    _same_version(plain_b, wire_a.evolve(changes), names, exact=False)
    # a diff with one side compact (a reload: served compact, loaded plain) is the plain one
    expected = _diff_text(diff(plain_a, plain_b))
    assert _diff_text(diff(wire_a, plain_b)) == expected
    assert _diff_text(diff(plain_a, WireVersion.from_nodes(ORIGIN, b_nodes))) == expected
    # both compact (a signed reload): compared rdataset by rdataset as bytes, the same diff, in
    # the same order
    assert diff(wire_a, WireVersion.from_nodes(ORIGIN, b_nodes)) == diff(plain_a, plain_b)
    # a journal diff applied to the compact version
    _same_version(plain_b, apply(diff(plain_a, plain_b), wire_a), names, exact=False)
    # the snapshot: written by either twin, read back compact
    for written in (plain_b.to_codec(), WireVersion.from_nodes(ORIGIN, b_nodes).to_codec()):
        _same_version(plain_b, WireVersion.from_codec(ORIGIN, written), names)
    # the snapshot cut by its index (a restart) is the walked one, shard for shard
    for version in (WireVersion.from_nodes(ORIGIN, b_nodes), wire_a.evolve(changes)):
        content, index = version.to_snapshot()
        walked, cut = WireVersion.from_codec(ORIGIN, content), WireVersion.from_snapshot(ORIGIN, content, index)
        assert cut._packed.maps == walked._packed.maps
        # the counts of owners below each name: evolved step by step, cut from the index, and
        # worked out afresh from the owners all agree
        assert dict(version._below.items()) == dict(cut._below.items()) == dict(walked._below.items())
        assert (cut._cuts, cut.rr_count) == (walked._cuts, walked.rr_count) == (version._cuts, version.rr_count)
        _same_version(plain_b, cut, names, exact=False)
    _same_version(plain_b, wire_a.evolve(changes).with_serial(2), names, exact=False)
    _same_version(plain_b.with_serial(9), WireVersion.from_nodes(ORIGIN, b_nodes).with_serial(9), names)


def _diff_text(d) -> tuple:
    def side(changes):
        return sorted((name.to_text().lower(), rds.to_text()) for name, rds in changes)
    return d.soa_from.to_text(), d.soa_to.to_text(), side(d.removed), side(d.added)


def _signed(text: str, origin: str, denial: str) -> ZoneVersion:
    keys = (make_key(13, zone=dns.name.from_text(origin)),)
    policy = zone_signer.SigningPolicy.from_config(Dnssec(denial=denial))
    unsigned = version_from_text(text, origin)
    return zone_signer.sign_zone(zone_signer.signer_input(unsigned, keys, policy), keys, policy,
                                 int(time.time()))[0]


ANSWER_ZONES = {
    "query": lambda: version_from_text(QUERY_ZONE),
    "denial-nsec": lambda: _signed(DENIAL_ZONE, "example.", "nsec"),
    "denial-nsec3": lambda: _signed(DENIAL_ZONE, "example.", "nsec3"),
}
QNAMES = ["@", "www", "WwW", "alias", "chain1", "loop1", "dangling", "tocut", "nothere", "x.wild", "exists.wild",
          "a.ent2.wild", "b.ent", "ent", "a.b.ent", "q.cn", "z.cnloop", "x.e", "a.x.entwild", "sub", "deep.sub",
          "ns.sub", "x.insecure", "secure", "x.secure", "ins.ent2", "ent2", "a.*.ew", "b.ew", "q.wild", "ns1",
          "_sip._tcp"]
QTYPES = ["A", "AAAA", "TXT", "MX", "NS", "DS", "SOA", "CNAME", "ANY", "NSEC", "NSEC3", "RRSIG", "DNSKEY", "SRV"]


@pytest.mark.parametrize("zone_name", sorted(ANSWER_ZONES))
def test_the_full_query_path_renders_the_same_bytes_from_both(zone_name):
    plain = ANSWER_ZONES[zone_name]()
    wire = WireVersion.from_nodes(plain.origin, plain.nodes())
    checked = 0

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(QNAMES), st.sampled_from(QTYPES), st.booleans())
    def same(qname_text, qtype, do):
        nonlocal checked
        qname = plain.origin if qname_text == "@" else dns.name.from_text(qname_text, plain.origin)
        query = dns.message.make_query(qname, qtype, use_edns=0 if do else None, want_dnssec=do)
        query.id = 4242
        expected = answer(plain, query).to_wire(want_shuffle=False)  # as serve.responder renders
        assert answer(wire, query).to_wire(want_shuffle=False) == expected
        checked += 1

    same()
    assert checked >= 60


def test_a_restored_snapshot_is_split_without_parsing_rdata_and_keys_are_lowercased_wire():
    plain = version_from_text(QUERY_ZONE)
    wire = WireVersion.from_codec(plain.origin, plain.to_codec())
    assert wire._decoded == {}  # nothing decoded: owners are split by their encoded heads
    assert wire_key(dns.name.from_text("WwW.Example.COM.")) == b"\x03www\x07example\x03com\x00"
    assert wire.to_codec() and WireVersion.from_codec(plain.origin, wire.to_codec()).rr_count == plain.rr_count


@pytest.mark.parametrize("damage", [
    lambda b: b[:-1],                                   # rdata cut short
    lambda b: b"\x50" + b[1:],                          # a label length over 63
    lambda b: b + b"\x03www",                           # a name that runs past the end
])
def test_bytes_encode_did_not_make_are_refused(damage):
    data = damage(version_from_text(QUERY_ZONE).to_codec())
    with pytest.raises(ValueError, match="bad encoded rdatasets"):
        WireVersion.from_codec(ORIGIN, data)


@pytest.mark.parametrize("damage", [
    lambda content, index: (content, index[:-1]),                  # cut short
    lambda content, index: (content, b"HPI1" + index[4:]),         # an older layout
    lambda content, index: (content + b"\0", index),               # another snapshot's
    lambda content, index: (content, index[:16] + b"\1" + index[17:]),  # offsets that do not start at 0
])
def test_an_index_that_does_not_fit_its_snapshot_is_refused(damage):
    plain = version_from_text(QUERY_ZONE)
    content, index = WireVersion.from_nodes(plain.origin, plain.nodes()).to_snapshot()
    assert WireVersion.from_snapshot(plain.origin, content, index).rr_count == plain.rr_count
    with pytest.raises(ValueError):
        WireVersion.from_snapshot(plain.origin, *damage(content, index))


def test_a_version_without_an_apex_soa_is_refused():
    nodes = {ORIGIN: {(T.NS, 0): _rdataset("NS", 60, ["ns1.example.com."])}}
    with pytest.raises(ValueError, match="no SOA at the apex"):
        WireVersion.from_nodes(ORIGIN, nodes)
    with pytest.raises(ValueError, match="no SOA at the apex"):
        WireVersion.from_codec(ORIGIN, codec.encode([(ORIGIN, rds) for rds in nodes[ORIGIN].values()]))


@settings(max_examples=200, deadline=None)
@given(st.sets(st.binary(min_size=1, max_size=6), max_size=300), st.sampled_from([1, 2, 3, 7, 64]))
def test_the_sort_in_runs_is_sorted(keys, run):
    """The sort done in runs merged in bounded blocks is the plain sort."""
    from hiddenprimary import big_lists
    from hiddenprimary.zone import wire_version

    saved = big_lists.RUN
    big_lists.RUN = run
    try:
        keys = list(keys)
        assert wire_version._sorted_in_runs(keys, lambda k: k[::-1]) == sorted(keys, key=lambda k: k[::-1])
        assert big_lists.sorted_in_runs(keys) == sorted(keys)
    finally:
        big_lists.RUN = saved
