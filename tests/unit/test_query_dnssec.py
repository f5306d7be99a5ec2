"""query.answer with DO on zones signed by BIND's dnssec-signzone (a real signer): the NSEC and
NSEC3 records of each negative and wildcard answer (RFC 4035 3.1.3-3.1.4, RFC 5155 7.2, RFC 7129).

Expected NSEC owners are written out; expected NSEC3 owners are found by scanning the signer's
own chain with dnspython's `nsec3_hash` (owner hash <= hash < next hash), not through the code
under test. tests/integration/test_dnssec_answers.py has delv validate the same answers."""

from __future__ import annotations

import base64
import pathlib
import shutil

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.zone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.dnssec import denial
from hiddenprimary.serve.query import answer
from hiddenprimary.zone.load import load_zone
from hiddenprimary.zone.version import ZoneVersion
from tests.bind_signer import FLAVOURS, make_keys, sign
from tests.zones import DENIAL_ZONE, version_from_text

ORIGIN = dns.name.from_text("example.")
T = dns.rdatatype

needs_signer = pytest.mark.skipif(
    shutil.which("dnssec-signzone") is None or shutil.which("dnssec-keygen") is None,
    reason="no dnssec-signzone/dnssec-keygen (bind9-utils)",
)


def load(path: pathlib.Path, origin: dns.name.Name = ORIGIN) -> ZoneVersion:
    loaded = load_zone(str(path), origin)
    assert loaded.warnings == []  # the loader takes a signed file as it is
    return ZoneVersion(origin, loaded.rdatasets)


@pytest.fixture(scope="module")
def signed_files(tmp_path_factory) -> dict[str, pathlib.Path]:
    if shutil.which("dnssec-signzone") is None:
        pytest.skip("no dnssec-signzone")
    base = tmp_path_factory.mktemp("signed")
    make_keys(base / "keys")
    return {flavour: sign(base, base / "keys", flavour) for flavour in FLAVOURS}


@pytest.fixture(scope="module")
def zones(signed_files) -> dict[str, ZoneVersion]:
    return {flavour: load(path) for flavour, path in signed_files.items()}


@pytest.fixture(scope="module")
def unsigned() -> ZoneVersion:
    return version_from_text(DENIAL_ZONE, ORIGIN.to_text())


# -- helpers ---------------------------------------------------------------------------------------


def n(text: str) -> dns.name.Name:
    return dns.name.from_text(text, ORIGIN)


def ask(zone: ZoneVersion, qname: str, qtype: str, do: bool = True) -> dns.message.Message:
    query = dns.message.make_query(n(qname), qtype, use_edns=0 if do else None, want_dnssec=do)
    return answer(zone, query)


def names_types(rrsets) -> list[tuple[str, str]]:
    return [(r.name.relativize(ORIGIN).to_text(), T.to_text(r.rdtype)) for r in rrsets]


def denial_owners(response, rdtype: int) -> list[dns.name.Name]:
    """The owners of the NSEC or NSEC3 RRsets in authority, each followed by its RRSIG."""
    owners = []
    authority = response.authority
    for i, rrset in enumerate(authority):
        if rrset.rdtype == rdtype:
            sig = authority[i + 1]
            assert (sig.name, sig.rdtype, sig.covers) == (rrset.name, T.RRSIG, rdtype), "RRSIG follows"
            owners.append(rrset.name)
    return owners


def nsec_owners(response) -> list[str]:
    return [o.relativize(ORIGIN).to_text() for o in denial_owners(response, T.NSEC)]


def _hash(name: str) -> str:
    return dns.dnssec.nsec3_hash(n(name), b"", 0, 1).lower()


def _chain(zone: ZoneVersion) -> list[tuple[str, str, dns.rdataset.Rdataset]]:
    """(owner hash, next hash, rdataset) of the signer's NSEC3 chain, read straight from the file."""
    out = []
    for name in zone.nodes():
        rds = zone.get(name, T.NSEC3)
        if rds is not None:
            nxt = base64.b32hexencode(rds[0].next).decode().lower()
            out.append((name.labels[0].decode().lower(), nxt, rds))
    return out


