"""zone.load: master files through dnspython, with every problem of a file at file:line.

Each bad file in tests/data/zones/ says what it must produce in `; expect: code line [file]`
comments; tests/data/zones/good/ holds zones that must load exactly as dns.zone.from_file does."""

from __future__ import annotations

import ipaddress
import os
import pathlib

import dns.name
import dns.rdataset
import dns.rdatatype
import dns.tokenizer
import dns.zone
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.errors import Location, Severity, ZoneProblem, ZoneRejected
from hiddenprimary.zone import checks
from hiddenprimary.zone.load import MAX_PROBLEMS, LoadedZone, load_zone
from hiddenprimary.zone.scan import scan
from tests.unit.zone_data import CHECK_CODES, DATA, EXAMPLE, expectations

GOOD = DATA / "good"


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def problems_of(path: pathlib.Path | str, origin: dns.name.Name = EXAMPLE) -> list[ZoneProblem]:
    try:
        return load_zone(str(path), origin).warnings
    except ZoneRejected as rejected:
        return rejected.problems


def where(problem: ZoneProblem) -> tuple[str, str, int]:
    assert problem.location is not None
    rel = os.path.relpath(os.path.normpath(problem.location.path), DATA)
    return (problem.code, rel, problem.location.line)


def load_text(tmp_path: pathlib.Path, text: str, origin: str = "example.", name_: str = "zone.db"):
    path = tmp_path / name_
    path.write_text(text)
    return load_zone(str(path), dns.name.from_text(origin))


def reject_text(tmp_path: pathlib.Path, text: str, origin: str = "example.") -> ZoneRejected:
    with pytest.raises(ZoneRejected) as info:
        load_text(tmp_path, text, origin)
    return info.value


HEADER = "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n"


# -- one bad file per problem code: the code AND the line ---------------------------------------

LOADER_FILES = sorted(
    p for p in DATA.glob("*.zone") if not {code for code, _, _ in expectations(p)} <= CHECK_CODES
)


def test_every_data_file_states_what_it_expects():
    files = sorted(DATA.glob("*.zone"))
    assert files and all(expectations(p) for p in files)


@pytest.mark.parametrize("path", LOADER_FILES, ids=lambda p: p.stem)
def test_bad_file_reports_its_code_at_its_line(path):
    assert {where(p) for p in problems_of(path)} == expectations(path)


def test_every_loader_code_has_a_file():
    codes = {code for p in LOADER_FILES for code, _, _ in expectations(p)}
    assert codes >= {
        "syntax", "include-unreadable", "include-loop", "out-of-zone", "ttl-mismatch",
        "default-ttl-from-soa", "ttl-out-of-range",
    }  # fmt: skip


def test_bad_rdata_says_which_type_and_what_is_wrong_on_the_right_line():
    # dnspython: "<file>:8: Text input is malformed." (one line late, no type); we: line 7.
    (problem,) = problems_of(DATA / "syntax.zone")
    assert problem.location == Location(str(DATA / "syntax.zone"), 7)
    assert "bad A rdata '999.1.1.1'" in problem.message
    assert "IPv4" in problem.message and "RFC 1035" in problem.message
    assert "malformed" not in problem.message.lower()
    assert str(problem).startswith(f"{DATA / 'syntax.zone'}:7: ")


def test_dnspython_reports_bad_rdata_one_line_late_and_generic(tmp_path):
    """Pin of the dnspython behaviour the loader works around (G1)."""
    with pytest.raises(dns.exception.SyntaxError) as info:
        dns.zone.from_file(str(DATA / "syntax.zone"), EXAMPLE)
    assert ":8:" in str(info.value) and "malformed" in str(info.value)


def test_three_errors_on_three_lines_are_all_reported():
    rejected = pytest.raises(
        ZoneRejected, load_zone, str(DATA / "three-errors.zone"), EXAMPLE
    ).value
    lines = [(p.code, p.location.line) for p in rejected.errors]
    assert lines == [("syntax", 5), ("syntax", 9), ("cname-and-other-data", 12)]
    assert "three-errors.zone:5:" in str(rejected) and "three-errors.zone:12:" in str(rejected)


