"""Diff between versions: apply(diff(a, b), a) == b, on generated zone pairs."""

import dns.name
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.zone.diff import apply, diff, nodes_equal
from tests.unit.versions import ORIGIN, make_version, records


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
