"""NSEC3 (dnssec.nsec3): hashes equal dnspython's and RFC 5155 Appendix A; a zone signed with our
chain passes BIND's dnssec-verify and ldns-verify-zone (ECDSAP256SHA256 and ED25519, with and
without opt-out); and the chain equals what BIND's dnssec-signzone writes for the same zone."""

import shutil
import subprocess
import time

import dns.dnssec
import dns.name
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.NSEC3
import dns.zone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.dnssec import nsec3
from hiddenprimary.dnssec.keys import SigningKey, dnskey_rdataset
from hiddenprimary.dnssec.nsec import authoritative_names, denial_ttl
from hiddenprimary.dnssec.nsec3 import (
    Nsec3Params,
    hash_name,
    hashed_owner,
    nsec3_chain,
    nsec3_names,
    nsec3param_rdataset,
)
from hiddenprimary.dnssec.sign import KEY_TYPES, sign_rrset
from hiddenprimary.zone.version import ZoneVersion
from tests.unit.signing import make_key, make_keys, write_zone

ORIGIN = dns.name.from_text("example.com.")
T = dns.rdatatype
DS_TEXT = "12345 13 2 " + "ab" * 32

ZONE = [
    ("@", "SOA", 3600, "ns1 hostmaster 2024010101 7200 3600 1209600 300"),
    ("@", "NS", 3600, "ns1", "ns2.example.net."),
    ("@", "MX", 3600, "10 mail"),
    ("ns1", "A", 3600, "192.0.2.53"),
    ("www", "A", 300, "192.0.2.10"),
    ("www", "AAAA", 300, "2001:db8::10"),
    ("Mail", "A", 300, "192.0.2.25"),  # mixed case: hashed lower-cased
    ("*.wild", "TXT", 300, '"wildcard"'),  # wild is an empty non-terminal
    ("host.deep.ent", "A", 300, "192.0.2.99"),  # deep.ent and ent are empty non-terminals
    ("sub", "NS", 3600, "ns.sub"),  # secure delegation with glue
    ("sub", "DS", 3600, DS_TEXT),
    ("ns.sub", "A", 3600, "192.0.2.200"),
    ("ns.deep.sub", "A", 3600, "192.0.2.201"),  # glue under an ENT below the cut: no NSEC3
    ("nods", "NS", 3600, "ns1.example.net."),  # unsigned delegation
    ("x.insec.ent2", "NS", 3600, "ns1.example.net."),  # ENTs leading only to an unsigned cut
    ("x.sec.ent3", "NS", 3600, "ns1.example.net."),  # ENT above a secure cut and a name
    ("x.sec.ent3", "DS", 3600, DS_TEXT),
    ("y.ent3", "A", 300, "192.0.2.1"),
    ("old", "DNAME", 300, "new.example.net."),
    ("a.b.old", "A", 300, "192.0.2.2"),  # occluded by the DNAME: no NSEC3
    ("z", "TXT", 300, '"last"'),
]


def n(text: str) -> dns.name.Name:
    return ORIGIN if text == "@" else dns.name.from_text(text, ORIGIN)


def make_version(records=ZONE, dnskey: SigningKey | None = None) -> ZoneVersion:
    nodes: dict = {}
    for owner, rdtype, ttl, *texts in records:
        rds = dns.rdataset.from_text_list("IN", rdtype, ttl, texts, origin=ORIGIN, relativize=False)
        nodes.setdefault(n(owner), {})[(rds.rdtype, rds.covers)] = rds
    if dnskey is not None:
        nodes[ORIGIN][(T.DNSKEY, T.NONE)] = dnskey_rdataset([dnskey], 3600)
    return ZoneVersion(ORIGIN, nodes)


def types_of(rds) -> set[str]:
    return set(dns.rdtypes.ANY.NSEC3.Bitmap(rds[0].windows).to_text().split())


# -- hashing ------------------------------------------------------------------------------------

def dnspython_owner(name, params, origin=ORIGIN) -> dns.name.Name:
    label = dns.dnssec.nsec3_hash(name, params.salt, params.iterations, params.algorithm)
    return dns.name.from_text(label, origin)