def test_second_syntax_error_is_not_hidden(tmp_path):
    text = HEADER + "a A 1.2.3\nb A 192.0.2.2\nc MX 10\nd AAAA nope\ne A 192.0.2.5\n"
    rejected = reject_text(tmp_path, text)
    assert [(p.code, p.location.line) for p in rejected.errors] == [
        ("syntax", 5),
        ("syntax", 7),
        ("syntax", 8),
    ]


def test_error_in_included_file_names_that_file():
    (problem,) = problems_of(DATA / "include-syntax.zone")
    assert problem.location == Location(str(DATA / "include" / "bad.inc"), 3)
    assert "unexpected 'extra-field'" in problem.message


def test_unreadable_include_names_the_path():
    (problem,) = problems_of(DATA / "include-unreadable.zone")
    assert problem.code == "include-unreadable"
    assert str(DATA / "include" / "does-not-exist.inc") in problem.message


def test_missing_zone_file_is_rejected_with_its_path(tmp_path):
    missing = tmp_path / "nope.zone"
    rejected = pytest.raises(ZoneRejected, load_zone, str(missing), EXAMPLE).value
    (problem,) = rejected.problems
    assert problem.code == "file-unreadable" and str(missing) in problem.message
    assert problem.location == Location(str(missing))


def test_unreadable_zone_file_is_rejected(tmp_path):
    # A directory cannot be read as a file, even by root (chmod 000 does not stop root).
    rejected = pytest.raises(ZoneRejected, load_zone, str(tmp_path), EXAMPLE).value
    assert [p.code for p in rejected.problems] == ["file-unreadable"]


def test_not_utf8_is_a_syntax_error_on_its_line(tmp_path):
    path = tmp_path / "zone.db"
    path.write_bytes(HEADER.encode() + b'x TXT "caf\xe9"\n')
    rejected = pytest.raises(ZoneRejected, load_zone, str(path), EXAMPLE).value
    assert [(p.code, p.location.line) for p in rejected.errors] == [("syntax", 5)]


def test_syntax_error_lines_in_a_multiline_record(tmp_path):
    text = HEADER + 't TXT ( "one"\n   "two"\n   "unterminated\n )\nok A 192.0.2.9\nu TXT ( "x"\n'
    rejected = reject_text(tmp_path, text)
    assert [(p.location.line, p.message.split(":")[0]) for p in rejected.errors] == [
        (7, "unterminated quoted string (a string must end on its line) (RFC 1035 §5.1)"),
        (10, "unbalanced parentheses"),
    ]


def test_blank_owner_on_the_first_record_is_an_error(tmp_path):
    rejected = reject_text(tmp_path, "  A 192.0.2.1\n" + HEADER)
    assert [(p.code, p.location.line) for p in rejected.errors] == [("syntax", 1)]


@pytest.mark.parametrize(
    "line, words",
    [
        ("www A", "A record has no rdata"),
        ("www IN", "record has no type"),
        ("www CH A 1.2.3.4", "class CH is not the zone's class IN"),
        ("www AXFR 1.2.3.4", "meta-type"),
        ("www 99999999999 A 192.0.2.1", "bad TTL"),
        ("www A 192.0.2.1 192.0.2.2", "unexpected '192.0.2.2'"),
        ("www MX 10", "bad MX rdata '10'"),
        ('"quoted" A 192.0.2.1', "bad owner name"),
        ("a..b A 192.0.2.1", "bad owner name 'a..b'"),
        ("$TTL", "$TTL takes one TTL value"),
        ("$TTL 1x", "bad $TTL '1x'"),
        ("$ORIGIN", "$ORIGIN takes one domain name"),
        ("$INCLUDE", "$INCLUDE takes a file name"),
        ("$GENERATE 1-2 x$ A", "bad $GENERATE"),
        ("$UNICODE 2008", "unknown directive $UNICODE"),
        ("www A 192.0.2.1 \\", "backslash at the end of the line"),
    ],
)
def test_syntax_errors_say_what_is_wrong(tmp_path, line, words):
    rejected = reject_text(tmp_path, HEADER + line + "\n")
    (problem,) = rejected.errors
    assert (problem.code, problem.location.line) == ("syntax", 5)
    assert words in problem.message


