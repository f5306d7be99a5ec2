"""zone.load with a memo: a reload parses only the records whose text changed, and every RRset
that did not change is the previous load's Rdataset object. The result must always be the one
a load without the memo gives (DESIGN.md "Reloads are driven by the difference")."""

from __future__ import annotations

import pathlib
import tempfile

import dns.name
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.errors import ZoneRejected
from hiddenprimary.zone.diff import diff, diff_at
from hiddenprimary.zone.load import LoadedZone, ZoneMemo, load_zone
from hiddenprimary.zone.version import ZoneVersion

EXAMPLE = dns.name.from_text("example.")
HEADER = "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n"
A = (dns.rdatatype.A, dns.rdatatype.NONE)
MX = (dns.rdatatype.MX, dns.rdatatype.NONE)
CNAME = (dns.rdatatype.CNAME, dns.rdatatype.NONE)


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def snapshot(zone: LoadedZone) -> tuple:
    """Everything a load returns, as exact text (case included) and in order."""
    return (
        [
            (
                owner.to_text(),
                [
                    (key, rds.ttl, [rdata.to_text() for rdata in rds])
                    for key, rds in node.items()
                ],
            )
            for owner, node in zone.rdatasets.items()
        ],
        {(owner.to_text(), rdtype): loc for (owner, rdtype), loc in zone.locations.items()},
        {(owner.to_text(), rdtype): locs for (owner, rdtype), locs in zone.dropped.items()},
        sorted((owner.to_text(), rdtype) for owner, rdtype in zone.failed),
        [(owner.to_text(), target.to_text(), loc) for owner, target, loc in zone.ns_records],
        zone.warnings,
    )


def outcome(path: pathlib.Path, memo: ZoneMemo | None = None) -> tuple[tuple, LoadedZone | None]:
    try:
        zone = load_zone(str(path), EXAMPLE, memo)
    except ZoneRejected as rejected:
        return ("rejected", rejected.problems), None
    return ("ok", snapshot(zone)), zone


def rrsets(zone: LoadedZone) -> dict:
    return {(owner, key): rds for owner, node in zone.rdatasets.items() for key, rds in node.items()}


# -- hypothesis: any edit loads with the memo exactly as without it ------------------------------

OWNERS = ["a", "b", "A", "b.example.", "sub", "x.sub", "*.w", "mail", "out.other.", "@", ""]
ADDRESSES = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "10.0.0.1"]


@st.composite
def record_line(draw) -> str:
    owner = draw(st.sampled_from(OWNERS))
    fields = [owner if owner else draw(st.sampled_from([" ", "\t"]))]
    if draw(st.booleans()):
        fields.append(draw(st.sampled_from(["60", "300", "3600", "1h", "4294967295"])))
    if draw(st.integers(0, 3)) == 0:
        fields.append("IN")
    kind = draw(st.sampled_from(["A"] * 4 + ["MX", "MX", "TXT", "TXT", "CNAME", "AAAA", "bad"]))
    if kind == "A":
        fields += ["A", draw(st.sampled_from(ADDRESSES))]
    elif kind == "MX":
        target = draw(st.sampled_from(["mail", "mail.example.", "Mail", "mx.other.", "@"]))
        fields += ["MX", draw(st.sampled_from(["10", "20"])), target]
    elif kind == "TXT":
        fields += ["TXT", draw(st.sampled_from(["hello", '"hi there"', 'a\\065b', "(one two)"]))]
    elif kind == "CNAME":
        fields += ["CNAME", draw(st.sampled_from(["a", "target.other.", "mail"]))]
    elif kind == "AAAA":
        fields += ["AAAA", draw(st.sampled_from(["2001:db8::1", "2001:DB8::1", "::1"]))]
    else:
        fields += draw(st.sampled_from([["A", "999.0.0.1"], ["MX", "x"], ["A"], ["FOO", "1"]]))
    line = " ".join(fields[:1] + fields[1:]) if owner else fields[0] + " ".join(fields[1:])
    return line


directive_line = st.sampled_from(
    [
        "$TTL 300", "$TTL 600", "$TTL 1d", "$ORIGIN sub.example.", "$ORIGIN example.",
        "$ORIGIN Example.", "$ORIGIN other.", "$INCLUDE inc.db", "$INCLUDE inc.db sub.example.",
        "$TTL", "( unbalanced",
    ]
)  # fmt: skip
any_line = st.one_of(record_line(), record_line(), record_line(), directive_line)


@st.composite
def edit(draw, lines: list[str]) -> list[str]:
    lines = list(lines)
    op = draw(st.sampled_from(["add", "remove", "change", "swap", "change"]))
    if op == "add" or not lines:
        lines.insert(draw(st.integers(0, len(lines))), draw(any_line))
    elif op == "remove":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif op == "change":
        lines[draw(st.integers(0, len(lines) - 1))] = draw(any_line)
    else:
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    return lines