labels = st.one_of(
    st.binary(min_size=1, max_size=20),
    st.text("abcdefghijXYZ0123456789-_", min_size=1, max_size=20).map(str.encode),
)


@settings(max_examples=300, deadline=None)
@given(
    own=st.lists(labels, min_size=0, max_size=4),
    wild=st.booleans(),
    salt=st.binary(max_size=8),
    iterations=st.integers(0, 20),
)
def test_hash_matches_dnspython(own, wild, salt, iterations):
    name = dns.name.Name(((b"*",) if wild else ()) + tuple(own) + ORIGIN.labels)
    params = Nsec3Params(iterations=iterations, salt=salt)
    expected = dns.dnssec.nsec3_hash(name, salt, iterations, 1)
    assert dns.name.from_text(expected.lower(), ORIGIN) == hashed_owner(name, ORIGIN, params)
    assert hashed_owner(name, ORIGIN, params).labels[0] == expected.lower().encode()  # lower case
    assert len(hash_name(name, params)) == 20


@pytest.mark.parametrize("text", ["example.com.", "WWW.Example.COM.", "*.wild.example.com.", "*.EXAMPLE.com."])
def test_hash_fixed_names(text):
    name = dns.name.from_text(text)
    for params in (Nsec3Params(), Nsec3Params(iterations=3, salt=b"\xaa\xbb")):
        assert hashed_owner(name, ORIGIN, params) == dnspython_owner(name, params)
    assert hash_name(name, Nsec3Params()) == hash_name(name.canonicalize(), Nsec3Params())


# RFC 5155 Appendix A: zone "example", salt aabbccdd, 12 iterations.
RFC5155_HASHES = {
    "example": "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
    "a.example": "35mthgpgcu1qg68fab165klnsnk3dpvl",
    "ai.example": "gjeqe526plbf1g8mklp59enfd789njgi",
    "ns1.example": "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
    "ns2.example": "q04jkcevqvmu85r014c7dkba38o0ji5r",
    "w.example": "k8udemvp1j2f7eg6jebps17vp3n8i58h",
    "*.w.example": "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
    "x.w.example": "b4um86eghhds6nea196smvmlo4ors995",
    "y.w.example": "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
    "x.y.w.example": "2vptu5timamqttgl4luu9kg21e0aor3s",
    "xx.example": "t644ebqk9bibcna874givr6joj62mlhv",
}


def test_rfc5155_appendix_a_hashes():
    origin = dns.name.from_text("example.")
    params = Nsec3Params(iterations=12, salt=bytes.fromhex("aabbccdd"))
    for text, expected in RFC5155_HASHES.items():
        assert hashed_owner(dns.name.from_text(text), origin, params).to_text() == f"{expected}.example."


def test_params_are_checked():
    with pytest.raises(ValueError):
        Nsec3Params(algorithm=2)
    with pytest.raises(ValueError):
        Nsec3Params(iterations=65536)
    with pytest.raises(ValueError):
        Nsec3Params(salt=b"x" * 256)
    assert Nsec3Params() == Nsec3Params(iterations=0, salt=b"", opt_out=False, algorithm=1)  # RFC 9276


def test_nsec3param():
    rds = nsec3param_rdataset(Nsec3Params(opt_out=True))
    assert rds.ttl == 0 and rds.rdtype == T.NSEC3PARAM
    assert rds[0].to_text() == "1 0 0 -"  # flags 0 even with opt-out (RFC 5155 4.1.2)
    rds = nsec3param_rdataset(Nsec3Params(iterations=5, salt=b"\xaa\xbb"), ttl=300)
    assert rds.ttl == 300 and rds[0].to_text() == "1 0 5 aabb"


# -- names and chain ----------------------------------------------------------------------------

SIGNED_NAMES = {"@", "ns1", "www", "mail", "*.wild", "host.deep.ent", "sub", "x.sec.ent3", "y.ent3", "old", "z"}
ENTS = {"wild", "deep.ent", "ent", "sec.ent3", "ent3"}


