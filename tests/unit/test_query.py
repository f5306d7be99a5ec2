"""query.answer: RFC 1034 4.3.2 for an authoritative server, RFC 4592 wildcards, RFC 2308
negative answers. Each test names the rule it pins."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from hiddenprimary.serve.query import MAX_CNAME_CHAIN, answer, negative_soa
from hiddenprimary.zone.version import ZoneVersion
from tests.zones import QUERY_ZONE, version_from_text

ORIGIN = "example.com."

@pytest.fixture(scope="module")
def zone() -> ZoneVersion:
    return version_from_text(QUERY_ZONE, ORIGIN)


def ask(zone: ZoneVersion, qname: str, qtype: str, *, rdclass: str = "IN", do: bool = False):
    name = dns.name.from_text(qname, dns.name.from_text(ORIGIN)) if not qname.endswith(".") else qname
    query = dns.message.make_query(name, qtype, rdclass, use_edns=0 if do else None, want_dnssec=do)
    return answer(zone, query)


def section(rrsets) -> list[str]:
    return sorted(rrset.to_text() for rrset in rrsets)


def names_types(rrsets) -> list[tuple[str, str]]:
    return [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in rrsets]


def is_aa(response) -> bool:
    return bool(response.flags & dns.flags.AA)


# -- positive answers ------------------------------------------------------------------------------


def test_exact_match_is_authoritative(zone):
    r = ask(zone, "www", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert is_aa(r)
    assert section(r.answer) == ["www.example.com. 3600 IN A 192.0.2.3"]
    assert r.authority == [] and r.additional == []


def test_reply_echoes_id_question_and_rd(zone):
    query = dns.message.make_query("www.example.com.", "A")
    r = answer(zone, query)
    assert r.id == query.id
    assert r.question == query.question
    assert r.flags & dns.flags.QR and r.flags & dns.flags.RD
    assert not r.flags & dns.flags.RA


def test_answer_owner_is_the_query_name_case_preserved(zone):
    r = ask(zone, "WwW.Example.COM.", "A")
    assert r.answer[0].name.to_text() == "WwW.Example.COM."


def test_apex_ns_answer_gets_in_zone_addresses(zone):
    r = ask(zone, "example.com.", "NS")
    assert is_aa(r)
    assert names_types(r.answer) == [("example.com.", "NS")]
    assert names_types(r.additional) == [("ns1.example.com.", "A"), ("ns1.example.com.", "AAAA")]


def test_mx_additional_only_in_zone_and_not_below_a_cut(zone):
    r = ask(zone, "example.com.", "MX")
    # mail.example.net. is outside the zone; host.sub.example.com. is below the cut (not ours).
    assert names_types(r.additional) == [("mail.example.com.", "A")]


def test_srv_additional(zone):
    r = ask(zone, "_sip._tcp", "SRV")
    assert names_types(r.answer) == [("_sip._tcp.example.com.", "SRV")]
    assert section(r.additional) == ["sip.example.com. 3600 IN A 192.0.2.20"]


# -- CNAME -------------------------------------------------------------------------------------------


def test_cname_followed_in_zone(zone):
    r = ask(zone, "alias", "A")
    assert is_aa(r) and r.rcode() == dns.rcode.NOERROR
    assert names_types(r.answer) == [("alias.example.com.", "CNAME"), ("www.example.com.", "A")]


def test_cname_chain_followed_in_order(zone):
    r = ask(zone, "chain1", "AAAA")
    assert names_types(r.answer) == [
        ("chain1.example.com.", "CNAME"),
        ("chain2.example.com.", "CNAME"),
        ("alias.example.com.", "CNAME"),
        ("www.example.com.", "AAAA"),
    ]


def test_cname_query_for_cname_is_not_followed(zone):
    r = ask(zone, "alias", "CNAME")
    assert names_types(r.answer) == [("alias.example.com.", "CNAME")]


def test_cname_loop_stops(zone):
    r = ask(zone, "loop1", "A")
    assert r.rcode() == dns.rcode.NOERROR and is_aa(r)
    assert names_types(r.answer) == [("loop1.example.com.", "CNAME"), ("loop2.example.com.", "CNAME")]
    r = ask(zone, "selfloop", "A")
    assert names_types(r.answer) == [("selfloop.example.com.", "CNAME")]


def test_cname_chain_is_bounded():
    lines = [f"c{i} CNAME c{i + 1}" for i in range(40)]
    zone = version_from_text("@ 300 IN SOA ns hm 1 2 3 4 5\n@ 300 NS ns\n" + "\n".join(lines) + "\n")
    r = ask(zone, "c0", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert len(r.answer) == MAX_CNAME_CHAIN + 1


def test_cname_out_of_zone_is_not_followed(zone):
    r = ask(zone, "out", "A")
    assert r.rcode() == dns.rcode.NOERROR and is_aa(r)
    assert names_types(r.answer) == [("out.example.com.", "CNAME")]
    assert r.authority == []


def test_cname_to_missing_name_is_nxdomain_rfc6604(zone):
    r = ask(zone, "dangling", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN and is_aa(r)
    assert names_types(r.answer) == [("dangling.example.com.", "CNAME")]
    assert names_types(r.authority) == [("example.com.", "SOA")]


def test_cname_to_name_without_the_type_is_nodata(zone):
    r = ask(zone, "alias", "MX")
    assert r.rcode() == dns.rcode.NOERROR
    assert names_types(r.answer) == [("alias.example.com.", "CNAME")]
    assert names_types(r.authority) == [("example.com.", "SOA")]


def test_cname_into_a_cut_gives_the_referral_with_aa(zone):
    r = ask(zone, "tocut", "A")
    assert is_aa(r)  # RFC 1035 4.1.1: AA is about the first answer RRset, which is ours
    assert names_types(r.answer) == [("tocut.example.com.", "CNAME")]
    assert names_types(r.authority) == [("sub.example.com.", "NS")]
    assert ("ns.sub.example.com.", "A") in names_types(r.additional)


# -- negative answers (RFC 2308) -------------------------------------------------------------------


def test_nxdomain_has_soa_with_rfc2308_ttl(zone):
    r = ask(zone, "nothere", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN and is_aa(r)
    assert r.answer == []
    (soa,) = r.authority
    assert soa.rdtype == dns.rdatatype.SOA and soa.name == zone.origin
    assert soa.ttl == 300  # RFC 2308 3: min(SOA TTL 3600, MINIMUM 300)


def test_rfc2308_negative_ttl_is_soa_ttl_when_smaller():
    zone = version_from_text("@ 60 IN SOA ns hm 1 2 3 4 900\n@ 60 NS ns\nns 60 A 192.0.2.1\n")
    assert ask(zone, "missing", "A").authority[0].ttl == 60
    assert ask(zone, "ns", "MX").authority[0].ttl == 60
    assert negative_soa(zone).ttl == 60


def test_negative_soa_does_not_touch_the_version(zone):
    ask(zone, "nothere", "A")
    assert zone.soa.ttl == 3600


def test_nodata_has_soa(zone):
    r = ask(zone, "www", "MX")
    assert r.rcode() == dns.rcode.NOERROR and is_aa(r)
    assert r.answer == []
    assert names_types(r.authority) == [("example.com.", "SOA")]
    assert r.authority[0].ttl == 300


def test_empty_non_terminal_is_nodata_not_nxdomain(zone):
    r = ask(zone, "b.ent", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert names_types(r.authority) == [("example.com.", "SOA")]
    r = ask(zone, "ent", "A")
    assert r.rcode() == dns.rcode.NOERROR


def test_below_an_existing_leaf_is_nxdomain(zone):
    assert ask(zone, "x.www", "A").rcode() == dns.rcode.NXDOMAIN


# -- wildcards (RFC 4592) --------------------------------------------------------------------------


def test_wildcard_synthesizes_with_query_name(zone):
    r = ask(zone, "anything.wild", "A")
    assert r.rcode() == dns.rcode.NOERROR and is_aa(r)
    assert section(r.answer) == ["anything.wild.example.com. 3600 IN A 192.0.2.10"]


def test_wildcard_matches_more_than_one_label(zone):
    # RFC 4592 3.3.1: closest encloser wild.example.com., source of synthesis *.wild.
    r = ask(zone, "a.b.c.wild", "TXT")
    assert section(r.answer) == ['a.b.c.wild.example.com. 3600 IN TXT "synthesized"']


def test_wildcard_nodata(zone):
    r = ask(zone, "anything.wild", "MX")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert names_types(r.authority) == [("example.com.", "SOA")]


def test_wildcard_does_not_match_existing_name(zone):
    r = ask(zone, "exists.wild", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []  # NODATA: exists.wild has only MX


def test_wildcard_does_not_match_empty_non_terminal(zone):
    # RFC 4592 2.2.2: ent2.wild exists (it has a descendant), so *.wild does not apply to it.
    r = ask(zone, "ent2.wild", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []


def test_wildcard_below_an_existing_name_uses_its_closest_encloser(zone):
    # x.ent2.wild: closest encloser ent2.wild, *.ent2.wild does not exist -> NXDOMAIN.
    assert ask(zone, "x.ent2.wild", "A").rcode() == dns.rcode.NXDOMAIN


def test_wildcard_only_applies_below_its_parent(zone):
    assert ask(zone, "e", "TXT").answer == []  # e.example.com. is an empty non-terminal
    assert ask(zone, "x.e", "TXT").answer[0].name.to_text() == "x.e.example.com."
    assert ask(zone, "x.nothere", "TXT").rcode() == dns.rcode.NXDOMAIN


def test_empty_non_terminal_wildcard_gives_nodata(zone):
    # *.entwild exists only as an empty non-terminal (a.*.entwild has data): NODATA, RFC 4592 2.2.
    r = ask(zone, "x.entwild", "A")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []


def test_no_wildcard_match_below_a_delegation(zone):
    r = ask(zone, "x.deleg.wild", "A")
    assert not is_aa(r) and r.answer == []
    assert names_types(r.authority) == [("deleg.wild.example.com.", "NS")]


def test_wildcard_cname_is_followed(zone):
    r = ask(zone, "foo.cn", "A")
    assert is_aa(r)
    assert names_types(r.answer) == [("foo.cn.example.com.", "CNAME"), ("www.example.com.", "A")]


def test_wildcard_cname_loop_stops(zone):
    r = ask(zone, "a.cnloop", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert names_types(r.answer) == [("a.cnloop.example.com.", "CNAME"), ("x.y.cnloop.example.com.", "CNAME")]


# -- referrals -------------------------------------------------------------------------------------


def test_referral_at_and_below_cut(zone):
    for qname in ("sub", "host.sub", "deep.below.sub", "ns.sub"):
        r = ask(zone, qname, "A")
        assert r.rcode() == dns.rcode.NOERROR
        assert not is_aa(r), qname
        assert r.answer == []
        assert names_types(r.authority) == [("sub.example.com.", "NS")]
        targets = sorted(rdata.target.to_text() for rdata in r.authority[0])
        assert targets == ["ns.example.net.", "ns.sub.example.com.", "ns1.example.com."]
        assert names_types(r.additional) == [
            ("ns.sub.example.com.", "A"),
            ("ns.sub.example.com.", "AAAA"),
            ("ns1.example.com.", "A"),
            ("ns1.example.com.", "AAAA"),
        ]


def test_ns_query_at_cut_is_a_referral(zone):
    r = ask(zone, "sub", "NS")
    assert not is_aa(r) and r.answer == []
    assert names_types(r.authority) == [("sub.example.com.", "NS")]


def test_any_at_cut_is_a_referral(zone):
    r = ask(zone, "sub", "ANY")
    assert not is_aa(r) and r.answer == []


def test_ds_at_cut_answered_from_parent_side(zone):
    # RFC 4035 3.1.4.1: DS belongs to the parent zone: authoritative answer, not a referral.
    r = ask(zone, "sub", "DS")
    assert is_aa(r) and r.rcode() == dns.rcode.NOERROR
    assert names_types(r.answer) == [("sub.example.com.", "DS")]
    assert r.authority == []


def test_ds_at_cut_without_ds_is_nodata(zone):
    r = ask(zone, "insecure", "DS")
    assert is_aa(r) and r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert names_types(r.authority) == [("example.com.", "SOA")]


def test_ds_below_cut_is_a_referral(zone):
    r = ask(zone, "x.sub", "DS")
    assert not is_aa(r)
    assert names_types(r.authority) == [("sub.example.com.", "NS")]


def test_referral_with_do_includes_ds(zone):
    r = ask(zone, "host.sub", "A", do=True)
    assert names_types(r.authority) == [("sub.example.com.", "NS"), ("sub.example.com.", "DS")]


def test_referral_glue_only_for_in_zone_targets(zone):
    r = ask(zone, "insecure", "A")
    assert names_types(r.additional) == [("ns.insecure.example.com.", "A")]
    r = ask(zone, "x.deleg.wild", "A")
    assert r.additional == []  # ns.example.net. is not ours


# -- ANY, classes, meta types ----------------------------------------------------------------------


def test_any_returns_every_rrset_at_the_name(zone):
    r = ask(zone, "www", "ANY")
    assert is_aa(r)
    assert sorted(names_types(r.answer)) == [
        ("www.example.com.", "A"),
        ("www.example.com.", "AAAA"),
        ("www.example.com.", "TXT"),
    ]


def test_any_at_apex_includes_additional(zone):
    r = ask(zone, "example.com.", "ANY")
    types = {t for _, t in names_types(r.answer)}
    assert {"SOA", "NS", "MX"} <= types
    assert ("mail.example.com.", "A") in names_types(r.additional)


def test_any_does_not_follow_cname(zone):
    r = ask(zone, "alias", "ANY")
    assert names_types(r.answer) == [("alias.example.com.", "CNAME")]


def test_any_at_empty_non_terminal_is_nodata(zone):
    r = ask(zone, "ent", "ANY")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert names_types(r.authority) == [("example.com.", "SOA")]


def test_any_nxdomain(zone):
    assert ask(zone, "nothere", "ANY").rcode() == dns.rcode.NXDOMAIN


def test_any_wildcard(zone):
    r = ask(zone, "q.wild", "ANY")
    assert sorted(names_types(r.answer)) == [("q.wild.example.com.", "A"), ("q.wild.example.com.", "TXT")]


def ask_minimal(zone: ZoneVersion, qname: str, do: bool = False):
    name = dns.name.from_text(qname, dns.name.from_text(ORIGIN)) if not qname.endswith(".") else qname
    query = dns.message.make_query(name, "ANY", use_edns=0 if do else None, want_dnssec=do)
    return answer(zone, query, minimal_any=True)


@pytest.mark.parametrize("qname,expected", [
    ("www", [("www.example.com.", "A")]),  # A, AAAA, TXT: the lowest type
    ("example.com.", [("example.com.", "NS")]),  # NS(2) before SOA(6) and MX(15)
    ("alias", [("alias.example.com.", "CNAME")]),
    ("_sip._tcp", [("_sip._tcp.example.com.", "SRV")]),
    ("q.wild", [("q.wild.example.com.", "A")]),  # synthesized, owned by the query name
])
def test_minimal_any_returns_the_rrset_of_the_lowest_type(zone, qname, expected):
    # RFC 8482 4.1 (issue 11 item 14): one RRset, as BIND's minimal-any; no TC.
    r = ask_minimal(zone, qname)
    assert is_aa(r) and r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
    assert names_types(r.answer) == expected


def test_minimal_any_additional_is_for_the_rrset_sent(zone):
    r = ask_minimal(zone, "example.com.")
    assert names_types(r.additional) == [("ns1.example.com.", "A"), ("ns1.example.com.", "AAAA")]
    assert ("mail.example.com.", "A") not in names_types(r.additional)  # the MX was not sent
    r = ask_minimal(zone, "_sip._tcp")
    assert names_types(r.additional) == [("sip.example.com.", "A")]


def test_minimal_any_negative_answers_are_unchanged(zone):
    r = ask_minimal(zone, "ent")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert names_types(r.authority) == [("example.com.", "SOA")]
    assert ask_minimal(zone, "nothere").rcode() == dns.rcode.NXDOMAIN
    r = ask_minimal(zone, "host.sub")
    assert not is_aa(r) and names_types(r.authority) == [("sub.example.com.", "NS")]


@pytest.mark.parametrize("rdclass", ["CH", "HS", "ANY", "NONE"])
def test_non_in_class_is_refused(zone, rdclass):
    r = ask(zone, "www", "A", rdclass=rdclass)
    assert r.rcode() == dns.rcode.REFUSED
    assert not is_aa(r)
    assert r.answer == r.authority == r.additional == []


def test_name_outside_zone_is_refused(zone):
    r = ask(zone, "www.example.net.", "A")
    assert r.rcode() == dns.rcode.REFUSED and not is_aa(r)


@pytest.mark.parametrize(
    "qtype,rcode",
    [
        ("MAILA", dns.rcode.NOTIMP),
        ("MAILB", dns.rcode.NOTIMP),
        ("TKEY", dns.rcode.NOTIMP),
        ("TSIG", dns.rcode.FORMERR),
        ("OPT", dns.rcode.FORMERR),
        ("AXFR", dns.rcode.REFUSED),
        ("IXFR", dns.rcode.REFUSED),
    ],
)
def test_meta_qtypes(zone, qtype, rcode):
    r = ask(zone, "www", qtype)
    assert r.rcode() == rcode
    assert r.answer == [] and not is_aa(r)


def test_unknown_type_is_nodata(zone):
    r = ask(zone, "www", "TYPE65000")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert names_types(r.authority) == [("example.com.", "SOA")]


# -- DNSSEC records with DO ------------------------------------------------------------------------

SIGNED_TEXT = """
$TTL 300
@   IN SOA ns hm 1 2 3 4 60
@   NS ns
ns  A 192.0.2.1
ns  RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.com. AAAA
*.w A 192.0.2.2
*.w RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.com. AAAA
"""


def test_rrsig_added_only_with_do():
    zone = version_from_text(SIGNED_TEXT)
    assert names_types(ask(zone, "ns", "A").answer) == [("ns.example.com.", "A")]
    r = ask(zone, "ns", "A", do=True)
    assert names_types(r.answer) == [("ns.example.com.", "A"), ("ns.example.com.", "RRSIG")]
    r = ask(zone, "x.w", "A", do=True)  # the wildcard's RRSIG, owned by the query name
    assert names_types(r.answer) == [("x.w.example.com.", "A"), ("x.w.example.com.", "RRSIG")]
    assert r.answer[1][0].labels == 3  # RFC 4034 3.1.3: the label count reveals the expansion


def test_any_without_do_omits_rrsig():
    zone = version_from_text(SIGNED_TEXT)
    assert names_types(ask(zone, "ns", "ANY").answer) == [("ns.example.com.", "A")]
    assert len(ask(zone, "ns", "ANY", do=True).answer) == 2


def test_minimal_any_with_do_adds_the_rrsig_of_the_rrset_sent():
    zone = version_from_text(SIGNED_TEXT + "ns AAAA 2001:db8::1\nns RRSIG AAAA 13 3 300 20300101000000 "
                             "20200101000000 12345 example.com. AAAA\n")
    r = ask_minimal(zone, "ns", do=True)
    assert names_types(r.answer) == [("ns.example.com.", "A"), ("ns.example.com.", "RRSIG")]
    assert r.answer[1].covers == dns.rdatatype.A
    assert names_types(ask_minimal(zone, "ns").answer) == [("ns.example.com.", "A")]
    assert len(ask(zone, "ns", "ANY", do=True).answer) == 4  # the full answer: A, AAAA and their RRSIGs


def test_answer_leaves_request_and_version_untouched(zone):
    query = dns.message.make_query("alias.example.com.", "A")
    before = query.to_text()
    rr_count = zone.rr_count
    answer(zone, query)
    assert query.to_text() == before
    assert zone.rr_count == rr_count and zone.get(dns.name.from_text("www.example.com."), 1).ttl == 3600


def test_minimal_any_skips_the_nsec_where_the_name_holds_data():
    """Review finding: at a name whose types are all above NSEC (47), "lowest type" gave the NSEC."""
    zone = version_from_text(SIGNED_TEXT + "tls CAA 0 issue \"ca.example\"\n"
                             "tls NSEC www.example.com. CAA RRSIG NSEC\n")
    assert names_types(ask_minimal(zone, "tls").answer) == [("tls.example.com.", "CAA")]
