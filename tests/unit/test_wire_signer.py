"""The wire signer against its plain twin, `zone_signer.sign_zone`, and dnspython: the same
records, the same NSEC chain, RRSIGs with the same fields, and every signature it makes
validated by `dns.dnssec.validate` (random zones and random edits, full and incremental runs)."""

from __future__ import annotations

import random
import time

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.dnssec import nsec3, wire_input, wire_signer, zone_signer
from hiddenprimary.zone import codec
from hiddenprimary.zone.version import ZoneVersion
from hiddenprimary.zone.wire_version import WireVersion, wire_key
from tests.unit.signing import make_keys

ORIGIN = dns.name.from_text("example.com.")
NOW = int(time.time())
POLICY = zone_signer.SigningPolicy(14 * 86400, 7 * 86400, 86400)
POLICIES = {"nsec": POLICY,
            "nsec3": zone_signer.SigningPolicy(14 * 86400, 7 * 86400, 86400, "nsec3", nsec3.Nsec3Params()),
            "nsec3-opt-out": zone_signer.SigningPolicy(14 * 86400, 7 * 86400, 86400, "nsec3",
                                                       nsec3.Nsec3Params(opt_out=True))}
KEYS = {split: tuple(make_keys(13, split)) for split in (False, True)}
FIELDS = ("type_covered", "algorithm", "labels", "original_ttl", "key_tag", "signer", "inception")

# -- canonical rdata: every type the signer lower-cases by hand or takes as stored --------------

SAMPLES = [
    ("NS", "Ns1.Example.NET."), ("CNAME", "WWW.example.com."), ("PTR", "Host.Example."),
    ("DNAME", "Other.EXAMPLE."), ("MX", "10 Mail.Example.com."), ("MX", "16705 A.b."),  # 0x4141: 'AA'
    ("AFSDB", "1 Afs.Example."), ("RT", "10 Relay.Example."), ("KX", "10 Kx.Example."),
    ("SRV", "0 5 5060 Sip.Example.COM."), ("SRV", "16705 16705 16705 X."),
    ("SOA", "Ns1.Example.com. Host\\.Master.Example.com. 1 7200 3600 1209600 300"),
    ("A", "192.0.2.65"), ("AAAA", "2001:db8::4141"), ("TXT", '"Mixed Case TEXT"'),
    ("SPF", '"v=spf1 -ALL"'), ("DS", "12345 13 2 " + "AB" * 32), ("CDS", "12345 13 2 " + "cd" * 32),
    ("DNSKEY", "257 3 13 " + "QUJD" * 22), ("CDNSKEY", "257 3 13 " + "QUJD" * 22),
    ("NSEC3PARAM", "1 0 0 ABCD"), ("CAA", '0 issue "Letsencrypt.ORG"'),
    ("TLSA", "3 1 1 " + "AB" * 32), ("SSHFP", "4 2 " + "AB" * 32), ("URI", '10 1 "HTTP://Example/"'),
    ("NSEC", "Next.Example.com. A RRSIG NSEC"),
    ("RRSIG", "A 13 2 300 20270101000000 20260101000000 16705 Example.COM. " + "QUJD" * 22), ("HTTPS", "1 Svc.Example.com. alpn=h2"),
    ("SVCB", "1 Svc.Example.com. port=8443"), ("OPENPGPKEY", "QUJD"),
    # through dnspython: types outside the lists
    ("NAPTR", '100 10 "S" "SIP+D2U" "" _Sip._udp.Example.com.'), ("RP", "Admin.Example. Txt.Example."),
    ("HINFO", '"PC" "LINUX"'), ("LOC", "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"),
    ("MB", "\\# 4 02414200"),  # a type dnspython reads as opaque: taken as it is, as by the plain signer
]


@pytest.mark.parametrize("rdtype,text", SAMPLES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(SAMPLES)])
def test_canonical_rdata_is_dnspythons_digestable_form(rdtype, text):
    rd = dns.rdata.from_text("IN", rdtype, text, origin=ORIGIN, relativize=False)
    assert codec.canonical_rdata(rd.rdtype, rd.to_wire()) == rd.to_digestable(ORIGIN)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="aBcD-x9\\.", min_size=1, max_size=8), min_size=1, max_size=4),
       st.integers(0, 65535), st.sampled_from(["NS", "CNAME", "MX", "SRV", "PTR", "DNAME", "SOA"]))