def canonical_key(name):
    return tuple(label.lower() for label in reversed(name.labels))


@pytest.mark.parametrize("opt_out", [False, True])
def test_nsec3_names(opt_out):
    got = nsec3_names(make_version(), Nsec3Params(opt_out=opt_out))
    names = [name for name, _ in got]
    expected = SIGNED_NAMES | ENTS
    if not opt_out:  # unsigned delegations, and the ENTs that lead only to one
        expected |= {"nods", "x.insec.ent2", "insec.ent2", "ent2"}
    assert set(names) == {n(t) for t in expected} and len(names) == len(expected)
    assert names == sorted(names, key=canonical_key)  # canonical order
    cuts = {name for name, is_cut in got if is_cut}
    assert cuts == {n("sub"), n("x.sec.ent3")} | (set() if opt_out else {n("nods"), n("x.insec.ent2")})


def test_nsec3_names_order_with_many_ents():
    records = ZONE[:2] + [(f"h{i}.g{i % 7}.top{i % 3}", "A", 300, "192.0.2.1") for i in range(60)]
    got = [name for name, _ in nsec3_names(make_version(records), Nsec3Params())]
    assert got == sorted(got, key=canonical_key) and len(got) == len(set(got)) == 1 + 60 + 21 + 3


@pytest.mark.parametrize("opt_out", [False, True])
def test_chain_links_and_bitmaps(opt_out):
    version = make_version(dnskey=make_key(13))
    params = Nsec3Params(opt_out=opt_out)
    chain = nsec3_chain(version, params)
    originals = {hashed_owner(name, ORIGIN, params): name for name, _ in nsec3_names(version, params)}
    assert set(chain) == set(originals)
    owners = list(chain)
    assert owners == sorted(owners)  # in hash order (all the same length under the apex)
    for owner, nxt in zip(owners, owners[1:] + owners[:1]):
        rd = chain[owner][0]
        assert rd.next == hash_name(originals[nxt], params)  # last wraps to first
        assert rd.flags == (1 if opt_out else 0) and rd.iterations == 0 and rd.salt == b"" and rd.algorithm == 1
        assert chain[owner].ttl == denial_ttl(version) == 300  # RFC 9077

    def bitmap(text):
        return types_of(chain[hashed_owner(n(text), ORIGIN, params)])

    assert bitmap("@") == {"SOA", "NS", "MX", "DNSKEY", "NSEC3PARAM", "RRSIG"}
    assert bitmap("www") == {"A", "AAAA", "RRSIG"}
    assert bitmap("*.wild") == {"TXT", "RRSIG"}
    assert bitmap("old") == {"DNAME", "RRSIG"}
    assert bitmap("sub") == {"NS", "DS", "RRSIG"}  # secure cut: only DS is signed
    for ent in ENTS:
        assert bitmap(ent) == set()  # RFC 5155 7.1: an empty non-terminal has no types
    if not opt_out:
        assert bitmap("nods") == {"NS"}  # nothing signed at an unsigned cut: no RRSIG (as BIND)


def test_chain_ttl_salt_and_iterations():
    version = make_version()
    params = Nsec3Params(iterations=2, salt=b"\x01\x02")
    chain = nsec3_chain(version, params, ttl=42)
    rds = chain[hashed_owner(n("www"), ORIGIN, params)]
    assert rds.ttl == 42 and rds[0].salt == b"\x01\x02" and rds[0].iterations == 2


def test_single_name_chain_points_to_itself():
    version = make_version(ZONE[:2])
    chain = nsec3_chain(version, Nsec3Params())
    (owner, rds), = chain.items()
    assert rds[0].next == hash_name(ORIGIN, Nsec3Params())


def test_hash_collision_is_an_error(monkeypatch):
    monkeypatch.setattr(nsec3, "digest", lambda wire, salt, iterations: b"\x00" * 20)
    with pytest.raises(ValueError, match="collision"):
        nsec3_chain(make_version(), Nsec3Params())