def matching(zone: ZoneVersion, name: str) -> str:
    h = _hash(name)
    [owner] = [o for o, _, _ in _chain(zone) if o == h]
    return owner


def covering(zone: ZoneVersion, name: str, opt_out: bool | None = None) -> str:
    h = _hash(name)
    found = [(o, rds) for o, nxt, rds in _chain(zone) if (o < h < nxt) or (nxt < o and (h > o or h < nxt))]
    [(owner, rds)] = found
    if opt_out is not None:
        assert bool(rds[0].flags & 1) == opt_out
    return owner


def nsec3_owners(response) -> list[str]:
    return [o.labels[0].decode().lower() for o in denial_owners(response, T.NSEC3)]


def negative_head(response) -> list[tuple[str, str]]:
    return names_types(response.authority[:2])


# -- which denial, from what the version holds ------------------------------------------------------


@needs_signer
def test_prover_follows_the_apex(zones, unsigned):
    assert isinstance(denial.prover(zones["nsec"]), denial.Nsec)
    assert isinstance(denial.prover(zones["nsec3"]), denial.Nsec3)
    assert isinstance(denial.prover(zones["optout"]), denial.Nsec3)
    assert denial.prover(unsigned) is None


@needs_signer
def test_prepare_builds_the_index_a_query_would(signed_files):
    for flavour, path in signed_files.items():
        zone = load(path)
        denial.prepare(zone)
        before = (dict(zone._chains), zone._nsec3)
        assert any(before) and (flavour == "nsec") == bool(before[0])
        ask(zone, "nothere", "A")
        assert (zone._chains, zone._nsec3) == before  # nothing left to build on the query path


def test_nsec3_label_is_dnspythons_hash():
    for name, salt, iterations in [("example.", b"", 0), ("A.b.Example.", b"\xab\xcd", 5), (".", b"x", 1)]:
        ours = denial.nsec3_label(dns.name.from_text(name).labels, salt, iterations)
        assert ours.decode() == dns.dnssec.nsec3_hash(name, salt, iterations, 1).lower()


def test_predecessor_bisects_in_canonical_order_and_wraps(unsigned):
    zone = ZoneVersion(ORIGIN, {
        ORIGIN: unsigned.node(ORIGIN),
        n("b"): {(T.TXT, T.NONE): dns.rdataset.from_text("IN", "TXT", 60, '"b"')},
        n("z.a"): {(T.TXT, T.NONE): dns.rdataset.from_text("IN", "TXT", 60, '"z"')},
    })

    def before(name: str) -> dns.name.Name:
        owner, node = zone.predecessor(n(name), T.TXT)
        assert node is zone.node(owner)  # the node comes along
        return owner

    assert before("b") == n("b")  # itself
    assert before("B") == n("b")  # case-insensitive (RFC 4034 6.1)
    assert before("a") == n("b")  # before every TXT owner: wraps to the last
    assert before("zz.a") == n("z.a")
    assert before("a.b") == n("b")  # a child sorts right after its parent
    assert before("c") == n("b")
    assert zone.predecessor(n("c"), T.MX) is None


_label = st.binary(min_size=1, max_size=4).map(lambda b: b.replace(b".", b"x"))
_names = st.lists(_label, min_size=0, max_size=3).map(lambda labels: dns.name.Name(tuple(labels) + ORIGIN.labels))


@settings(max_examples=300, deadline=None)
@given(owners=st.lists(_names, min_size=1, max_size=12), probe=_names)
def test_predecessor_agrees_with_dnspythons_canonical_order(owners, probe):
    """Against dnspython's own name ordering (RFC 4034 6.1), with any octets in labels: upper case,
    00 bytes (the index joins labels with 00 00), prefixes of one another."""
    nodes = {ORIGIN: {(T.SOA, T.NONE): dns.rdataset.from_text("IN", "SOA", 60, "ns hm 1 2 3 4 5")}}
    txt = dns.rdataset.from_text("IN", "TXT", 60, '"x"')
    for owner in owners:
        nodes.setdefault(owner, {})[(T.TXT, T.NONE)] = txt
    zone = ZoneVersion(ORIGIN, nodes)
    holders = sorted({o for o in owners})
    expected = max([o for o in holders if o <= probe], default=holders[-1])
    assert zone.predecessor(probe, T.TXT)[0] == expected