def test_canonical_rdata_of_any_spelling(labels, number, rdtype):
    name = ".".join(label.replace("\\", "\\\\").replace(".", "\\.") for label in labels) + ".Example."
    text = {"MX": f"{number} {name}", "SRV": f"{number} {number} {number} {name}",
            "SOA": f"{name} {name} {number} 1 2 3 4"}.get(rdtype, name)
    rd = dns.rdata.from_text("IN", rdtype, text)
    assert codec.canonical_rdata(rd.rdtype, rd.to_wire()) == rd.to_digestable()


# -- random zones ----------------------------------------------------------------------------------

NAMES = ["a", "B", "c.d", "x.c.d", "*", "*.w", "Mail", "deep.e.f", "sub", "ns.sub", "deeper.ns.sub",
         "dn", "below.dn", "z", "Z9"]
TYPES = {"A": ["192.0.2.1", "192.0.2.2"], "TXT": ['"one"', '"Two"'], "AAAA": ["2001:db8::1"],
         "MX": ["10 Mail.example.com.", "20 mx.example.net."]}


@st.composite
def zones(draw):
    """(owner, type, ttl, [rdata]) records: apex SOA/NS, random owners with random types; `sub`
    a delegation (with or without DS) whose names below are glue; `dn` a DNAME."""
    records = [("@", "SOA", 3600, ["ns1 hostmaster 1 7200 3600 1209600 300"]),
               ("@", "NS", 3600, ["ns1", "ns2.example.net."]), ("ns1", "A", 300, ["192.0.2.53"])]
    for name in draw(st.sets(st.sampled_from(NAMES), max_size=len(NAMES))):
        if name == "sub":
            records.append((name, "NS", 3600, ["ns.sub", "ns.example.net."]))
            if draw(st.booleans()):
                records.append((name, "DS", 3600, ["12345 13 2 " + "ab" * 32]))
        elif name == "dn":
            records.append((name, "DNAME", 300, ["example.net."]))
        else:
            for rdtype in draw(st.sets(st.sampled_from(sorted(TYPES)), min_size=1, max_size=2)):
                rdatas = draw(st.lists(st.sampled_from(TYPES[rdtype]), min_size=1, max_size=2, unique=True))
                records.append((name, rdtype, draw(st.sampled_from([300, 600])), rdatas))
    return records


def version_of(records, serial=None) -> ZoneVersion:
    nodes: dict = {}
    for owner, rdtype, ttl, texts in records:
        name = ORIGIN if owner == "@" else dns.name.from_text(owner, ORIGIN)
        rds = dns.rdataset.from_text_list("IN", rdtype, ttl, texts, origin=ORIGIN, relativize=False)
        nodes.setdefault(name, {})[(rds.rdtype, rds.covers)] = rds
    version = ZoneVersion(ORIGIN, nodes)
    return version if serial is None else version.with_serial(serial)


def check_twins(plain: ZoneVersion, wire: WireVersion, keys) -> None:
    """Same owners, same records (NSEC included), RRSIGs with the same fields, and each of the
    wire signer's signatures valid for its RRset under our DNSKEYs."""
    plain_nodes = {name: dict(node) for name, node in plain.nodes().items()}
    wire_nodes = {name: dict(node) for name, node in wire.nodes().items()}
    assert set(plain_nodes) == set(wire_nodes)
    dnskeys = {ORIGIN: wire.get(ORIGIN, dns.rdatatype.DNSKEY)}
    for name, a in plain_nodes.items():
        b = wire_nodes[name]
        assert set(a) == set(b), name
        for key, rds in a.items():
            other = b[key]
            assert rds.ttl == other.ttl, (name, key)
            if key[0] != dns.rdatatype.RRSIG:
                assert rds == other, (name, key)
                continue
            assert (sorted(tuple(getattr(sig, f) for f in FIELDS) for sig in rds)
                    == sorted(tuple(getattr(sig, f) for f in FIELDS) for sig in other)), (name, key)
            covered = b[(other.covers, dns.rdatatype.NONE)]
            dns.dnssec.validate(dns.rrset.from_rdata_list(name, covered.ttl, list(covered)),
                                dns.rrset.from_rdata_list(name, other.ttl, list(other)), dnskeys, now=NOW)