# -- a signed zone, checked by BIND and ldns ----------------------------------------------------

def window() -> tuple[int, int]:
    now = int(time.time())
    return now - 3600, now + 14 * 86400


def sign_nsec3(unsigned: ZoneVersion, keys, params: Nsec3Params) -> ZoneVersion:
    """A signer written out by hand for the NSEC3 chain alone: DNSKEY and NSEC3PARAM at the apex,
    every authoritative RRset signed (DNSKEY by the KSK/CSK; at a cut only DS), and each NSEC3."""
    inception, expiration = window()
    nodes = {name: dict(node) for name, node in unsigned.nodes().items()}
    nodes[ORIGIN][(T.DNSKEY, T.NONE)] = dnskey_rdataset(keys, 3600)
    nodes[ORIGIN][(T.NSEC3PARAM, T.NONE)] = nsec3param_rdataset(params)
    base = ZoneVersion(ORIGIN, {name: dict(node) for name, node in nodes.items()})  # a version keeps its nodes
    ksks = [k for k in keys if k.signs_keys]
    zsks = [k for k in keys if k.signs_zone]
    for name, is_cut in authoritative_names(base):
        for (rdtype, _covers), rds in base.node(name).items():
            if is_cut and rdtype != T.DS:
                continue  # the child's NS and glue
            signers = ksks if rdtype in KEY_TYPES else zsks
            nodes[name][(T.RRSIG, rdtype)] = sign_rrset(name, rds, signers, inception, expiration)
    for owner, rds in nsec3_chain(base, params).items():
        nodes[owner] = {(T.NSEC3, T.NONE): rds,
                        (T.RRSIG, T.NSEC3): sign_rrset(owner, rds, zsks, inception, expiration)}
    return ZoneVersion(ORIGIN, nodes)


needs_bind = pytest.mark.skipif(shutil.which("dnssec-verify") is None, reason="no dnssec-verify")
needs_ldns = pytest.mark.skipif(shutil.which("ldns-verify-zone") is None, reason="no ldns-verify-zone")
needs_signzone = pytest.mark.skipif(
    shutil.which("dnssec-signzone") is None or shutil.which("dnssec-keygen") is None, reason="no dnssec-signzone"
)