def test_too_many_problems_are_capped(tmp_path):
    text = HEADER + "".join(f"h{i} A 1.2.3\n" for i in range(MAX_PROBLEMS + 5))
    rejected = reject_text(tmp_path, text)
    assert len(rejected.errors) == MAX_PROBLEMS + 1
    assert (
        rejected.errors[-1].code == "too-many-problems" and "5 more" in rejected.errors[-1].message
    )


# -- warnings ----------------------------------------------------------------------------------


def test_out_of_zone_record_is_ignored_with_a_warning_and_its_line():
    zone = load_zone(str(DATA / "out-of-zone.zone"), EXAMPLE)
    (warning,) = zone.warnings
    assert (warning.code, warning.severity, warning.location.line) == (
        "out-of-zone",
        Severity.WARNING,
        7,
    )
    assert "www.example.net." in warning.message
    assert name("www.example.net.") not in zone.rdatasets
    assert all(n.is_subdomain(EXAMPLE) for n in zone.rdatasets)


def test_dnspython_drops_out_of_zone_data_silently():
    """Pin: dnspython gives no sign of the ignored record, hence our own warning (G4)."""
    zone = dns.zone.from_file(str(DATA / "out-of-zone.zone"), EXAMPLE, relativize=False)
    assert zone.get_node(name("www.example.net.")) is None


def test_out_of_zone_origin_and_include(tmp_path):
    text = (
        HEADER
        + "$ORIGIN example.net.\nwww A 192.0.2.8\n  AAAA ::1\n$ORIGIN example.\nback A 192.0.2.9\n"
    )
    zone = load_text(tmp_path, text)
    assert [(w.code, w.location.line) for w in zone.warnings] == [
        ("out-of-zone", 6),
        ("out-of-zone", 7),
    ]
    assert set(zone.rdatasets) == {name("example."), name("ns1.example."), name("back.example.")}


def test_relative_names_under_an_origin_outside_the_zone_can_be_inside(tmp_path):
    zone = load_text(
        tmp_path, HEADER + "$ORIGIN .\nx.example A 192.0.2.1\n  AAAA ::1\ny.test A 192.0.2.2\n"
    )
    assert (dns.rdatatype.AAAA, dns.rdatatype.NONE) in zone.rdatasets[name("x.example.")]
    assert [(w.code, w.location.line) for w in zone.warnings] == [("out-of-zone", 8)]


def test_ttl_mismatch_keeps_the_first_ttl():
    zone = load_zone(str(DATA / "ttl-mismatch.zone"), EXAMPLE)
    rdataset = zone.rdatasets[name("www.example.")][(dns.rdatatype.A, dns.rdatatype.NONE)]
    assert rdataset.ttl == 300 and len(rdataset) == 2
    assert [w.code for w in zone.warnings] == ["ttl-mismatch"]


def test_default_ttl_from_soa_minimum():
    zone = load_zone(str(DATA / "default-ttl-from-soa.zone"), EXAMPLE)
    assert {rds.ttl for node in zone.rdatasets.values() for rds in node.values()} == {300}


def test_no_ttl_at_all_is_an_error(tmp_path):
    rejected = reject_text(
        tmp_path, "www A 192.0.2.1\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
    )
    assert [(p.code, p.location.line) for p in rejected.errors] == [("syntax", 1)]
    assert "no TTL" in rejected.errors[0].message


# -- what a good zone loads to -------------------------------------------------------------------