def sign_both(records, keys, serial=1, policy=POLICY):
    unsigned = zone_signer.signer_input(version_of(records, serial), keys, policy)
    plain, _ = zone_signer.sign_zone(unsigned, keys, policy, NOW)
    wire_unsigned = wire_input.signer_input(WireVersion.from_nodes(ORIGIN, version_of(records, serial).nodes()),
                                            keys, policy)
    wire, _ = wire_signer.sign_wire(wire_unsigned, keys, policy, NOW)
    return plain, wire


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones(), st.booleans(), st.sampled_from(sorted(POLICIES)))
def test_a_full_sign_is_the_plain_signers(records, split, denial):
    keys = KEYS[split]
    plain, wire = sign_both(records, keys, policy=POLICIES[denial])
    check_twins(plain, wire, keys)
    # The chain the next reload starts from, and the denial proofs' index, are the version's.
    rdtype = dns.rdatatype.NSEC if denial == "nsec" else dns.rdatatype.NSEC3
    chain = wire.cache[wire_signer.CHAIN if denial == "nsec" else wire_signer.CHAIN3][1]
    owners = [wire_key(name) for name, rds in wire.iter_rdatasets() if rds.rdtype == rdtype]
    assert sorted(chain) == sorted(owners)
    if denial != "nsec":
        assert wire._nsec3 == (sorted(k[1:33] for k in chain), chain)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones(), zones(), st.booleans(), st.sampled_from(sorted(POLICIES)))
def test_an_edit_signed_incrementally_is_a_full_sign_of_the_result(before, after, split, denial):
    """From the signed `before`, the file becomes `after`: the run over what changed gives what
    the plain signer gives, its denial chain included, and keeps every signature it may."""
    keys, policy = KEYS[split], POLICIES[denial]
    _, wire = sign_both(before, keys, policy=policy)
    new_file = WireVersion.from_nodes(ORIGIN, version_of(after, 2).nodes())
    unsigned = wire_input.signer_input(new_file, keys, policy)
    changed, _ = wire_input.changed_owners(wire, unsigned, None)
    incremental, stats = wire_signer.sign_wire(unsigned, keys, policy, NOW, previous=wire, changed=changed)
    plain_unsigned = zone_signer.signer_input(version_of(after, 2), keys, policy)
    plain, _ = zone_signer.sign_zone(plain_unsigned, keys, policy, NOW)
    check_twins(plain, incremental, keys)
    full, _ = wire_signer.sign_wire(unsigned, keys, policy, NOW, previous=wire)
    slot = wire_signer.CHAIN if denial == "nsec" else wire_signer.CHAIN3
    assert incremental.cache[slot] == full.cache[slot]
    # Nothing outside what changed was signed again, when the run was incremental.
    if stats.touched is not None:
        for key, data in wire.packed_items():
            if incremental.packed_at(key) != data:
                assert dns.name.Name(wire_signer.key_labels(key)) in stats.touched


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_a_resign_remakes_due_signatures_a_slice_at_a_time(denial):
    keys, policy = KEYS[False], POLICIES[denial]
    records = [("@", "SOA", 3600, ["ns1 hostmaster 1 7200 3600 1209600 300"]), ("@", "NS", 3600, ["ns1"]),
               ("ns1", "A", 300, ["192.0.2.53"])] + [(f"h{i}", "A", 300, ["192.0.2.1"]) for i in range(30)]
    _, wire = sign_both(records, keys, policy=policy)
    later = NOW + 10 * 86400  # everything is within the refresh window now
    version, made = wire, 0
    for serial in range(2, 12):
        unsigned = wire_input.strip(version).with_serial(serial)
        version, stats = wire_signer.sign_wire(unsigned, keys, policy, later, previous=version, changed=set(),
                                               refresh=10)
        made += stats.signed
        if stats.signed <= 1:
            break
        # The apex (SOA, NS, DNSKEY, CDS, CDNSKEY, NSEC or NSEC3PARAM: re-signed with the
        # serial), then at most 10 owners of two RRsets (record, NSEC; NSEC3 owners: one).
        assert stats.touched is not None and stats.signed <= 6 + 2 * 10
    due = [sig for _, rds in version.iter_rdatasets() if rds.rdtype == dns.rdatatype.RRSIG for sig in rds
           if zone_signer._before(sig.expiration, later + POLICY.refresh + POLICY.jitter)]
    assert not due
    assert wire_signer.earliest_expiration(WireVersion(ORIGIN, dict(version.packed_items()))) == \
        version.cache[wire_signer.EARLIEST]