@st.composite
def versions(draw) -> list[tuple[list[str], list[str]]]:
    """A zone (main file body, included file) and a few edited versions of it."""
    body = draw(st.lists(st.one_of(record_line(), record_line(), directive_line), max_size=12))
    inc = draw(st.lists(record_line(), max_size=3))
    result = [(body, inc)]
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 3)) == 0:
            inc = draw(edit(inc))
        else:
            for _ in range(draw(st.integers(1, 3))):
                body = draw(edit(body))
        result.append((body, inc))
    return result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=versions())
def test_a_reload_with_the_memo_equals_one_without(history):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "zone.db"
        inc = pathlib.Path(folder) / "inc.db"
        memo = None
        previous: list[tuple[LoadedZone, tuple]] = []
        for body, included in history:
            path.write_text(HEADER + "\n".join(body) + "\n")
            inc.write_text("\n".join(included) + "\n")
            fresh, _ = outcome(path)
            with_memo, zone = outcome(path, memo)
            assert with_memo == fresh
            # Earlier results are not changed by later loads that share their objects.
            for old_zone, old_snapshot in previous:
                assert snapshot(old_zone) == old_snapshot
            if zone is not None:
                assert zone.memo is not None
                if previous:  # the owners it touched are all a diff against the memo's zone needs
                    assert diff_text(previous[-1][0], zone, zone.touched) == diff_text(previous[-1][0], zone, None)
                memo = zone.memo  # a failed load leaves the last good memo in use
                previous.append((zone, with_memo[1]))


def diff_text(old: LoadedZone, new: LoadedZone, touched: set | None) -> tuple:
    """diff(old, new) as text; with `touched`, the diff_at those owners and the apex."""
    a, b = ZoneVersion(EXAMPLE, old.rdatasets), ZoneVersion(EXAMPLE, new.rdatasets)
    d = diff(a, b) if touched is None else diff_at(a, b, touched | {EXAMPLE})
    return tuple([(n.to_text(), rds.rdtype, rds.ttl, sorted(r.to_text() for r in rds)) for n, rds in changes]
                 for changes in (d.removed, d.added))


# -- what is reused --------------------------------------------------------------------------


def test_unchanged_rrsets_are_the_previous_objects(tmp_path):
    path = tmp_path / "zone.db"
    body = ["www A 192.0.2.10", " A 192.0.2.11", "mail A 192.0.2.25", "@ MX 10 mail",
            "alias CNAME www", "txt TXT \"quoted text\""]  # fmt: skip
    path.write_text(HEADER + "\n".join(body) + "\n")
    old = load_zone(str(path), EXAMPLE)
    body[2] = "mail A 192.0.2.26"
    path.write_text(HEADER + "\n".join(body) + "\n")
    new = load_zone(str(path), EXAMPLE, old.memo)
    old_sets, new_sets = rrsets(old), rrsets(new)
    assert old_sets.keys() == new_sets.keys()
    changed = (name("mail.example."), A)
    for key, rds in new_sets.items():  # quoted text too
        if key == changed:
            assert rds is not old_sets[key]
        else:
            assert rds is old_sets[key], key
    assert [r.to_text() for r in new_sets[changed]] == ["192.0.2.26"]
    assert [r.to_text() for r in old_sets[changed]] == ["192.0.2.25"]  # the old load is intact
    # Unchanged owners are the previous Name objects, and unchanged rdata the previous objects.
    old_owners = {n: n for n in old.rdatasets}
    assert all(n is old_owners[n] for n in new.rdatasets)
    assert new_sets[changed] is not old_sets[changed]


def test_quoted_and_escaped_rdata_is_reused_only_for_the_same_tokens(tmp_path):
    """A quoted string and a plain word (or an escaped one) that read alike are different
    tokens: each is its own cache entry, and each gives what a fresh load gives."""
    path = tmp_path / "zone.db"
    lines = ['a TXT "x y"', 'b TXT x y', 'c TXT "x\\032y"', 'd TXT x\\032y', 'e TXT "x" "y"']
    path.write_text(HEADER + "\n".join(lines) + "\n")
    first = load_zone(str(path), EXAMPLE)
    path.write_text(HEADER + "\n".join(reversed(lines)) + "\n")
    again = load_zone(str(path), EXAMPLE, first.memo)
    fresh = load_zone(str(path), EXAMPLE)
    assert snapshot(again) == snapshot(fresh)
    for owner in "abcde":
        key = (name(f"{owner}.example."), (dns.rdatatype.TXT, 0))
        assert rrsets(again)[key] is rrsets(first)[key]
        assert rrsets(again)[key] == rrsets(fresh)[key]


