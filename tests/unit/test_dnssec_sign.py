"""Signing (dnssec.sign) and NSEC (dnssec.nsec): signatures dnspython validates, and signed zones
that BIND's dnssec-verify and ldns-verify-zone accept, for ECDSAP256SHA256 and ED25519."""

import shutil
import subprocess
import time

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.RRSIG
import dns.rrset
import pytest

from hiddenprimary.dnssec.keys import ZONE_FLAG
from hiddenprimary.dnssec.nsec import authoritative_names, nsec_chain
from hiddenprimary.dnssec.sign import rrsig_labels, sign_rrset
from hiddenprimary.dnssec.zone_signer import (
    INCEPTION_SKEW,
    SigningPolicy,
    sign_zone,
    signer_input,
    strip,
)
from hiddenprimary.zone.version import ZoneVersion
from tests.unit.signing import (
    ORIGIN,
    ZONE_RECORDS,
    make_key,
    make_keys,
    make_version,
    write_zone,
)

T = dns.rdatatype


def sign_version(version: ZoneVersion, keys, inception: int, expiration: int) -> ZoneVersion:
    """The whole zone through the reload's signing path (zone_signer), with a fixed validity
    window (no jitter)."""
    now = inception + INCEPTION_SKEW
    policy = SigningPolicy(validity=expiration - now, refresh=1, jitter=0)
    return sign_zone(signer_input(strip(version), keys, policy), keys, policy, now)[0]


def window(now=None) -> tuple[int, int]:
    now = int(time.time()) if now is None else now
    return now - 3600, now + 14 * 86400


def n(text: str) -> dns.name.Name:
    return dns.name.from_text(text, ORIGIN)


# -- NSEC ---------------------------------------------------------------------------------------

def test_nsec_chain_covers_authoritative_names_and_cuts_only():
    version = make_version()
    chain = nsec_chain(version)
    owners = [name for name, _ in authoritative_names(version)]
    assert list(chain) == owners
    assert n("ns.sub") not in chain and n("deeper.ns.sub") not in chain  # glue / occluded
    assert n("ent") not in chain and n("deep.ent") not in chain  # empty non-terminals
    assert n("sub") in chain and n("nods") in chain
    # Each points to the next owner, the last back to the apex.
    for (_name, rds), nxt in zip(chain.items(), owners[1:] + [ORIGIN]):
        assert rds[0].next == nxt
    assert chain[owners[-1]][0].next == ORIGIN


def _types(rds) -> set[str]:
    text = rds[0].to_text().split()[1:]
    return set(text)


def test_nsec_bitmaps():
    chain = nsec_chain(make_version())
    assert _types(chain[ORIGIN]) == {"SOA", "NS", "MX", "A", "RRSIG", "NSEC"}
    assert _types(chain[n("www")]) == {"A", "AAAA", "RRSIG", "NSEC"}
    assert _types(chain[n("alias")]) == {"CNAME", "RRSIG", "NSEC"}
    assert _types(chain[n("sub")]) == {"NS", "DS", "RRSIG", "NSEC"}
    # RFC 4035 2.3: no DS at the cut -> NS, and the parent's own NSEC and its RRSIG.
    assert _types(chain[n("nods")]) == {"NS", "RRSIG", "NSEC"}


def test_nsec_ttl_is_min_of_soa_ttl_and_minimum():  # RFC 9077
    assert nsec_chain(make_version())[ORIGIN].ttl == 300
    records = [("@", "SOA", 60, "ns1 h 1 2 3 4 900")] + ZONE_RECORDS[1:]
    assert nsec_chain(make_version(records))[ORIGIN].ttl == 60
    assert nsec_chain(make_version(), ttl=42)[ORIGIN].ttl == 42


def test_nsec_next_name_is_lower_case():
    chain = nsec_chain(make_version())
    assert chain[n("host.deep.ent")][0].next.to_text() == "mail.example.com."


def test_dname_occludes_names_below_it():
    records = ZONE_RECORDS + [("old", "DNAME", 300, "new.example.net."), ("x.old", "A", 300, "192.0.2.7")]
    chain = nsec_chain(make_version(records))
    assert n("old") in chain and n("x.old") not in chain


