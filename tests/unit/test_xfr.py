"""Transfer messages, read back by dnspython's own inbound AXFR/IXFR client (dns.xfr.Inbound)."""

import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import dns.xfr
import dns.zone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.transfer import xfr
from hiddenprimary.zone.diff import diff
from hiddenprimary.zone.version import ZoneVersion
from tests.unit.transfer_setup import to_dnspython_zone, zone_nodes
from tests.unit.versions import ORIGIN, make_version, records
from tests.wire import compressed_axfr_query
from tests.zones import huge_txt


def receive(zone: dns.zone.Zone, rdtype, messages, serial=None, query_id=7, qname="example.com."):
    q = dns.message.make_query(qname, rdtype)
    q.id = query_id
    question = xfr.question_bytes(q)
    with dns.xfr.Inbound(zone, rdtype, serial=serial) as inbound:
        for i, m in enumerate(messages):
            wire = xfr.stamp(m, query_id, question if i == 0 else None)
            parsed = dns.message.from_wire(wire, xfr=True, one_rr_per_rrset=rdtype == dns.rdatatype.IXFR)
            assert parsed.id == query_id
            done = inbound.process_message(parsed)
    assert done
    return zone


def big_version(serial=1, hosts=3000):
    return make_version(serial, {(f"h{i}", "A"): (300, (f"10.0.{i // 256}.{i % 256}",)) for i in range(hosts)})


def test_axfr_of_a_big_zone_spans_messages_and_reads_back_whole():
    v = big_version()
    rendering = xfr.axfr_rendering(v)
    messages = rendering.render_all()
    assert len(messages) > 1 and all(len(m) <= xfr.MESSAGE_SIZE - xfr.TSIG_RESERVE for m in messages)
    got = receive(dns.zone.Zone(ORIGIN, relativize=False), dns.rdatatype.AXFR, messages)
    assert zone_nodes(got) == zone_nodes(to_dnspython_zone(v))
    assert xfr.axfr_rendering(v) is rendering  # rendered once per version


def test_first_message_carries_the_clients_question_case():
    v = big_version(hosts=10)
    messages = xfr.axfr_rendering(v).render_all()
    q = dns.message.make_query("ExAmPlE.CoM.", "AXFR")
    out = xfr.stamp(messages[0], q.id, xfr.question_bytes(q))
    parsed = dns.message.from_wire(out, xfr=True)
    assert parsed.question[0].name.to_text() == "ExAmPlE.CoM." and parsed.id == q.id


def test_an_rrset_too_big_for_one_message_is_split():
    many = tuple(f'"{i:05d}-' + "x" * 200 + '"' for i in range(400))  # ~80 KB in one RRset
    v = make_version(1, {("big", "TXT"): (60, many)})
    messages = xfr.axfr_rendering(v).render_all()
    assert len(messages) >= 3
    got = receive(dns.zone.Zone(ORIGIN, relativize=False), dns.rdatatype.AXFR, messages)
    assert zone_nodes(got) == zone_nodes(to_dnspython_zone(v))


@settings(max_examples=60, deadline=None)
@given(st.lists(records, min_size=2, max_size=6))
def test_ixfr_from_every_serial_leads_to_the_current_zone(contents):
    versions = [make_version(100 + i, r) for i, r in enumerate(contents)]
    history = tuple(diff(a, b) for a, b in zip(versions, versions[1:]))
    current = versions[-1]
    for old in versions[:-1]:
        diffs = xfr.diffs_since(history, old.serial, current)
        assert diffs is not None
        messages = xfr.ixfr_rendering(current, old.serial, diffs).render_all()
        got = receive(to_dnspython_zone(old), dns.rdatatype.IXFR, messages, serial=old.serial)
        assert zone_nodes(got) == zone_nodes(to_dnspython_zone(current))