def test_long_rdata_met_again_at_a_longer_owner_is_measured_there(tmp_path):
    """Whether rdata fits a transfer message depends on its owner: a cache hit is checked too."""
    from hiddenprimary.zone.limits import max_transferable_rdata

    owner = ".".join(["l" * 60] * 3)
    fits_short = max_transferable_rdata(EXAMPLE, name("s.example."))
    fits_long = max_transferable_rdata(EXAMPLE, name(f"{owner}.example."))
    size = (fits_short + fits_long) // 2  # fits at the short owner, not at the long one
    strings = " ".join(f'"{"t" * 250}"' for _ in range(size // 251)) + f' "{"t" * (size % 251 - 1)}"'
    path = tmp_path / "zone.db"
    path.write_text(HEADER + f"s TXT {strings}\n")
    first = load_zone(str(path), EXAMPLE)
    path.write_text(HEADER + f"s TXT {strings}\n{owner} TXT {strings}\n")
    with pytest.raises(ZoneRejected) as memoized:
        load_zone(str(path), EXAMPLE, first.memo)
    with pytest.raises(ZoneRejected) as fresh:
        load_zone(str(path), EXAMPLE)
    assert [str(p) for p in memoized.value.problems] == [str(p) for p in fresh.value.problems]
    assert any("too large for a zone-transfer message" in str(p) for p in fresh.value.problems)


@pytest.mark.parametrize(
    "before, after, reused",
    [
        ("www A 192.0.2.10\n A 192.0.2.11\n", "www A 192.0.2.10\n", False),  # a record removed
        ("www A 192.0.2.10\n", "www A 192.0.2.10\n A 192.0.2.11\n", False),  # a record added
        ("www A 192.0.2.10\n A 192.0.2.11\n", "www A 192.0.2.11\n A 192.0.2.10\n", False),  # order
        ("www A 192.0.2.10\n", "www 60 A 192.0.2.10\n", False),  # the RRset's TTL
        # A second record at another TTL: only a warning, the RRset is the same.
        ("www A 192.0.2.10\n A 192.0.2.11\n", "www A 192.0.2.10\n 60 A 192.0.2.11\n", True),
        # A duplicate: the same RRset by value, but not reused (kept simple).
        ("www A 192.0.2.10\n", "www A 192.0.2.10\n A 192.0.2.10\n", False),
        ("www A 192.0.2.10\n", "www.example. 3600 IN A 192.0.2.10\n", True),  # same record
    ],
)
def test_a_changed_rrset_is_a_new_object_equal_to_a_fresh_load(tmp_path, before, after, reused):
    path = tmp_path / "zone.db"
    path.write_text(HEADER + before + "other A 192.0.2.99\n")
    old = load_zone(str(path), EXAMPLE)
    old_snapshot = snapshot(old)
    path.write_text(HEADER + after + "other A 192.0.2.99\n")
    new = load_zone(str(path), EXAMPLE, old.memo)
    assert snapshot(new) == snapshot(load_zone(str(path), EXAMPLE))
    assert snapshot(old) == old_snapshot
    www = (name("www.example."), A)
    assert (rrsets(new)[www] is rrsets(old)[www]) == reused
    assert rrsets(new)[(name("other.example."), A)] is rrsets(old)[(name("other.example."), A)]


def test_an_rrset_split_across_the_file_is_still_reused(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(HEADER + "www A 192.0.2.1\nmail A 192.0.2.9\nwww A 192.0.2.2\n")
    old = load_zone(str(path), EXAMPLE)
    new = load_zone(str(path), EXAMPLE, old.memo)
    assert all(new_rds is rrsets(old)[key] for key, new_rds in rrsets(new).items())


def test_origin_change_above_records_parses_them_again(tmp_path):
    path = tmp_path / "zone.db"
    records = "www CNAME target\nmx MX 10 mail\n"
    path.write_text(HEADER + "$ORIGIN example.\n" + records)
    old = load_zone(str(path), EXAMPLE)
    path.write_text(HEADER + "$ORIGIN sub.example.\n" + records)
    new = load_zone(str(path), EXAMPLE, old.memo)
    assert snapshot(new) == snapshot(load_zone(str(path), EXAMPLE))
    assert new.rdatasets[name("www.sub.example.")][CNAME][0].target == name("target.sub.example.")
    assert new.rdatasets[name("mx.sub.example.")][MX][0].exchange == name("mail.sub.example.")
    # Back again: the same text under the first origin means the first names again.
    path.write_text(HEADER + "$ORIGIN example.\n" + records)
    again = load_zone(str(path), EXAMPLE, new.memo)
    assert again.rdatasets[name("www.example.")][CNAME][0].target == name("target.example.")


def test_origin_case_is_kept_as_written(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(HEADER + "$ORIGIN example.\nwww CNAME target\n")
    old = load_zone(str(path), EXAMPLE)
    path.write_text(HEADER + "$ORIGIN EXAMPLE.\nwww CNAME target\n")
    new = load_zone(str(path), EXAMPLE, old.memo)
    assert snapshot(new) == snapshot(load_zone(str(path), EXAMPLE))
    owner = next(n for n in new.rdatasets if n == name("www.example."))
    assert owner.to_text() == "www.EXAMPLE."
    assert new.rdatasets[owner][CNAME][0].target.to_text() == "target.EXAMPLE."


def test_ttl_change_above_records_gives_new_rrsets_with_the_new_ttl(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(HEADER + "www A 192.0.2.1\n$TTL 300\nmail A 192.0.2.2\n")
    old = load_zone(str(path), EXAMPLE)
    path.write_text(HEADER + "www A 192.0.2.1\n$TTL 600\nmail A 192.0.2.2\n")
    new = load_zone(str(path), EXAMPLE, old.memo)
    assert snapshot(new) == snapshot(load_zone(str(path), EXAMPLE))
    assert new.rdatasets[name("mail.example.")][A].ttl == 600
    assert old.rdatasets[name("mail.example.")][A].ttl == 300
    assert new.rdatasets[name("mail.example.")][A] is not old.rdatasets[name("mail.example.")][A]
    assert new.rdatasets[name("www.example.")][A] is old.rdatasets[name("www.example.")][A]


def test_changed_include_file_is_read_again(tmp_path):
    path = tmp_path / "zone.db"
    inc = tmp_path / "inc.db"
    path.write_text(HEADER + "$INCLUDE inc.db sub.example.\nwww A 192.0.2.1\n")
    inc.write_text("host A 192.0.2.7\nmx MX 10 host\n")
    old = load_zone(str(path), EXAMPLE)
    inc.write_text("host A 192.0.2.8\nmx MX 10 host\n")
    new = load_zone(str(path), EXAMPLE, old.memo)
    assert snapshot(new) == snapshot(load_zone(str(path), EXAMPLE))
    host = (name("host.sub.example."), A)
    assert [r.to_text() for r in rrsets(new)[host]] == ["192.0.2.8"]
    assert rrsets(new)[host] is not rrsets(old)[host]
    mx = (name("mx.sub.example."), MX)
    assert rrsets(new)[mx] is rrsets(old)[mx]


def test_a_rejected_load_leaves_the_memo_usable(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(HEADER + "www A 192.0.2.1\nmail A 192.0.2.2\n")
    old = load_zone(str(path), EXAMPLE)
    path.write_text(HEADER + "www A 192.0.2.1\nmail A 192.0.2.300\n")
    with pytest.raises(ZoneRejected) as fresh:
        load_zone(str(path), EXAMPLE)
    with pytest.raises(ZoneRejected) as memoized:
        load_zone(str(path), EXAMPLE, old.memo)
    assert memoized.value.problems == fresh.value.problems
    path.write_text(HEADER + "www A 192.0.2.1\nmail A 192.0.2.3\n")
    new = load_zone(str(path), EXAMPLE, old.memo)
    assert snapshot(new) == snapshot(load_zone(str(path), EXAMPLE))
    assert new.rdatasets[name("www.example.")][A] is old.rdatasets[name("www.example.")][A]


def test_memo_of_another_zone_is_ignored(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(HEADER + "www A 192.0.2.1\n")
    other = load_zone(str(path), name("example.net."))
    new = load_zone(str(path), EXAMPLE, other.memo)
    assert snapshot(new) == snapshot(load_zone(str(path), EXAMPLE))
    assert new.rdatasets[name("www.example.")][A] is not other.rdatasets[name("www.example.net.")][A]


def test_the_memo_holds_only_what_the_last_load_met(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(HEADER + "www A 192.0.2.1\ngone A 192.0.2.99\n")
    old = load_zone(str(path), EXAMPLE)
    path.write_text(HEADER + "www A 192.0.2.1\n")
    new = load_zone(str(path), EXAMPLE, old.memo)
    assert new.memo is not None
    texts = {key for cache in new.memo.rdata.values() for key in cache}
    assert not any("192.0.2.99" in text for text in texts)
    assert not any("gone" in text for cache in new.memo.names.values() for text in cache)
    assert any("192.0.2.99" in text for cache in old.memo.rdata.values() for text in cache)