# -- RRSIG --------------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", [13, 15])
def test_sign_rrset_validates_with_dnspython(algorithm):
    key = make_key(algorithm)
    inception, expiration = 1_700_000_000, 1_700_000_000 + 86400
    keys = {ORIGIN: dns.rrset.from_rdata(ORIGIN, 3600, key.dnskey)}
    for owner in ["www", "Mail", "*.wild", "@"]:
        name = ORIGIN if owner == "@" else n(owner)
        version = make_version()
        for rds in version.rdatasets_at(name):
            sigs = sign_rrset(name, rds, [key], inception, expiration)
            assert sigs.covers == rds.rdtype and sigs.ttl == rds.ttl and len(sigs) == 1
            sig = sigs[0]
            assert sig.key_tag == key.key_tag and sig.signer == ORIGIN
            assert sig.labels == rrsig_labels(name)
            if algorithm == 13:
                assert len(sig.signature) == 64  # r || s, not DER
            else:
                assert len(sig.signature) == 64
            rrset = dns.rrset.from_rdata_list(name, rds.ttl, list(rds))
            dns.dnssec.validate_rrsig(rrset, sig, keys, ORIGIN, inception + 10)
            # The same RRset with one more record does not validate.
            extra = dns.rdataset.from_text("IN", "TXT", 300, '"x"') if rds.rdtype != T.TXT \
                else dns.rdataset.from_text("IN", "TXT", 300, '"y"')
            if rds.rdtype == T.TXT:
                tampered = dns.rrset.from_rdata_list(name, rds.ttl, list(rds) + list(extra))
            else:
                tampered = dns.rrset.from_rdata_list(name, rds.ttl, list(rds)[:-1] + [
                    dns.rdata.from_text("IN", rds.rdtype, _other_rdata(rds.rdtype), ORIGIN)])
            with pytest.raises(dns.dnssec.ValidationFailure):
                dns.dnssec.validate_rrsig(tampered, sig, keys, ORIGIN, inception + 10)


def _other_rdata(rdtype) -> str:
    return {T.A: "198.51.100.1", T.AAAA: "2001:db8::dead", T.MX: "20 other", T.NS: "nsx",
            T.SOA: "ns1 h 999 1 2 3 4"}[rdtype]


def test_wildcard_signature_validates_an_expansion():
    key = make_key(13)
    keys = {ORIGIN: dns.rrset.from_rdata(ORIGIN, 3600, key.dnskey)}
    rds = make_version().get(n("*.wild"), T.TXT)
    sig = sign_rrset(n("*.wild"), rds, [key], 1_700_000_000, 1_700_090_000)[0]
    expanded = dns.rrset.from_rdata_list(n("a.b.wild"), rds.ttl, list(rds))
    dns.dnssec.validate_rrsig(expanded, sig, keys, ORIGIN, 1_700_000_010)


def test_wildcard_labels():
    assert rrsig_labels(n("*.wild")) == 3  # *.wild.example.com: the "*" is not counted
    assert rrsig_labels(n("www")) == 3
    assert rrsig_labels(ORIGIN) == 2


def test_sign_rrset_one_signature_per_key():
    keys = [make_key(13), make_key(15)]
    rds = make_version().get(n("www"), T.A)
    sigs = sign_rrset(n("www"), rds, keys, 1, 2)
    assert sorted(s.algorithm for s in sigs) == [13, 15]


# -- whole zone ---------------------------------------------------------------------------------

def _signed_rrsigs(version):
    return {(name, rds.covers) for name, rds in version.iter_rdatasets() if rds.rdtype == T.RRSIG}


@pytest.mark.parametrize("algorithm", [13, 15])
def test_sign_version_structure_and_dnspython_validation(algorithm):
    key = make_key(algorithm)
    inception, expiration = window(1_700_000_000)
    signed = sign_version(make_version(), [key], inception, expiration)
    sigs = _signed_rrsigs(signed)
    assert (ORIGIN, T.DNSKEY) in sigs and (ORIGIN, T.SOA) in sigs and (ORIGIN, T.NSEC) in sigs
    assert (n("sub"), T.DS) in sigs and (n("sub"), T.NSEC) in sigs
    assert (n("sub"), T.NS) not in sigs and (n("nods"), T.NS) not in sigs  # child's NS
    assert not any(name.is_subdomain(n("ns.sub")) for name, _ in sigs)  # glue
    assert (n("*.wild"), T.TXT) in sigs and (n("alias"), T.CNAME) in sigs
    assert signed.get(ORIGIN, T.DNSKEY).ttl == 3600
    # Every RRSIG in the zone validates with dnspython.
    keys = {ORIGIN: dns.rrset.from_rdata_list(ORIGIN, 3600, list(signed.get(ORIGIN, T.DNSKEY)))}
    count = 0
    for name, rds in signed.iter_rdatasets():
        if rds.rdtype != T.RRSIG:
            continue
        covered = signed.get(name, rds.covers)
        rrset = dns.rrset.from_rdata_list(name, covered.ttl, list(covered))
        for sig in rds:
            dns.dnssec.validate_rrsig(rrset, sig, keys, ORIGIN, inception + 10)
            count += 1
    assert count == len(sigs)