def run(*cmd, cwd=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


def verify(path, csk: bool):
    # A key with the SEP flag signing everything: BIND then wants -z.
    bind = run("dnssec-verify", *(("-z",) if csk else ()), "-o", ORIGIN.to_text(), str(path))
    ldns = run("ldns-verify-zone", str(path))
    return bind, ldns


@needs_bind
@needs_ldns
@pytest.mark.parametrize("split", [False, True], ids=["csk", "ksk+zsk"])
@pytest.mark.parametrize("opt_out", [False, True], ids=["no-optout", "optout"])
@pytest.mark.parametrize("algorithm", [13, 15])
def test_signed_nsec3_zone_passes_dnssec_verify_and_ldns(tmp_path, algorithm, opt_out, split):
    path = tmp_path / "example.com.signed"
    write_zone(sign_nsec3(make_version(), make_keys(algorithm, split), Nsec3Params(opt_out=opt_out)), path)
    bind, ldns = verify(path, csk=not split)
    assert bind.returncode == 0, bind.stdout + bind.stderr
    out = bind.stdout + bind.stderr
    assert "Zone fully signed" in out, out
    assert ldns.returncode == 0, ldns.stdout + ldns.stderr
    assert "Zone is verified and complete" in ldns.stdout + ldns.stderr


@needs_bind
@needs_ldns
@pytest.mark.parametrize("damage", ["drop-name", "drop-ent", "bitmap"])
def test_verifiers_reject_a_broken_chain(tmp_path, damage):
    """The verifier runs above really check the chain: drop one NSEC3 (of a name, of an empty
    non-terminal), and both fail; leave a type out of one bitmap (re-signed) and BIND fails.
    ldns-verify-zone (1.8) does not compare NSEC3 bitmaps with the zone: it passes that one, so
    bitmaps rest on dnssec-verify and on the comparison with dnssec-signzone below."""
    params = Nsec3Params()
    key = make_key(13)
    nodes = dict(sign_nsec3(make_version(), [key], params).nodes())
    if damage == "bitmap":
        owner = hashed_owner(n("www"), ORIGIN, params)
        rd = nodes[owner][(T.NSEC3, T.NONE)][0]
        rds = dns.rdataset.from_rdata(300, rd.replace(windows=dns.rdtypes.ANY.NSEC3.Bitmap.from_rdtypes([T.A, T.RRSIG])))
        nodes[owner] = {(T.NSEC3, T.NONE): rds, (T.RRSIG, T.NSEC3): sign_rrset(owner, rds, [key], *window())}
    else:
        del nodes[hashed_owner(n("www" if damage == "drop-name" else "ent"), ORIGIN, params)]
    path = tmp_path / "broken.signed"
    write_zone(ZoneVersion(ORIGIN, nodes), path)
    bind, ldns = verify(path, csk=True)
    assert bind.returncode != 0, bind.stdout + bind.stderr
    if damage == "bitmap":
        assert "bit map mismatch" in bind.stdout + bind.stderr
    else:
        assert ldns.returncode != 0, ldns.stdout + ldns.stderr


# -- the reference: BIND's dnssec-signzone ------------------------------------------------------

def offline() -> tuple[str, ...]:
    """Run BIND's tools in an empty network namespace when the kernel lets us, so nothing can
    leave the machine. (dnssec-keygen and dnssec-signzone only read and write local files
    anyway; without unshare they run as they are.)"""
    if shutil.which("unshare") and run("unshare", "-rn", "true").returncode == 0:
        return ("unshare", "-rn")
    return ()


def nsec3_records(version_or_zone) -> dict:
    return {name: rds for name, rds in version_or_zone if rds.rdtype == T.NSEC3}


@needs_signzone
@pytest.mark.parametrize(
    "params",
    [Nsec3Params(), Nsec3Params(opt_out=True), Nsec3Params(iterations=5, salt=bytes.fromhex("aabbccdd"))],
    ids=["rfc9276", "optout", "salted"],
)
def test_chain_equals_dnssec_signzone(tmp_path, params):
    unsigned = make_version()
    zonefile = tmp_path / "example.com.zone"
    write_zone(unsigned, zonefile)
    keydir = tmp_path / "keys"
    keydir.mkdir()
    prefix = offline()
    gen = run(*prefix, "dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", str(keydir),
              ORIGIN.to_text(), cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    salt = params.salt.hex() or "-"
    signed_path = tmp_path / "bind.signed"
    bind = run(*prefix, "dnssec-signzone", "-z", "-S", "-K", str(keydir), "-d", str(tmp_path),
               "-3", salt, "-H", str(params.iterations), *(("-A",) if params.opt_out else ()),
               "-o", ORIGIN.to_text(), "-f", str(signed_path), str(zonefile), cwd=tmp_path)
    assert bind.returncode == 0, bind.stdout + bind.stderr
    zone = dns.zone.from_file(str(signed_path), ORIGIN, relativize=False)
    theirs = nsec3_records(zone.iterate_rdatasets())

    ours_version = ZoneVersion(ORIGIN, {
        **unsigned.nodes(),
        ORIGIN: {**unsigned.node(ORIGIN), (T.DNSKEY, T.NONE): zone.find_rdataset(ORIGIN, T.DNSKEY)},
    })
    ours = nsec3_chain(ours_version, params)
    assert set(ours) == set(theirs)
    for owner, rds in ours.items():
        # The whole rdata: flags, salt, iterations, next hash and type bitmap, and the TTL.
        assert rds[0] == theirs[owner][0], (owner, rds[0].to_text(), theirs[owner][0].to_text())
        assert rds.ttl == theirs[owner].ttl
    param = zone.find_rdataset(ORIGIN, T.NSEC3PARAM)
    assert param == nsec3param_rdataset(params) and param.ttl == 0