def rrsets(zone: LoadedZone) -> dict[tuple[dns.name.Name, int, int], tuple[int, set[str]]]:
    return {
        (owner, rdtype, covers): (rds.ttl, {rd.to_text() for rd in rds})
        for owner, node in zone.rdatasets.items()
        for (rdtype, covers), rds in node.items()
    }


def test_good_zone_has_the_expected_rdatasets():
    zone = load_zone(str(GOOD / "example.com.zone"), name("example.com."))
    got = rrsets(zone)
    A, AAAA, NS, MX, CNAME, SRV, NONE = (
        dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.NS, dns.rdatatype.MX,
        dns.rdatatype.CNAME, dns.rdatatype.SRV, dns.rdatatype.NONE,
    )  # fmt: skip
    assert got[(name("example.com."), NS, NONE)] == (3600, {"ns1.example.com.", "ns2.example.com."})
    assert got[(name("example.com."), MX, NONE)] == (3600, {"10 mail.example.com."})
    assert got[(name("www.example.com."), AAAA, NONE)] == (3600, {"2001:db8::10"})
    assert got[(name("ftp.example.com."), CNAME, NONE)] == (3600, {"www.example.com."})
    assert got[(name("*.apps.example.com."), A, NONE)] == (3600, {"192.0.2.80"})
    assert got[(name("_sip._tcp.example.com."), SRV, NONE)] == (
        3600,
        {"10 60 5060 www.example.com."},
    )
    assert len(got) == 14 and zone.warnings == []
    soa = zone.rdatasets[name("example.com.")][(dns.rdatatype.SOA, NONE)][0]
    assert (soa.serial, soa.minimum) == (2026112701, 300)
    assert zone.locations[(name("www.example.com."), AAAA)] == Location(
        str(GOOD / "example.com.zone"), 17
    )
    assert zone.locations[(name("example.com."), dns.rdatatype.SOA)].line == 4


def test_names_are_case_insensitive_and_duplicates_merge(tmp_path):
    text = HEADER + "WWW A 192.0.2.1\nwww A 192.0.2.1\nWww.Example. A 192.0.2.2\n"
    zone = load_text(tmp_path, text)
    (rdataset,) = zone.rdatasets[name("www.example.")].values()
    assert sorted(rd.address for rd in rdataset) == ["192.0.2.1", "192.0.2.2"]
    assert zone.warnings == [] and zone.locations[(name("www.example."), dns.rdatatype.A)].line == 5


def test_origin_changes(tmp_path):
    text = (
        HEADER + "$ORIGIN sub.example.\nwww A 192.0.2.1\n$ORIGIN deeper\nx MX 10 www\n"
        '@ TXT "at deeper"\n$ORIGIN example.\ny CNAME www.sub\n'
    )
    got = rrsets(load_text(tmp_path, text))
    NONE = dns.rdatatype.NONE
    assert got[(name("www.sub.example."), dns.rdatatype.A, NONE)][1] == {"192.0.2.1"}
    assert got[(name("x.deeper.sub.example."), dns.rdatatype.MX, NONE)][1] == {
        "10 www.deeper.sub.example."
    }
    assert (name("deeper.sub.example."), dns.rdatatype.TXT, NONE) in got
    assert got[(name("y.example."), dns.rdatatype.CNAME, NONE)][1] == {"www.sub.example."}