def test_ksk_zsk_split():
    ksk = make_key(13, signs_keys=True, signs_zone=False)
    zsk = make_key(13, flags=ZONE_FLAG, signs_keys=False, signs_zone=True)
    signed = sign_version(make_version(), [ksk, zsk], *window(1_700_000_000))
    assert {s.key_tag for s in signed.get(ORIGIN, T.RRSIG, T.DNSKEY)} == {ksk.key_tag}
    assert {s.key_tag for s in signed.get(ORIGIN, T.RRSIG, T.SOA)} == {zsk.key_tag}
    assert len(signed.get(ORIGIN, T.DNSKEY)) == 2


def test_resigning_a_signed_version_replaces_old_signatures():
    key = make_key(13)
    once = sign_version(make_version(), [key], *window(1_700_000_000))
    twice = sign_version(once, [key], *window(1_700_100_000))
    assert len(twice.get(ORIGIN, T.RRSIG, T.SOA)) == 1
    assert twice.get(ORIGIN, T.RRSIG, T.SOA)[0].inception == 1_700_100_000 - 3600
    assert len(twice.get(ORIGIN, T.DNSKEY)) == 1


def test_sign_version_rejects_missing_roles_and_foreign_keys():
    with pytest.raises(ValueError):
        sign_version(make_version(), [make_key(13, signs_keys=False)], 1, 2)
    with pytest.raises(ValueError):
        sign_version(make_version(), [make_key(13, zone=dns.name.from_text("other."))], 1, 2)


# -- external verifiers -------------------------------------------------------------------------

needs_bind = pytest.mark.skipif(shutil.which("dnssec-verify") is None, reason="no dnssec-verify")
needs_ldns = pytest.mark.skipif(shutil.which("ldns-verify-zone") is None, reason="no ldns")


def _run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@needs_bind
@needs_ldns
@pytest.mark.parametrize("split", [False, True], ids=["csk", "ksk+zsk"])
@pytest.mark.parametrize("algorithm", [13, 15])
def test_signed_zone_passes_dnssec_verify_and_ldns(tmp_path, algorithm, split):
    signed = sign_version(make_version(), make_keys(algorithm, split), *window())
    path = tmp_path / "example.com.signed"
    write_zone(signed, path)

    # A CSK carries the SEP flag: BIND then wants -z (as dnssec-signzone does for a CSK alone).
    csk = () if split else ("-z",)
    bind = _run("dnssec-verify", *csk, "-o", "example.com", str(path))
    assert bind.returncode == 0, bind.stdout + bind.stderr
    assert "Zone fully signed" in bind.stdout + bind.stderr
    expected_alg = {13: "ECDSAP256SHA256", 15: "ED25519"}[algorithm]
    assert expected_alg in bind.stdout + bind.stderr

    ldns = _run("ldns-verify-zone", str(path))
    assert ldns.returncode == 0, ldns.stdout + ldns.stderr
    assert "Zone is verified and complete" in ldns.stdout + ldns.stderr


@needs_bind
def test_dnssec_verify_rejects_a_broken_chain(tmp_path):
    """The verifier run above really checks something: drop one NSEC and it fails."""
    signed = sign_version(make_version(), [make_key(13)], *window())
    nodes = {name: dict(node) for name, node in signed.nodes().items()}
    del nodes[n("www")][(T.NSEC, T.NONE)]
    del nodes[n("www")][(T.RRSIG, T.NSEC)]
    path = tmp_path / "broken.signed"
    write_zone(ZoneVersion(ORIGIN, nodes), path)
    assert _run("dnssec-verify", "-z", "-o", "example.com", str(path)).returncode != 0
    assert _run("ldns-verify-zone", str(path)).returncode != 0


@pytest.mark.parametrize("algorithm", [13, 15])
def test_fast_rrsigs_equal_dnspython_built_ones(algorithm):
    """sign_rrset builds all but the first RRSIG of a run without dnspython's constructor: each
    must equal, field by field and on the wire, the one dnspython builds from the same values."""
    key = make_key(algorithm)
    version = make_version()
    for name, rds in version.iter_rdatasets():
        for sig in sign_rrset(name, rds, [key], 1_700_000_000, 1_700_000_000 + 86400):
            built = dns.rdtypes.ANY.RRSIG.RRSIG(
                sig.rdclass, sig.rdtype, rds.rdtype, sig.algorithm, sig.labels, sig.original_ttl,
                sig.expiration, sig.inception, sig.key_tag, sig.signer, sig.signature)
            assert sig == built and hash(sig) == hash(built)
            assert sig.to_wire() == built.to_wire() and sig.to_text() == built.to_text()
            assert type(sig.type_covered) is type(built.type_covered) and sig.rdcomment is None