def test_nsec3_predecessor_uses_the_hash_label():
    soa = dns.rdataset.from_text("IN", "SOA", 60, "ns hm 1 2 3 4 5")
    nsec3 = dns.rdataset.from_text("IN", "NSEC3", 60, "1 0 0 - 00000000000000000000000000000000 A")
    nodes = {ORIGIN: {(T.SOA, T.NONE): soa}}
    for label in ("AAAA", "cccc", "x.eeee"):  # x.eeee: two labels below the apex, not in the chain
        nodes[n(label)] = {(T.NSEC3, T.NONE): nsec3}
    zone = ZoneVersion(ORIGIN, nodes)
    assert zone.nsec3_predecessor(b"aaaa")[0] == n("aaaa")
    assert zone.nsec3_predecessor(b"BBBB")[0] == n("aaaa")
    assert zone.nsec3_predecessor(b"zzzz")[0] == n("cccc")
    assert zone.nsec3_predecessor(b"0000")[0] == n("cccc")  # wraps around
    assert ZoneVersion(ORIGIN, {ORIGIN: {(T.SOA, T.NONE): soa}}).nsec3_predecessor(b"a") is None


# -- positive answers ------------------------------------------------------------------------------


@needs_signer
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_positive_answer_has_rrsig_and_no_proof(zones, flavour):
    r = ask(zones[flavour], "www", "A")
    assert names_types(r.answer) == [("www", "A"), ("www", "RRSIG")]
    assert r.authority == [] and r.flags & dns.flags.AA


@needs_signer
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_dnskey_answer_is_authoritative(zones, flavour):
    r = ask(zones[flavour], "@", "DNSKEY")
    assert r.flags & dns.flags.AA and r.rcode() == dns.rcode.NOERROR
    assert names_types(r.answer) == [("@", "DNSKEY"), ("@", "RRSIG")]
    assert len(r.answer[0]) == 2


# -- NSEC (RFC 4035 3.1.3) ------------------------------------------------------------------------