def test_ixfr_decisions():
    a = big_version(1, hosts=50)
    b = make_version(2, {("h0", "A"): (300, ("10.9.9.9",))})
    history = (diff(a, b),)
    assert xfr.diffs_since(history, 1, b) == [history[0]]
    assert xfr.diffs_since(history, 0, b) is None  # older than the journal: AXFR-style
    assert not xfr.worth_incremental(list(history), b)  # deleting 50 records to keep 1: send the zone
    assert xfr.is_current(2, b) and xfr.is_current(3, b) and not xfr.is_current(1, b)


def test_client_serial_needs_the_soa_in_authority():
    q = dns.message.make_query("example.com.", "IXFR")
    try:
        xfr.client_serial(q)
    except xfr.IxfrFormError:
        pass
    else:
        raise AssertionError("IXFR without SOA accepted")
    q.authority.append(dns.rrset.from_text("example.com.", 0, "IN", "SOA", ". . 41 0 0 0 0"))
    assert xfr.client_serial(q) == 41


def test_records_of_16_32_and_64_kb_are_each_transferred_in_a_message_of_their_own():
    sizes = {"r16": 16_500, "r32": 32_768, "r64": 64_000}
    v = make_version(1, {**{(label, "TXT"): (60, (huge_txt(n),)) for label, n in sizes.items()},
                         **{(f"h{i}", "A"): (60, (f"10.0.0.{i}",)) for i in range(50)}})
    messages = xfr.axfr_rendering(v).render_all()
    assert max(len(m) for m in messages) > 64_000
    assert all(len(m) <= xfr.MAX_MESSAGE - xfr.TSIG_RESERVE for m in messages)
    got = receive(dns.zone.Zone(ORIGIN, relativize=False), dns.rdatatype.AXFR, messages)
    assert zone_nodes(got) == zone_nodes(to_dnspython_zone(v))


def test_a_record_that_fits_no_message_fails_every_reader_and_is_never_skipped():
    # An owner name near 255 octets plus 65,300 octets of rdata cannot fit in 65,535 - TSIG room.
    owner = ".".join(["x" * 60] * 3)
    v = make_version(1, {(owner, "TXT"): (60, (huge_txt(65_300),)), ("www", "A"): (60, ("10.0.0.1",))})
    first = xfr.axfr_rendering(v)
    for _ in range(3):
        rendering = xfr.axfr_rendering(v)
        with pytest.raises(xfr.RenderingFailed, match="too large"):  # never completes without the record
            rendering.render_all()
        with pytest.raises(xfr.RenderingFailed):  # asked again: fails again, not an early end
            rendering.message(len(rendering.messages))
    assert xfr.axfr_rendering(v) is not first  # a failed rendering is not kept for the version


def test_question_with_a_compression_pointer_is_copied_uncompressed():
    parsed = dns.message.from_wire(compressed_axfr_query())
    assert parsed.question[0].name == dns.name.from_text("example.com.")
    assert xfr.question_bytes(parsed) == b"\x07ExAmPlE\x03CoM\x00\x00\xfc\x00\x01"


def test_every_record_the_loader_allows_fits_in_a_transfer_message():
    from hiddenprimary.zone.limits import max_transferable_rdata

    for label in ("a", ".".join(["x" * 63] * 3)):
        owner = dns.name.from_text(label, ORIGIN)
        v = make_version(1, {(label, "TXT"): (60, (huge_txt(max_transferable_rdata(ORIGIN, owner)),))})
        messages = xfr.axfr_rendering(v).render_all()
        got = receive(dns.zone.Zone(ORIGIN, relativize=False), dns.rdatatype.AXFR, messages)
        assert zone_nodes(got) == zone_nodes(to_dnspython_zone(v))


def test_any_failure_while_rendering_is_sticky():
    def items():
        yield from big_version(hosts=5).iter_rdatasets()
        raise RuntimeError("boom")

    rendering = xfr.Rendering(ORIGIN, dns.rdatatype.AXFR, items())
    for _ in range(2):
        with pytest.raises(xfr.RenderingFailed, match="boom"):
            rendering.render_all()