def test_include_relative_to_the_including_file_with_and_without_origin(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the zone's folder: the path must not depend on the cwd
    zone = load_zone(str(GOOD / "includes.zone"), EXAMPLE)
    part, part2 = str(GOOD / "include" / "part.inc"), str(GOOD / "include" / "part2.inc")
    A, AAAA, TXT = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.TXT
    assert zone.locations[(name("inc.example."), A)] == Location(part, 2)
    assert zone.locations[(name("x.other.example."), A)] == Location(part, 4)
    assert zone.locations[(name("y.lab.example."), AAAA)] == Location(part2, 3)
    assert zone.locations[(name("lab.example."), TXT)] == Location(part2, 4)
    # The includer's origin is back after the include (RFC 1035 §5.1).
    assert zone.locations[(name("after.example."), A)] == Location(str(GOOD / "includes.zone"), 8)


def test_generate(tmp_path):
    zone = load_zone(str(GOOD / "generate.zone"), EXAMPLE)
    assert (
        zone.rdatasets[name("host7.example.")][(dns.rdatatype.A, dns.rdatatype.NONE)][0].address
        == "10.0.0.7"
    )
    ptr = zone.rdatasets[name("rev010.example.")][(dns.rdatatype.PTR, dns.rdatatype.NONE)]
    assert ptr.ttl == 60 and ptr[0].target == name("host11.example.")
    assert zone.locations[(name("alias3.example."), dns.rdatatype.CNAME)].line == 8


def test_generated_out_of_zone_names_are_warned(tmp_path):
    zone = load_text(tmp_path, HEADER + "$GENERATE 1-2 h$.example.net. A 10.0.0.$\n")
    assert [(w.code, w.location.line) for w in zone.warnings] == [
        ("out-of-zone", 5),
        ("out-of-zone", 5),
    ]


def test_load_zone_requires_an_absolute_origin():
    with pytest.raises(ValueError):
        load_zone(str(GOOD / "crlf.zone"), dns.name.from_text("example", None))


# -- equal to dnspython's own parse ---------------------------------------------------------------

GOOD_ZONES = [
    ("features.zone", "example.org."),
    ("includes.zone", "example."),
    ("no-default-ttl.zone", "example."),
    ("generate.zone", "example."),
    ("crlf.zone", "example."),
    ("example.com.zone", "example.com."),
]


def dnspython_rrsets(path: str, origin: dns.name.Name):
    zone = dns.zone.from_file(path, origin, relativize=False)
    return {
        (owner, rds.rdtype, rds.covers): (rds.ttl, {rd.to_text() for rd in rds})
        for owner, node in zone.nodes.items()
        for rds in node.rdatasets
    }


def test_good_zones_cover_the_good_folder():
    assert sorted(f for f, _ in GOOD_ZONES) == sorted(p.name for p in GOOD.glob("*.zone"))


@pytest.mark.parametrize("filename, origin", GOOD_ZONES)
def test_good_zone_loads_as_dnspython_loads_it(monkeypatch, filename, origin):
    monkeypatch.chdir(GOOD)  # dnspython resolves $INCLUDE against the working directory
    ours = load_zone(filename, name(origin))
    assert rrsets(ours) == dnspython_rrsets(filename, name(origin))
    assert all(w.code == "default-ttl-from-soa" for w in ours.warnings)


# Generated good zones: random owners, A/AAAA/TXT/MX, $ORIGIN/$TTL changes, blank owners,
# parentheses and comments. Differences allowed: only where we warned `ttl-mismatch` (we keep the
# first TTL of an RRset, dnspython the smallest).

label = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=6
)
relative = st.lists(label, min_size=1, max_size=3).map(".".join)
ttl = st.sampled_from(["60", "300", "3600", "1h", "2h30m", "86400"])
txt_string = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
)
txt_word = st.text("abcdefghijklmnopqrstuvwxyz0123456789=.-", min_size=1, max_size=8)


@st.composite
def rdata_text(draw):
    rdtype = draw(st.sampled_from(["A", "AAAA", "TXT", "MX"]))
    if rdtype == "A":
        value = str(ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1))))
    elif rdtype == "AAAA":
        address = ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))
        value = draw(
            st.sampled_from([address.compressed, address.exploded, address.compressed.upper()])
        )
    elif rdtype == "TXT":
        value = " ".join(draw(st.lists(st.one_of(txt_string, txt_word), min_size=1, max_size=3)))
    else:
        target = draw(st.one_of(relative, relative.map(lambda r: r + ".example."), st.just("@")))
        value = f"{draw(st.integers(0, 65535))} {target}"
    return rdtype, value


