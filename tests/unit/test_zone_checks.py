"""zone.checks: one rule per function, stable codes, each problem at the offending record's line.

Each tests/data/zones/<code>.zone file is the smallest zone showing one problem; its
`; expect: code line` comment says what must come out, and nothing else may."""

from __future__ import annotations

import os
import pathlib

import dns.name
import dns.rdatatype
import dns.zone
import dns.zonefile
import pytest

from hiddenprimary.errors import Location, Severity, ZoneProblem, ZoneRejected
from hiddenprimary.zone import checks
from hiddenprimary.zone.load import LoadedZone, load_zone
from tests.unit.zone_data import CHECK_CODES, DATA, EXAMPLE, expectations

HEADER = "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n"


CHECK_FILES = sorted(
    p for p in DATA.glob("*.zone") if {code for code, _, _ in expectations(p)} <= CHECK_CODES
)


def problems(text: str, tmp_path: pathlib.Path) -> list[ZoneProblem]:
    path = tmp_path / "zone.db"
    path.write_text(text)
    try:
        return load_zone(str(path), EXAMPLE).warnings
    except ZoneRejected as rejected:
        return rejected.problems


def found(text: str, tmp_path: pathlib.Path) -> list[tuple[str, int]]:
    return [(p.code, p.location.line if p.location else None) for p in problems(text, tmp_path)]


# -- one file per code ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHECK_FILES, ids=lambda p: p.stem)
def test_file_reports_its_code_at_its_line(path):
    try:
        got = load_zone(str(path), EXAMPLE).warnings
    except ZoneRejected as rejected:
        got = rejected.problems
    assert {
        (p.code, os.path.relpath(p.location.path, DATA), p.location.line) for p in got
    } == expectations(path)


def test_every_check_code_has_its_file():
    assert {p.stem for p in CHECK_FILES} >= CHECK_CODES


def test_errors_block_and_warnings_do_not():
    for path in CHECK_FILES:
        (code,) = {c for c, _, _ in expectations(path)}
        if code == "occluded-data":
            assert [w.code for w in load_zone(str(path), EXAMPLE).warnings] == [code]
        else:
            with pytest.raises(ZoneRejected):
                load_zone(str(path), EXAMPLE)


def test_problem_text_is_one_line_with_file_line_owner_and_rfc():
    rejected = pytest.raises(
        ZoneRejected, load_zone, str(DATA / "cname-and-other-data.zone"), EXAMPLE
    ).value
    (problem,) = rejected.problems
    assert str(problem).startswith(
        f"{DATA / 'cname-and-other-data.zone'}:8: www.example.: CNAME and other data"
    )
    assert "RFC 1034 §3.6.2" in str(problem) and "\n" not in str(problem)
    assert problem.name == "www.example."


# -- SOA and apex NS (RFC 1035 §5.2, RFC 1034 §4.2.1) ---------------------------------------------


def test_dnspython_keeps_the_last_of_two_soas_silently():
    """Pin of the dnspython behaviour that check_soa exists for (G3)."""
    zone = dns.zone.from_file(str(DATA / "multiple-soa.zone"), EXAMPLE)
    assert zone.get_soa().serial == 2


def test_multiple_soa_keeps_the_first_and_points_at_the_second():
    rejected = pytest.raises(
        ZoneRejected, load_zone, str(DATA / "multiple-soa.zone"), EXAMPLE
    ).value
    (problem,) = rejected.problems
    assert "multiple-soa.zone:3" in problem.message  # where the first one is


def test_same_soa_twice_is_just_a_duplicate(tmp_path):
    assert found(HEADER + "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n", tmp_path) == []


def test_no_soa_is_not_repeated_when_the_soa_was_a_syntax_error(tmp_path):
    text = "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600\n@ NS ns1\nns1 A 192.0.2.1\n"
    assert found(text, tmp_path) == [("syntax", 2)]


# -- CNAME (RFC 1034 §3.6.2, RFC 2181 §10.1, RFC 4035 §2.5) ----------------------------------------


def test_dnspython_reports_cname_conflicts_without_a_line():
    """Pin: dnspython stops at the first conflict and says neither file nor line (G2)."""
    with pytest.raises(dns.zonefile.CNAMEAndOtherData) as info:
        dns.zone.from_file(str(DATA / "cname-and-other-data.zone"), EXAMPLE)
    assert ":8" not in str(info.value) and "zone" not in str(info.value)


@pytest.mark.parametrize(
    "records, expected",
    [
        ("www CNAME ns1\nwww A 192.0.2.1\n", [("cname-and-other-data", 6)]),
        ("www A 192.0.2.1\nwww CNAME ns1\n", [("cname-and-other-data", 6)]),
        (
            "www CNAME ns1\nwww MX 10 ns1\nwww TXT x\n",
            [("cname-and-other-data", 6)],
        ),  # one per name
        ("www CNAME ns1\nwww NSEC a CNAME RRSIG NSEC\n", []),
        ("www CNAME ns1\nwww NSEC3 1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A\n", []),
        (
            "www CNAME ns1\n"
            "www RRSIG CNAME 13 2 3600 20300101000000 20200101000000 1 example. AAAA\n",
            [],
        ),
        (
            "www CNAME ns1\nwww RRSIG A 13 2 3600 20300101000000 20200101000000 1 example. AAAA\n",
            [("cname-and-other-data", 6)],
        ),
        ("www CNAME ns1\nWWW CNAME ns1.\n", [("multiple-cname", 6)]),
        ("www CNAME ns1\nWWW CNAME ns1.example.\n", []),  # the same record twice
    ],
)
def test_cname_rules(tmp_path, records, expected):
    assert found(HEADER + records, tmp_path) == expected


