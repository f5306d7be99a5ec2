"""Journal diffs -> provider plan: applying the plan to what the provider held before gives what
it must hold after, and it is exactly the plan a full read-and-compare would make."""

from __future__ import annotations

import dns.name
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.providers.base import Plan, compute_plan
from hiddenprimary.providers.incremental import DiffsDoNotFit, chain, plan_from_diffs
from hiddenprimary.providers.route53 import Route53Provider, batches
from hiddenprimary.zone.diff import diff
from tests.unit.transfer_setup import applied
from tests.unit.versions import ORIGIN, make_version

PROVIDER = Route53Provider(client=object())  # plans only: never calls the API
ZONE = "example.com."

labels = st.sampled_from(["@", "www", "mail", "a.b", "x.y.z", "*.wild", "sub"])
VALUES = {
    "A": [f"192.0.2.{i}" for i in range(1, 5)],
    "TXT": ['"a"', '"b"', '"c d"'],
    "MX": ["10 mail.example.com.", "20 mx.example.net."],
    "NS": ["ns1.example.com.", "ns2.example.net."],  # at the apex: Route 53's own
    "LOC": ["52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"],  # unsupported
    "DNSKEY": ["257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="],
}


@st.composite
def contents(draw):
    out = {}
    for _ in range(draw(st.integers(0, 9))):
        label, rdtype = draw(labels), draw(st.sampled_from(sorted(VALUES)))
        if (label, rdtype) == ("@", "NS"):
            continue  # make_version puts the apex NS in every version; changes come from other keys
        values = draw(st.sets(st.sampled_from(VALUES[rdtype]), min_size=1, max_size=3))
        out[(label, rdtype)] = (draw(st.sampled_from([60, 300, 3600])), tuple(sorted(values)))
    return out


def version(serial, records):
    return make_version(serial, {(("@" if label == "@" else label), t): v for (label, t), v in records.items()})


def desired(v):
    return PROVIDER.desired(v)[0]


@settings(max_examples=200, deadline=None)
@given(st.lists(contents(), min_size=1, max_size=4))
def test_plan_from_diffs_applied_to_the_old_content_gives_the_new(steps):
    versions = [version(100 + i, records) for i, records in enumerate(steps)]
    diffs = [diff(a, b) for a, b in zip(versions, versions[1:])]
    first, last = versions[0], versions[-1]
    plan = plan_from_diffs(PROVIDER, diffs, last)
    assert applied(desired(first), plan) == desired(last)
    full = compute_plan(ZONE, last.serial, desired(last), desired(first))
    assert (plan.deletes, plan.creates, plan.upserts) == (full.deletes, full.creates, full.upserts)
    assert plan.serial == last.serial
    touched = {(str(n).lower() if n != ORIGIN else ZONE) for d in diffs for n, _ in d.removed + d.added}
    for s in plan.skipped:  # reported once each, for what the diffs touched, with the reason
        assert s.name in touched
        assert s.reason == {"LOC": "unsupported-type", "DNSKEY": "dnssec", "NS": "provider-owned"}[s.rdtype]
    assert len({(s.name, s.rdtype) for s in plan.skipped}) == len(plan.skipped)
    actions = [a for b in batches(plan) for a, _ in b.changes]
    assert actions == sorted(actions, key=["DELETE", "UPSERT", "CREATE"].index)  # deletes first


def test_record_removed_then_added_back_is_no_change():
    a = version(1, {("www", "A"): (300, ("192.0.2.1",))})
    b = version(2, {})
    c = version(3, {("www", "A"): (300, ("192.0.2.1",))})
    plan = plan_from_diffs(PROVIDER, [diff(a, b), diff(b, c)], c)
    assert plan.is_empty() and not plan.skipped


def test_ttl_change_is_an_upsert_and_delete_names_the_old_records():
    a = version(1, {("www", "A"): (300, ("192.0.2.1", "192.0.2.2")), ("old", "TXT"): (60, ('"x"',))})
    b = version(2, {("www", "A"): (60, ("192.0.2.1", "192.0.2.2"))})
    plan = plan_from_diffs(PROVIDER, [diff(a, b)], b)
    assert [(c.name, c.ttl, c.values) for c in plan.upserts] == [("www.example.com.", 60, ("192.0.2.1", "192.0.2.2"))]
    assert [(c.name, c.ttl, c.values) for c in plan.deletes] == [("old.example.com.", 60, ('"x"',))]


def test_diffs_that_do_not_lead_to_the_version_are_refused():
    a, b, c = version(1, {}), version(2, {("www", "A"): (300, ("192.0.2.1",))}), version(3, {})
    with pytest.raises(DiffsDoNotFit):
        plan_from_diffs(PROVIDER, [diff(a, b)], c)


def test_chain_finds_the_diffs_since_a_serial():
    vs = [version(10 + i, {("www", "A"): (300, (f"192.0.2.{i + 1}",))}) for i in range(4)]
    history = tuple(diff(a, b) for a, b in zip(vs, vs[1:]))
    assert chain(history, 10, 13) == list(history)
    assert chain(history, 12, 13) == [history[2]]
    assert chain(history, 13, 13) == []
    assert chain(history, 9, 13) is None  # the journal no longer reaches back: re-plan from a read
    assert chain(history[1:], 10, 13) is None
    assert chain(history, 11, 12) is None  # history does not end at the wanted serial
    assert dns.name.from_text(ZONE) == ORIGIN
