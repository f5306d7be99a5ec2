"""zone.wire_load, the fast twin of zone.load: whenever it returns a version, that version is
byte for byte the one the full load's RRsets make (WireVersion.from_nodes), and the full load
found neither an error nor a warning; whatever it refuses, the full load reads. Clean zones of
the common types are not refused (else the fast path would be a stub)."""

from __future__ import annotations

import pathlib
import tempfile

import dns.exception
import dns.ipv6
import dns.name
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.errors import ZoneRejected
from hiddenprimary.zone.load import load_zone
from hiddenprimary.zone.source import ReadLimits
from hiddenprimary.zone import wire_load
from hiddenprimary.zone.wire_load import load_wire
from hiddenprimary.zone.wire_version import WireVersion

EXAMPLE = dns.name.from_text("example.")
SOA = "@ SOA ns1 hostmaster 1 7200 3600 1209600 300"

OWNERS = ["@", "www", "WWW", "mail", "a.b", "*.wild", "sub", "ns.sub", "deep.ns.sub", "x.example.",
          "X.Example.", "out.other.", "ns1", "a\\.b", "ü", "", ""]
RDATA = {
    "A": ["192.0.2.1", "10.0.0.1", "01.2.3.4", "256.1.1.1", "1.2.3", "0.0.0.0", "192.0.2.1 x"],
    "AAAA": ["2001:db8::1", "2001:DB8::1", "::1", "::", "::ffff:1.2.3.4", "1::2::3", "12345::1",
             "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::ffff:0:0"],
    "NS": ["ns1", "ns.sub", "ns1.example.", "ns.other.", "@", "NS1", "mail"],
    "CNAME": ["www", "target.other.", "mail", "Www", "a\\.b", "."],
    "PTR": ["host.other.", "a\\.b", "x" * 64],
    "MX": ["10 mail", "0 @", "65536 mail", "10 Mail.example.", "010 mail", "10", "-1 mail"],
    "TXT": ["hello", '"hi there"', '"a\\"b"', '""', "two words", '"ünï"', '"' + "x" * 256 + '"',
            '"' + "y" * 200 + '" "' + "z" * 200 + '"', "a;comment"],
    "SRV": ["0 5 5060 sip", "1 2 3 ."],
    "CAA": ['0 issue "ca.example"'],
    "SOA": ["ns1 host 2 3 4 5 6", "ns1 hostmaster 1 7200 3600 1209600 300"],
    "DS": ["12345 13 2 " + "ab" * 32],
    "DNAME": ["other."],
    "TYPE65534": ["\\# 2 abcd"],
    "FOO": ["1"],
}
DIRECTIVES = ["$TTL 60", "$TTL 1d", "$TTL 4294967295", "$ORIGIN sub.example.", "$ORIGIN example.",
              "$ORIGIN Example.", "$ORIGIN other.", "$INCLUDE inc.db", "$GENERATE 1-3 h$ A 10.0.0.$",
              "$BOGUS x", "( unbalanced"]


@st.composite
def record_line(draw) -> str:
    owner = draw(st.sampled_from(OWNERS))
    fields = [owner if owner else draw(st.sampled_from([" ", "\t"]))]
    if draw(st.booleans()):
        fields.append(draw(st.sampled_from(["60", "300", "1h", "2147483648", "3600"])))
    if draw(st.integers(0, 3)) == 0:
        fields.append(draw(st.sampled_from(["IN", "in", "CH"])))
    rdtype = draw(st.sampled_from([t for t in RDATA for _ in range(3 if t in ("A", "AAAA", "TXT") else 1)]))
    fields += [rdtype, draw(st.sampled_from(RDATA[rdtype]))]
    return " ".join(fields)


@st.composite
def clean_line(draw) -> str:
    """A record of the common types that no rule objects to (given the header below)."""
    owner = draw(st.sampled_from(["host", "Host", "web.eu", "*.w", "", "x.example."]))
    fields = [owner if owner else " "]
    if draw(st.booleans()):
        fields.append("300")
    kind = draw(st.sampled_from(["A", "AAAA", "MX", "TXT", "PTR"]))
    value = {"A": ["192.0.2.7", "10.1.2.3"], "AAAA": ["2001:db8::7", "fe80::1"],
             "MX": ["10 ns1", "20 mail.other."], "TXT": ['"v=spf1 -all"', "word", '"a b" c'],
             "PTR": ["ptr.other."]}[kind]
    return " ".join([*fields, kind, draw(st.sampled_from(value))])


GOOD = {
    "A": ["192.0.2.1", "10.0.0.1", "0.0.0.0", "255.255.255.255"],
    "AAAA": ["2001:db8::1", "2001:DB8::1", "::1", "::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::"],
    "PTR": ["host.other.", "a\\.b", "Host.Other.", "host.other."],
    "MX": ["10 ns1", "0 @", "10 NS1", "010 ns1", "65535 mx.other."],
    "TXT": ["hello", '"hi there"', '"a\\"b"', '""', "two words", '"ünï"', '"' + "x" * 255 + '"',
            '"' + "y" * 200 + '" "' + "z" * 200 + '"', "a;comment", "(one two)", "Hello", '"\\065"'],
    "SRV": ["0 5 5060 sip", "1 2 3 ."],
    "CAA": ['0 issue "ca.example"'],
    "SSHFP": ["1 1 " + "ab" * 20],
    "TYPE65534": ["\\# 2 abcd"],
    "HINFO": ['"cpu" "os"'],
}


