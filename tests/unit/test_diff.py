"""Diff between versions: apply(diff(a, b), a) == b, on generated zone pairs."""

import dns.name
import dns.rdataset
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.zone.diff import apply, diff, nodes_equal
from hiddenprimary.zone.version import ZoneVersion

ORIGIN = dns.name.from_text("example.com.")


def rdataset(rdtype: str, ttl: int, *texts: str) -> dns.rdataset.Rdataset:
    return dns.rdataset.from_text("IN", rdtype, ttl, *texts)


def make_version(serial: int, records: dict) -> ZoneVersion:
    nodes = {ORIGIN: {(6, 0): rdataset("SOA", 3600, f"ns1.example.com. h.example.com. {serial} 1 2 3 4"),
                      (2, 0): rdataset("NS", 3600, "ns1.example.com.")}}
    for (label, rdtype), (ttl, texts) in records.items():
        name = dns.name.from_text(label, ORIGIN)
        rds = rdataset(rdtype, ttl, *texts)
        nodes.setdefault(name, {})[(rds.rdtype, rds.covers)] = rds
    return ZoneVersion(ORIGIN, nodes)


labels = st.sampled_from(["www", "mail", "a.b", "b", "x.y.z", "ns1", "*.wild"])
a_values = st.sets(st.sampled_from([f"192.0.2.{i}" for i in range(1, 6)]), min_size=1, max_size=3)
txt_values = st.sets(st.sampled_from(['"a"', '"b"', '"c d"']), min_size=1, max_size=2)
ttls = st.sampled_from([60, 300, 3600])
records = st.dictionaries(
    st.tuples(labels, st.sampled_from(["A", "TXT"])),
    st.tuples(ttls, st.one_of(a_values, txt_values)),
    max_size=8,
).map(lambda d: {k: (ttl, tuple(v)) for k, (ttl, v) in d.items()
                 if (k[1] == "A") == all(not x.startswith('"') for x in v)})


@settings(max_examples=200)
@given(records, records, st.integers(1, 100))
def test_apply_of_diff_gives_the_target(ra, rb, bump):
    a, b = make_version(1000, ra), make_version(1000 + bump, rb)
    d = diff(a, b)
    assert nodes_equal(apply(d, a).nodes(), b.nodes())
    assert d.serial_from == 1000 and d.serial_to == 1000 + bump


@given(records)
def test_diff_of_a_version_with_itself_is_empty(ra):
    a = make_version(7, ra)
    assert diff(a, make_version(7, ra)).is_empty()


def test_ttl_change_removes_and_adds_the_whole_rrset():
    a = make_version(1, {("www", "A"): (300, ("192.0.2.1", "192.0.2.2"))})
    b = make_version(2, {("www", "A"): (60, ("192.0.2.1", "192.0.2.2"))})
    d = diff(a, b)
    assert (d.removed_count, d.added_count) == (2, 2)
    assert d.added[0][1].ttl == 60


def test_one_changed_record_is_one_removal_and_one_addition():
    a = make_version(1, {("www", "A"): (300, ("192.0.2.1", "192.0.2.2"))})
    b = make_version(2, {("www", "A"): (300, ("192.0.2.1", "192.0.2.3"))})
    d = diff(a, b)
    assert [r.to_text() for _, rds in d.removed for r in rds] == ["192.0.2.2"]
    assert [r.to_text() for _, rds in d.added for r in rds] == ["192.0.2.3"]


def test_apply_refuses_a_diff_from_another_serial():
    a = make_version(1, {})
    b = make_version(2, {("www", "A"): (300, ("192.0.2.1",))})
    try:
        apply(diff(a, b), b)
    except ValueError as e:
        assert "serial 1" in str(e)
    else:
        raise AssertionError("apply accepted a diff that starts at another serial")


def test_version_read_interface():
    v = make_version(5, {("a.b", "A"): (300, ("192.0.2.1",)), ("sub", "A"): (300, ("192.0.2.9",))})
    name = lambda t: dns.name.from_text(t, ORIGIN)  # noqa: E731
    assert v.serial == 5 and v.rr_count == 4
    assert v.name_exists(name("b")) and not v.name_exists(name("c"))  # b is an empty non-terminal
    assert v.closest_encloser(name("q.a.b")) == name("a.b")
    assert v.closest_encloser(name("nope")) == ORIGIN
    assert v.delegation_above(name("x.sub")) is None
    assert v.with_serial(9).serial == 9 and v.serial == 5
    order = [n for n, _ in v.iter_rdatasets()]
    assert order[0] == ORIGIN and order == sorted(order, key=lambda n: (n != ORIGIN, n))