# -- DNAME (RFC 6672 §2.4) ---------------------------------------------------------------------


def test_dname_without_children_is_fine(tmp_path):
    assert found(HEADER + "old DNAME example.net.\nold A 192.0.2.9\n", tmp_path) == []


def test_a_dname_at_the_apex_has_no_children_either(tmp_path):
    text = (
        "$TTL 3600\n@ SOA ns1.example.net. hm 1 2 3 4 5\n  NS ns1.example.net.\n"
        "  DNAME example.net.\nwww A 192.0.2.1\n"
    )
    assert found(text, tmp_path) == [("dname-children", 5)]


def test_each_name_below_a_dname_is_reported(tmp_path):
    text = HEADER + "old DNAME example.net.\na.old A 192.0.2.1\nb.c.old TXT x\n"
    assert found(text, tmp_path) == [("dname-children", 6), ("dname-children", 7)]


# -- NS targets, glue, occlusion ----------------------------------------------------------------


@pytest.mark.parametrize(
    "records, expected",
    [
        # in-bailiwick glue present: fine
        ("lab NS ns.lab\nns.lab A 192.0.2.53\n", []),
        ("lab NS ns.lab\nns.lab AAAA 2001:db8::53\n", []),
        # the target is the delegation point itself, with glue there
        ("lab NS lab\nlab A 192.0.2.53\n", []),
        # out-of-zone target: not ours to check
        ("lab NS ns.example.net.\n", []),
        # in-zone target outside any cut, with an address: fine; without one: an error
        ("lab NS ns1\n", []),
        ("lab NS nowhere\n", [("ns-target-no-address", 5)]),
        # glue missing, including "sibling glue" below another delegation
        ("lab NS ns.lab\n", [("missing-glue", 5)]),
        ("lab NS ns.lab2\nlab2 NS ns1\n", [("missing-glue", 5)]),
        # the apex NS pointing below a cut also needs the glue
        ("@ NS ns.lab\nlab NS ns1\n", [("missing-glue", 5)]),
        # target is a CNAME in the zone (RFC 2181 §10.3)
        ("lab NS alias\nalias CNAME ns1\n", [("ns-is-cname", 5)]),
    ],
)
def test_ns_target_rules(tmp_path, records, expected):
    assert found(HEADER + records, tmp_path) == expected


def test_ns_problem_points_at_the_ns_record_of_that_target(tmp_path):
    text = HEADER + "  NS ns2\n  NS ns3\nns2 A 192.0.2.2\n"
    assert found(text, tmp_path) == [("ns-target-no-address", 6)]


def test_missing_address_is_not_repeated_when_the_address_was_a_syntax_error(tmp_path):
    text = HEADER + "  NS ns2\nns2 A 192.0.2.999\n"
    assert found(text, tmp_path) == [("syntax", 6)]


@pytest.mark.parametrize(
    "records, expected",
    [
        # at the cut: NS, DS and glue belong; MX does not
        ("lab NS ns.lab\nlab DS 1 13 2 " + "00" * 32 + "\nns.lab A 192.0.2.53\n", []),
        ("lab NS ns.lab\nlab MX 10 ns.lab\nns.lab A 192.0.2.53\n", [("occluded-data", 6)]),
        # below the cut: only address glue
        ("lab NS ns.lab\nns.lab A 192.0.2.53\nns.lab TXT x\n", [("occluded-data", 7)]),
        # a delegation below a delegation is occluded too, and its NS is not checked
        ("lab NS ns.lab\nns.lab A 192.0.2.53\nsub.lab NS ns.sub.lab\n", [("occluded-data", 7)]),
    ],
)
def test_occluded_data(tmp_path, records, expected):
    assert found(HEADER + records, tmp_path) == expected
    for problem in problems(HEADER + records, tmp_path):
        assert problem.severity is Severity.WARNING


def test_occluded_data_stays_in_the_zone(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(HEADER + "lab NS ns.lab\nns.lab A 192.0.2.53\nns.lab TXT x\n")
    zone = load_zone(str(path), EXAMPLE)
    assert (dns.rdatatype.TXT, dns.rdatatype.NONE) in zone.rdatasets[
        dns.name.from_text("ns.lab.example.")
    ]


# -- check() as a pure function over a LoadedZone --------------------------------------------------


def loaded(text: str) -> LoadedZone:
    """A LoadedZone built from dnspython's own parse, with a made-up location per RRset."""
    zone = dns.zone.from_text(text, EXAMPLE, relativize=False, check_origin=False)
    rdatasets = {
        owner: {(rds.rdtype, rds.covers): rds for rds in node.rdatasets}
        for owner, node in zone.nodes.items()
    }
    locations = {
        (owner, rdtype): Location("mem", i + 1)
        for i, (owner, (rdtype, _)) in enumerate(
            (o, k) for o, node in rdatasets.items() for k in node
        )
    }
    return LoadedZone(EXAMPLE, rdatasets, locations, [], path="mem")


def test_check_on_a_good_zone_is_empty():
    assert checks.check(loaded(HEADER)) == []


def test_check_reports_every_rule_sorted_by_location():
    zone = loaded("$TTL 60\n@ A 192.0.2.1\nd DNAME x.test.\na.d A 192.0.2.2\n")
    got = checks.check(zone)
    assert [p.code for p in got] == ["no-soa", "no-apex-ns", "dname-children"]
    assert got[0].location == Location("mem") and got[-1].location.line == 3


def test_rules_are_small_named_functions():
    assert all(rule.__name__.startswith("check_") and rule.__doc__ for rule in checks.RULES)
    documented = checks.__doc__
    for code in CHECK_CODES:
        assert code in documented