@st.composite
def good_line(draw) -> str:
    """A record that is valid on its own, of many types and spellings (two together may still
    break a rule, e.g. a TTL mismatch)."""
    owner = draw(st.sampled_from(["host", "Host", "HOST.example.", "web.eu", "*.w", "a\\.b", "", "ü"]))
    fields = [owner if owner else " "]
    if draw(st.booleans()):
        fields.append("300")
    if draw(st.booleans()):
        fields.append(draw(st.sampled_from(["IN", "in"])))
    rdtype = draw(st.sampled_from(sorted(GOOD)))
    fields += [rdtype, draw(st.sampled_from(GOOD[rdtype]))]
    return " ".join(fields)


def full(path: pathlib.Path) -> tuple[str, object]:
    try:
        zone = load_zone(str(path), EXAMPLE)
    except ZoneRejected:
        return "rejected", None
    return "ok", zone


def check_twin(text: str, include: str = "") -> object:
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "zone.db"
        path.write_text(text)
        (pathlib.Path(folder) / "inc.db").write_text(include)
        fast = load_wire(str(path), EXAMPLE)
        outcome, zone = full(path)
    if fast is None:
        return None
    assert outcome == "ok" and not zone.warnings, "the fast load accepted what the full load does not"
    expected = WireVersion.from_nodes(EXAMPLE, zone.rdatasets)
    assert fast.version._packed == expected._packed
    assert fast.version.rr_count == expected.rr_count
    assert [n.to_text() for n in fast.version.names()] == [n.to_text() for n in expected.names()]
    assert [p for p, _ in fast.sources] == [p for p, _ in zone.sources]
    return fast


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=st.sampled_from(["$TTL 300\n", "", "$TTL 300\n$ORIGIN example.\n"]),
       body=st.lists(st.one_of(record_line(), record_line(), st.sampled_from(DIRECTIVES)), max_size=14),
       ns=st.booleans())
def test_whatever_the_fast_load_returns_is_the_full_load(head, body, ns):
    apex = f"{SOA}\n@ NS ns1\nns1 A 192.0.2.53\n" if ns else f"{SOA}\n"
    check_twin(head + apex + "\n".join(body) + "\n", "inc A 192.0.2.9\n")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(good_line(), max_size=10))
def test_valid_records_of_many_types_read_fast_are_the_full_load(body):
    check_twin(f"$TTL 300\n{SOA}\n  NS ns1\nns1 A 192.0.2.53\n" + "\n".join(body) + "\n")


@settings(max_examples=150, deadline=None)
@given(body=st.lists(clean_line(), max_size=20), delegation=st.booleans())
def test_clean_zones_of_the_common_types_are_read_fast(body, delegation):
    cut = "sub NS ns.sub\nsub NS ns.other.\nns.sub A 192.0.2.8\nns.sub AAAA 2001:db8::8\n" if delegation else ""
    text = f"$TTL 300\n{SOA} ; the apex\n  NS ns1\n{cut}ns1 A 192.0.2.53\n" + "\n".join(body) + "\n"
    assert check_twin(text) is not None


def test_an_soa_over_several_lines_with_comments_is_read_fast():
    text = ("$TTL 1h\n@ IN SOA ns1.example. hostmaster.example. (\n  2024010101 ; serial\n  7200 3600\n"
            "  1209600 300 )\n  IN NS ns1\nns1 IN A 192.0.2.1\n")
    fast = check_twin(text)
    assert fast is not None and fast.version.serial == 2024010101


@pytest.mark.parametrize("line", [
    "$INCLUDE inc.db",                  # includes: the full load follows them
    "$GENERATE 1-3 h$ A 10.0.0.$",      # generated records
    "$ORIGIN other.",                   # an origin outside the zone
    "out.other. A 192.0.2.1",           # out-of-zone data (a warning)
    "www 60 A 192.0.2.1\nwww 300 A 192.0.2.2",   # two TTLs in one RRset (a warning)
    "sub NS ns.sub",                    # a delegation without glue (an error)
    "sub NS ns.other.\nsub TXT x",      # occluded data (a warning)
    "c CNAME www\nc A 192.0.2.1",       # CNAME and other data (an error)
    "d DNAME other.",                   # DNAME rules
    "a\\.b A 192.0.2.1",                # an escaped owner
    "www A 999.1.1.1",                  # a syntax error
])
def test_what_the_fast_load_hands_to_the_full_load(line):
    text = f"$TTL 300\n{SOA}\n  NS ns1\nns1 A 192.0.2.53\n{line}\n"
    assert check_twin(text, "inc A 192.0.2.9\n") is None


def test_a_soa_minimum_standing_in_for_the_ttl_is_left_to_the_full_load():
    assert check_twin(f"{SOA}\n  NS ns1\nns1 A 192.0.2.53\n") is None  # it warns default-ttl-from-soa
    assert check_twin(f"@ 300 SOA ns1 h 1 2 3 4 5\n  NS ns1\nns1 A 192.0.2.53\n") is not None


def test_the_record_limit_is_left_to_the_full_load(tmp_path):
    path = tmp_path / "zone.db"
    path.write_text(f"$TTL 300\n{SOA}\n  NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.1\n")
    assert load_wire(str(path), EXAMPLE, ReadLimits(max_records=3)) is None
    assert load_wire(str(path), EXAMPLE, ReadLimits(max_records=4)) is not None


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["", "0", "1", "ab", "ABCD", "12345", "f", "::"]), min_size=1, max_size=10))
def test_an_ipv6_address_read_here_is_what_dnspython_reads(parts):
    text = ":".join(parts)
    mine = wire_load._ipv6(text)
    try:
        reference = dns.ipv6.inet_aton(text)
    except dns.exception.SyntaxError:
        reference = None
    assert mine is None or mine == reference  # None: dnspython decides
    if text in ("::", "1:2:3:4:5:6:7:8", "2001:DB8::1", "1:2:3:4:5:6:7::"):
        assert mine is not None