FLAT = [n for n in NAMES if n not in ("sub", "ns.sub", "deeper.ns.sub", "dn", "below.dn")]


@st.composite
def flat_zones(draw):
    """As `zones`, without delegations and DNAME: every edit between two of these is one the
    run over what changed signs (no pass over every owner)."""
    records = [("@", "SOA", 3600, ["ns1 hostmaster 1 7200 3600 1209600 300"]),
               ("@", "NS", 3600, ["ns1", "ns2.example.net."]), ("ns1", "A", 300, ["192.0.2.53"])]
    for name in draw(st.sets(st.sampled_from(FLAT), max_size=len(FLAT))):
        for rdtype in draw(st.sets(st.sampled_from(sorted(TYPES)), min_size=1, max_size=2)):
            records.append((name, rdtype, 300, [TYPES[rdtype][0]]))
    return records


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat_zones(), flat_zones(), st.sampled_from(["nsec", "nsec3"]))
def test_the_run_over_what_changed_is_taken_and_is_the_plain_signers(before, after, denial):
    """Names (and the empty non-terminals above them) that come and go, types that change: the
    run over what changed handles them itself (`touched` known) and matches the plain signer."""
    keys, policy = KEYS[False], POLICIES[denial]
    _, wire = sign_both(before, keys, policy=policy)
    unsigned = wire_input.signer_input(WireVersion.from_nodes(ORIGIN, version_of(after, 2).nodes()), keys, policy)
    changed, _ = wire_input.changed_owners(wire, unsigned, None)
    incremental, stats = wire_signer.sign_wire(unsigned, keys, policy, NOW, previous=wire, changed=changed)
    assert stats.touched is not None
    plain, _ = zone_signer.sign_zone(zone_signer.signer_input(version_of(after, 2), keys, policy), keys, policy, NOW)
    check_twins(plain, incremental, keys)
    for key, data in wire.packed_items():  # nothing else was made again
        if incremental.packed_at(key) != data:
            assert dns.name.Name(wire_signer.key_labels(key)) in stats.touched


def test_a_run_that_fails_midway_lets_go_of_its_batch_and_its_worker_processes():
    """J2: signing stops in the middle (here the batch itself fails): the batch is closed, and a
    worker-process batch closed before its end leaves no process behind."""
    import multiprocessing

    from hiddenprimary.dnssec.parallel import ParallelSigner
    from hiddenprimary.dnssec.sign import prepare_keys

    closed = []

    class Failing(wire_signer.InThread):
        def add(self, jobs):
            raise RuntimeError("the signer died")

        def close(self):
            closed.append(True)

    records = [("@", "SOA", 3600, ["ns1 hostmaster 1 7200 3600 1209600 300"]), ("@", "NS", 3600, ["ns1"]),
               ("ns1", "A", 300, ["192.0.2.53"])] + [(f"h{i}", "A", 300, ["192.0.2.1"]) for i in range(600)]
    unsigned = wire_input.signer_input(WireVersion.from_nodes(ORIGIN, version_of(records).nodes()), KEYS[False], POLICY)
    with pytest.raises(RuntimeError, match="died"):
        wire_signer.sign_wire(unsigned, KEYS[False], POLICY, NOW, sign_batch=Failing)
    assert closed == [True]
    keys = prepare_keys(KEYS[False])
    batch = ParallelSigner(workers=1, min_signatures=1).batch(keys, 10)
    batch.add([(key, b"data") for key in keys])
    assert multiprocessing.active_children()  # the worker started
    batch.close()
    assert multiprocessing.active_children() == []