@needs_signer
def test_nsec_nxdomain_covers_qname_and_wildcard(zones):
    r = ask(zones["nsec"], "nothere", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA
    assert negative_head(r) == [("@", "SOA"), ("@", "RRSIG")]
    assert r.authority[1].ttl == r.authority[0].ttl == 300  # RFC 2308 TTL on the SOA's RRSIG too
    # Canonical order of the NSEC owners: @ alias *.cn dangling a.b.ent ins.ent2 a.*.ew insecure ns1
    # secure *.wild www (glue has none). insecure < nothere < ns1; @ < *.example < alias.
    assert nsec_owners(r) == ["insecure", "@"]


@needs_signer
def test_nsec_nxdomain_one_nsec_covering_both_is_sent_once(zones):
    r = ask(zones["nsec"], "x.www", "A")  # closest encloser www: www < x.www and *.www < (end)
    assert nsec_owners(r) == ["www"]


@needs_signer
def test_nsec_nodata_is_the_matching_nsec(zones):
    r = ask(zones["nsec"], "www", "MX")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert negative_head(r) == [("@", "SOA"), ("@", "RRSIG")]
    assert nsec_owners(r) == ["www"]


@needs_signer
def test_nsec_empty_non_terminal_nodata_is_the_nsec_before_it(zones):
    for ent in ("b.ent", "ent"):
        r = ask(zones["nsec"], ent, "A")
        assert r.rcode() == dns.rcode.NOERROR and r.answer == []
        assert nsec_owners(r) == ["dangling"]  # next name a.b.ent lies below the ENT (RFC 7129)


@needs_signer
def test_nsec_wildcard_answer_proves_no_closer_match(zones):
    r = ask(zones["nsec"], "host.wild", "A")
    assert names_types(r.answer) == [("host.wild", "A"), ("host.wild", "RRSIG")]
    assert r.answer[1][0].labels == 2  # *.wild.example.: the label count of the wildcard
    assert nsec_owners(r) == ["*.wild"]  # *.wild < host.wild < www


@needs_signer
def test_nsec_wildcard_nodata_proves_both(zones):
    r = ask(zones["nsec"], "host.wild", "MX")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert nsec_owners(r) == ["*.wild"]  # covers host.wild and matches *.wild: sent once
    assert "MX" not in r.authority[2][0].to_text().split()


@needs_signer
def test_nsec_wildcard_that_is_an_empty_non_terminal(zones):
    r = ask(zones["nsec"], "x.ew", "A")  # source *.ew exists only as the parent of a.*.ew
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    # a.*.ew < x.ew < insecure: no x.ew; ins.ent2 -> a.*.ew: *.ew is empty, so has no A.
    assert nsec_owners(r) == ["a.*.ew", "ins.ent2"]


@needs_signer
def test_nsec_referral_without_ds_has_the_cut_nsec(zones):
    r = ask(zones["nsec"], "host.insecure", "A")
    assert not r.flags & dns.flags.AA
    assert names_types(r.authority) == [("insecure", "NS"), ("insecure", "NSEC"), ("insecure", "RRSIG")]
    assert r.authority[1][0].to_text().split()[1:] == ["NS", "RRSIG", "NSEC"]  # no DS
    assert names_types(r.additional) == [("ns.insecure", "A")]  # glue: no RRSIG


@needs_signer
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_referral_with_ds_has_ds_and_rrsig_only(zones, flavour):
    r = ask(zones[flavour], "host.secure", "A")
    assert names_types(r.authority) == [("secure", "NS"), ("secure", "DS"), ("secure", "RRSIG")]


@needs_signer
def test_nsec_ds_query_at_unsigned_cut_is_nodata_with_its_nsec(zones):
    r = ask(zones["nsec"], "insecure", "DS")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA and r.answer == []
    assert nsec_owners(r) == ["insecure"]


@needs_signer
def test_nsec_cname_to_missing_name_proves_the_target(zones):
    r = ask(zones["nsec"], "dangling", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert names_types(r.answer) == [("dangling", "CNAME"), ("dangling", "RRSIG")]
    assert nsec_owners(r) == ["insecure", "@"]  # nothere: as for the direct query


@needs_signer
def test_nsec_wildcard_cname_to_missing_name_proves_both_steps(zones):
    r = ask(zones["nsec"], "x.cn", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert names_types(r.answer) == [("x.cn", "CNAME"), ("x.cn", "RRSIG")]
    assert negative_head(r) == [("@", "SOA"), ("@", "RRSIG")]  # the SOA first, proofs after
    # x.cn: covered by *.cn; gone: by a.*.ew (ew < gone < insecure); *.example: by @.
    assert nsec_owners(r) == ["*.cn", "a.*.ew", "@"]


# -- NSEC3 (RFC 5155 7.2) -------------------------------------------------------------------------


@needs_signer
@pytest.mark.parametrize("flavour", ["nsec3", "optout"])
def test_nsec3_nxdomain_closest_encloser_proof_and_wildcard(zones, flavour):
    zone = zones[flavour]
    r = ask(zone, "nothere", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert negative_head(r) == [("@", "SOA"), ("@", "RRSIG")]
    expected = [matching(zone, "@"), covering(zone, "nothere"), covering(zone, "*")]
    assert nsec3_owners(r) == list(dict.fromkeys(expected))
    r = ask(zone, "x.y.b.ent", "A")  # closest encloser b.ent, next closer y.b.ent
    expected = [matching(zone, "b.ent"), covering(zone, "y.b.ent"), covering(zone, "*.b.ent")]
    assert nsec3_owners(r) == list(dict.fromkeys(expected))


@needs_signer
@pytest.mark.parametrize("flavour", ["nsec3", "optout"])
def test_nsec3_nodata_and_empty_non_terminal_have_the_matching_nsec3(zones, flavour):
    zone = zones[flavour]
    for name in ("www", "b.ent", "ent"):
        r = ask(zone, name, "MX")
        assert r.rcode() == dns.rcode.NOERROR and r.answer == []
        assert nsec3_owners(r) == [matching(zone, name)]


@needs_signer
@pytest.mark.parametrize("flavour", ["nsec3", "optout"])
def test_nsec3_wildcard_answer_covers_the_next_closer_name(zones, flavour):
    zone = zones[flavour]
    r = ask(zone, "host.wild", "TXT")
    assert names_types(r.answer) == [("host.wild", "TXT"), ("host.wild", "RRSIG")]
    assert nsec3_owners(r) == [covering(zone, "host.wild")]
    r = ask(zone, "a.b.wild", "A")  # next closer is b.wild, not the query name
    assert r.answer[1][0].labels == 2
    assert nsec3_owners(r) == [covering(zone, "b.wild")]


@needs_signer
@pytest.mark.parametrize("flavour", ["nsec3", "optout"])
def test_nsec3_wildcard_nodata(zones, flavour):
    zone = zones[flavour]
    r = ask(zone, "host.wild", "MX")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    expected = [matching(zone, "wild"), covering(zone, "host.wild"), matching(zone, "*.wild")]
    assert nsec3_owners(r) == list(dict.fromkeys(expected))
    r = ask(zone, "x.ew", "A")  # the wildcard is an empty non-terminal: its NSEC3 has no types
    expected = [matching(zone, "ew"), covering(zone, "x.ew"), matching(zone, "*.ew")]
    assert nsec3_owners(r) == list(dict.fromkeys(expected))


@needs_signer
def test_nsec3_referral_and_ds_query_without_opt_out_match_the_cut(zones):
    zone = zones["nsec3"]
    r = ask(zone, "host.insecure", "A")
    assert names_types(r.authority)[0] == ("insecure", "NS")
    assert nsec3_owners(r) == [matching(zone, "insecure")]
    r = ask(zone, "insecure", "DS")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert nsec3_owners(r) == [matching(zone, "insecure")]


@needs_signer
def test_nsec3_opt_out_cut_gets_the_closest_provable_encloser_proof(zones):
    zone = zones["optout"]
    with pytest.raises(ValueError):
        matching(zone, "insecure")  # opt-out: the signer left the unsigned cut out of the chain
    # The apex NSEC3 happens to cover the hash of insecure too: it is sent once.
    expected = list(dict.fromkeys([matching(zone, "@"), covering(zone, "insecure", opt_out=True)]))
    r = ask(zone, "host.insecure", "A")  # 7.2.7
    assert nsec3_owners(r) == expected
    r = ask(zone, "insecure", "DS")  # 7.2.4
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert nsec3_owners(r) == expected


@needs_signer
def test_nsec3_opt_out_empty_non_terminal_gets_the_closest_provable_encloser_proof(zones):
    zone = zones["optout"]  # ent2 exists only above the insecure ins.ent2: no NSEC3 of its own
    r = ask(zone, "ent2", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert nsec3_owners(r) == [matching(zone, "@"), covering(zone, "ent2", opt_out=True)]
    r = ask(zone, "ins.ent2", "DS")  # the cut below it: the encloser proven is still the apex
    assert nsec3_owners(r) == [matching(zone, "@"), covering(zone, "ent2", opt_out=True)]


@needs_signer
@pytest.mark.parametrize("flavour", ["nsec3", "optout"])
def test_nsec3_cname_chain_through_a_wildcard_to_a_missing_name(zones, flavour):
    zone = zones[flavour]
    r = ask(zone, "x.cn", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert names_types(r.answer) == [("x.cn", "CNAME"), ("x.cn", "RRSIG")]
    expected = [covering(zone, "x.cn"), matching(zone, "@"), covering(zone, "gone"), covering(zone, "*")]
    assert nsec3_owners(r) == list(dict.fromkeys(expected))


@needs_signer
@pytest.mark.parametrize("flavour", ["nsec3", "optout"])
def test_nsec3_owner_names_do_not_exist_for_queries(zones, flavour):
    """RFC 5155 7.2.9: a query for an NSEC3 owner name is answered as if it did not exist."""
    zone = zones[flavour]
    owner = matching(zone, "www")
    for do in (False, True):
        r = ask(zone, owner, "A", do=do)
        assert r.rcode() == dns.rcode.NXDOMAIN
    r = ask(zone, f"x.{owner}", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert nsec3_owners(r)[0] == matching(zone, "@")  # the apex is the closest encloser


@needs_signer
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_any_gets_the_same_proofs(zones, flavour):
    zone = zones[flavour]
    wild, ent = ask(zone, "host.wild", "ANY"), ask(zone, "b.ent", "ANY")
    # Every type at *.wild, the NSEC too (synthesized from the wildcard's, as BIND does).
    nsec = ["NSEC", "RRSIG"] if flavour == "nsec" else []
    assert [t for _, t in names_types(wild.answer)] == ["A", "RRSIG", "TXT", "RRSIG", *nsec]
    assert wild.authority == ask(zone, "host.wild", "A").authority  # no closer match
    assert ent.rcode() == dns.rcode.NOERROR and ent.authority == ask(zone, "b.ent", "A").authority


@needs_signer
def test_nsec3param_without_a_chain_gives_no_proof_and_no_error(zones):
    zone = zones["nsec3"]
    nodes = {name: node for name, node in zone.nodes().items() if zone.get(name, T.NSEC3) is None}
    r = ask(ZoneVersion(ORIGIN, nodes), "nothere", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert names_types(r.authority) == [("@", "SOA"), ("@", "RRSIG")]


# -- DO=0 and unsigned zones ----------------------------------------------------------------------

CASES = [("www", "A"), ("nothere", "A"), ("www", "MX"), ("b.ent", "A"), ("host.wild", "A"),
         ("host.wild", "MX"), ("host.insecure", "A"), ("host.secure", "A"), ("insecure", "DS"),
         ("secure", "DS"), ("dangling", "A"), ("x.cn", "A"), ("alias", "AAAA"), ("ent2", "TXT"),
         ("x.ew", "A")]


@needs_signer
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_without_do_the_signed_zone_answers_as_the_unsigned_one(zones, unsigned, flavour):
    for qname, qtype in CASES:
        query = dns.message.make_query(n(qname), qtype, use_edns=0)
        assert answer(zones[flavour], query).to_wire() == answer(unsigned, query).to_wire(), (qname, qtype)


@pytest.mark.parametrize("qname,qtype", CASES)
def test_unsigned_zone_with_do_has_no_proofs(unsigned, qname, qtype):
    with_do, without = ask(unsigned, qname, qtype, do=True), ask(unsigned, qname, qtype, do=False)
    assert with_do.rcode() == without.rcode() and with_do.answer == without.answer
    # Only a referral's DS differs (sent with DO, signed or not: RFC 4035 3.1.4).
    assert [rr for rr in with_do.authority if rr.rdtype != T.DS] == without.authority
    for rrset in with_do.answer + with_do.authority + with_do.additional:
        assert rrset.rdtype not in (T.RRSIG, T.NSEC, T.NSEC3)


@needs_signer
def test_missing_nsec_gives_an_incomplete_proof_not_an_error(zones):
    zone = zones["nsec"]
    nodes = {name: dict(node) for name, node in zone.nodes().items()}
    del nodes[n("insecure")][(T.NSEC, T.NONE)]
    broken = ZoneVersion(ORIGIN, nodes)
    r = ask(broken, "nothere", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    # insecure has no NSEC any more: the one before it (a.*.ew) is what precedes nothere.
    assert names_types(r.authority)[2:4] == [("a.*.ew", "NSEC"), ("a.*.ew", "RRSIG")]
    assert nsec_owners(r) == ["a.*.ew", "@"]
