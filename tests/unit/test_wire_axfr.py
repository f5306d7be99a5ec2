"""transfer.wire_axfr, the fast twin of transfer.xfr.Rendering: the AXFR messages it writes from a
compact version's bytes are byte for byte those dnspython's renderer makes of the same version
(name compression in owners and in NS/CNAME/PTR/MX/SOA rdata, message splits, RRsets split in
halves, records alone in a larger message, the failure of one that fits nowhere)."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rdataset
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.transfer import xfr
from hiddenprimary.transfer.messages import RenderingFailed
from hiddenprimary.transfer.wire_axfr import WireRendering
from hiddenprimary.zone.wire_version import WireVersion

ORIGIN = dns.name.from_text("Example.COM.")
T = dns.rdatatype
LABELS = ["www", "WWW.Deep.a", "a.b.c", "B.c", "sub", "ns.sub", "*.w", "z", "host\\.dot", "mail", "MAIL.x"]
RDATA = {
    "A": ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"],
    "TXT": ['"a"', '"' + "b" * 200 + '"', '"c" "' + "d" * 250 + '"', '"\\000x"'],
    "NS": ["ns.sub.example.com.", "NS.example.net.", "ns1.Example.com."],
    "MX": ["10 www.example.com.", "20 mail.EXAMPLE.net.", "30 mail.x.example.com."],
    "CNAME": ["www.example.com."],
    "PTR": ["host.example.net.", "B.C.example.com."],
    "SRV": ["0 5 5060 sip.example.com.", "1 1 1 www.example.com."],
    "DS": ["12345 13 2 " + "ab" * 32],
    "NAPTR": ['100 10 "u" "E2U+sip" "!^.*$!sip:a@b!" www.example.com.'],
}


def _rdataset(rdtype: str, ttl: int, texts) -> dns.rdataset.Rdataset:
    return dns.rdataset.from_text("IN", rdtype, ttl, *texts)


node_sets = st.dictionaries(
    st.sampled_from(sorted(RDATA)),
    st.tuples(st.sampled_from([60, 300]), st.integers(1, 5)),
    min_size=1, max_size=3,
).map(lambda d: {(T.from_text(t), 0): _rdataset(t, ttl, RDATA[t][:n]) for t, (ttl, n) in d.items()})
zones = st.dictionaries(st.sampled_from(LABELS), node_sets, max_size=10).map(
    lambda d: {ORIGIN: {(T.SOA, 0): _rdataset("SOA", 3600, ["ns1.example.com. h.Example.com. 7 1 2 3 4"]),
                        (T.NS, 0): _rdataset("NS", 3600, ["ns1.example.com.", "ns2.example.NET."])},
               **{dns.name.from_text(label, ORIGIN): node for label, node in d.items()}})


def _both(nodes: dict, max_size: int, max_single: int) -> tuple:
    version = WireVersion.from_nodes(ORIGIN, nodes)
    plain = xfr.Rendering(version.origin, T.AXFR, xfr.axfr_items(version), max_size=max_size, max_single=max_single)
    wire = WireRendering(version, max_size=max_size, max_single=max_single)
    out = []
    for rendering in (plain, wire):
        try:
            out.append(("ok", rendering.render_all(), rendering.records))
        except RenderingFailed as e:
            out.append(("failed", str(e), len(rendering.messages)))
    return out[0], out[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones, st.sampled_from([(800, 1200), (1100, 1200), (1700, 1700), (16 * 1024, 65535)]))
def test_wire_axfr_is_byte_for_byte_the_dnspython_rendering(nodes, sizes):
    plain, wire = _both(nodes, *sizes)
    assert wire == plain


def test_a_big_zone_splits_into_messages_a_client_parses():
    nodes = {ORIGIN: {(T.SOA, 0): _rdataset("SOA", 3600, ["ns1.example.com. h.example.com. 7 1 2 3 4"]),
                      (T.NS, 0): _rdataset("NS", 3600, ["ns1.example.com."])}}
    for i in range(3000):
        nodes[dns.name.from_text(f"host{i}", ORIGIN)] = {(T.A, 0): _rdataset("A", 300, [f"10.0.{i // 256}.{i % 256}"])}
    nodes[dns.name.from_text("ns1", ORIGIN)] = {(T.A, 0): _rdataset("A", 300, ["192.0.2.53"])}
    version = WireVersion.from_nodes(ORIGIN, nodes)
    messages = xfr.axfr_rendering(version).render_all()
    assert isinstance(version.cache["axfr"], WireRendering)
    assert len(messages) > 3
    records = [rrset for m in messages for rrset in dns.message.from_wire(m, one_rr_per_rrset=True).answer]
    assert len(records) == 3002 + 2  # every record, the SOA twice
    assert records[0].rdtype == records[-1].rdtype == T.SOA
    plain = xfr.Rendering(version.origin, T.AXFR, xfr.axfr_items(version)).render_all()
    assert messages == plain


def test_a_record_that_fits_no_message_fails_the_rendering_as_the_plain_one():
    nodes = {ORIGIN: {(T.SOA, 0): _rdataset("SOA", 3600, ["ns1.example.com. h.example.com. 7 1 2 3 4"]),
                      (T.NS, 0): _rdataset("NS", 3600, ["ns1.example.com."])},
             dns.name.from_text("big", ORIGIN): {(T.TXT, 0): _rdataset("TXT", 60, [" ".join(['"' + "x" * 255 + '"'] * 4)])}}
    plain, wire = _both(nodes, 800, 1200)
    assert plain[0] == wire[0] == "failed" and plain == wire
    with pytest.raises(RenderingFailed):
        WireRendering(WireVersion.from_nodes(ORIGIN, nodes), max_size=800, max_single=1200).render_all()