@st.composite
def good_zones(draw):
    """A good zone. Records outside the zone get no explicit TTL: dnspython skips them before
    reading their TTL, while we (and BIND) let an explicit TTL there count as the last one."""
    top = draw(st.one_of(st.none(), ttl))
    soa_ttl = draw(st.one_of(st.none(), ttl))
    lines = [f"$TTL {top}"] if top else []
    lines += [
        f"example. {soa_ttl or ''} IN SOA ns1.example. hostmaster.example. 1 7200 3600 1209600 300",
        "example. 3600 NS ns1.example.",
        "ns1.example. 3600 A 192.0.2.1",
    ]
    origin, owner_in_zone = "example.", True
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["record"] * 8 + ["ttl", "origin"]))
        if kind == "ttl":
            lines.append(f"$TTL {draw(ttl)}")
            continue
        if kind == "origin":
            sub = draw(st.sampled_from(["sub.", "a.b.", ""]))
            origin = draw(st.sampled_from([f"{sub}example.", "elsewhere.test.", "."]))
            lines.append(f"$ORIGIN {origin}")
            continue
        owner = draw(
            st.one_of(
                st.just(""),
                relative,
                relative.map(lambda r: r + ".example."),
                relative.map(lambda r: r + ".example"),
                st.just("@"),
            )
        )
        if owner:
            full = owner if owner.endswith(".") else f"{owner}.{origin}".replace("..", ".")
            full = origin if owner == "@" else full
            owner_in_zone = full == "example." or full.endswith(".example.")
        fields = []
        record_ttl = draw(st.one_of(st.none(), ttl)) if owner_in_zone else None
        if draw(st.booleans()):
            fields += ["IN"] + ([record_ttl] if record_ttl else [])
        else:
            fields += ([record_ttl] if record_ttl else []) + (["IN"] if draw(st.booleans()) else [])
        rdtype, value = draw(rdata_text())
        if draw(st.integers(0, 4)) == 0 and '"' not in value:
            value = (
                "(\n    "
                + value.replace(" ", draw(st.sampled_from([" ", "\n    ", " ; comment\n  "])))
                + " )"
            )
        blank = draw(st.sampled_from([" ", "\t", "  \t"]))
        comment = draw(st.sampled_from(["", "", " ; a comment", ";c"]))
        sep = draw(st.sampled_from([" ", "\t"]))
        lines.append((owner or blank) + sep + sep.join(fields + [rdtype, value]) + comment)
    return "\n".join(lines) + "\n"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=good_zones())
def test_generated_zones_load_as_dnspython_loads_them(tmp_path, text):
    path = tmp_path / "generated.zone"
    path.write_text(text)
    ours = load_zone(str(path), EXAMPLE)
    theirs = dnspython_rrsets(str(path), EXAMPLE)
    mine = rrsets(ours)
    assert mine.keys() == theirs.keys()
    mismatched = {
        (dns.name.from_text(w.name), dns.rdatatype.from_text(w.message.split()[1].rstrip(":")))
        for w in ours.warnings
        if w.code == "ttl-mismatch"
    }
    for key, (our_ttl, our_rdata) in mine.items():
        their_ttl, their_rdata = theirs[key]
        assert our_rdata == their_rdata, key
        if (key[0], key[1]) in mismatched:
            assert our_ttl >= their_ttl  # ours: the first TTL; dnspython: the smallest
        else:
            assert our_ttl == their_ttl, key
    assert {w.code for w in ours.warnings} <= {
        "ttl-mismatch",
        "out-of-zone",
        "default-ttl-from-soa",
    }


# -- the text layer matches dnspython's tokenizer --------------------------------------------------


def dnspython_tokens(line: str):
    """(blank_owner, [(ttype, value)]) of one line per dns.tokenizer, or None if it raises."""
    tok = dns.tokenizer.Tokenizer(line)
    try:
        first = tok.get(want_leading=True)
        blank = first.is_whitespace()
        if not blank:
            tok.unget(first)
        tokens = []
        while True:
            token = tok.get()
            if token.is_eol_or_eof():
                return blank, tokens
            tokens.append((token.ttype, token.value))
    except dns.exception.DNSException:
        return None


def our_tokens(line: str):
    records = list(scan(line))
    if not records:
        return "empty"
    (record,) = records
    if record.error is not None:
        return None
    items = [
        (dns.tokenizer.IDENTIFIER, item) if isinstance(item, str) else (item.ttype, item.value)
        for item in record.items
    ]
    return record.blank_owner, items


@settings(max_examples=500, deadline=None)
@given(line=st.text(st.sampled_from(list('ab1 \t";()\\é\x0b.')), max_size=30))
def test_scan_tokens_equal_dnspython_tokens(line):
    expected = dnspython_tokens(line)
    got = our_tokens(line)
    if got == "empty":
        assert expected is not None and expected[1] == []
    else:
        assert got == expected


def test_rdata_shares_objects_for_repeated_text(tmp_path):
    zone = load_text(tmp_path, HEADER + "a MX 10 mail\nb MX 10 mail\nmail A 192.0.2.25\n")
    MX = (dns.rdatatype.MX, dns.rdatatype.NONE)
    assert zone.rdatasets[name("a.example.")][MX][0] is zone.rdatasets[name("b.example.")][MX][0]


def test_check_is_the_same_as_load_zone_runs(tmp_path):
    zone = load_zone(str(GOOD / "example.com.zone"), name("example.com."))
    assert checks.check(zone) == []
    assert isinstance(
        next(iter(next(iter(zone.rdatasets.values())).values())), dns.rdataset.Rdataset
    )


def test_ttl_above_2_to_the_31_is_zero_with_a_warning(tmp_path):
    zone = load_text(
        tmp_path,
        HEADER + "big 3000000000 A 192.0.2.1\n  AAAA ::1\n$TTL 2147483648\nx A 192.0.2.2\n",
    )
    assert [(w.code, w.location.line) for w in zone.warnings] == [
        ("ttl-out-of-range", 5),
        ("ttl-out-of-range", 7),
    ]
    ttls = {
        (str(n), dns.rdatatype.to_text(t)): rds.ttl
        for n, node in zone.rdatasets.items()
        for (t, _), rds in node.items()
    }
    assert ttls[("big.example.", "A")] == 0 and ttls[("x.example.", "A")] == 0
    assert ttls[("big.example.", "AAAA")] == 3600  # $TTL, not the last TTL, is the default


def test_generate_does_not_change_the_inherited_owner_but_does_the_ttl(tmp_path):
    # BIND: a blank owner after $GENERATE is the owner before it; the explicit TTL carries on.
    text = (
        "@ 300 SOA ns1 hm 1 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n"
        "$GENERATE 1-2 h$ 60 A 10.0.0.$\n  TXT x\n"
    )
    zone = load_text(tmp_path, text)
    txt = zone.rdatasets[name("ns1.example.")][(dns.rdatatype.TXT, dns.rdatatype.NONE)]
    assert txt.ttl == 60


def test_generate_range_is_capped(tmp_path):
    rejected = reject_text(tmp_path, HEADER + "$GENERATE 0-2000000 h$ A 10.0.0.1\n")
    assert [(p.code, p.location.line) for p in rejected.errors] == [("syntax", 5)]


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text("abcXYZ019-_*.", min_size=1, max_size=70),
        st.lists(st.text("ab", min_size=60, max_size=66), min_size=1, max_size=5).map(".".join),
    )
)
def test_cached_name_parsing_equals_dnspython(text):
    from hiddenprimary.zone.record_tokens import RecordTokens

    origin = name("Sub.Example.")
    try:
        expected = dns.name.from_text(text, origin)
    except dns.exception.DNSException as exc:
        with pytest.raises(type(exc)):
            RecordTokens().name(text, origin)
        return
    got = RecordTokens().name(text, origin)
    assert got.labels == expected.labels  # case kept, label by label
