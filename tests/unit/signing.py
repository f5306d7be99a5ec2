"""What the signing tests share: a zone with every case signing must handle (as records), fresh
keys, and the signed result written as a zone file for BIND's dnssec-verify and ldns-verify-zone.

    keys = make_keys(13, split=False)        # one CSK; split=True: a KSK and a ZSK
    write_zone(signed_version, tmp_path / "example.com.signed")
"""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdataset
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hiddenprimary.dnssec.keys import SEP_FLAG, ZONE_FLAG, SigningKey
from hiddenprimary.zone.version import ZoneVersion

ORIGIN = dns.name.from_text("example.com.")

ZONE_RECORDS = [
    ("@", "SOA", 3600, "ns1 hostmaster 2024010101 7200 3600 1209600 300"),
    ("@", "NS", 3600, "ns1", "ns2.example.net."),
    ("@", "MX", 3600, "10 mail"),
    ("@", "A", 300, "192.0.2.1"),
    ("ns1", "A", 3600, "192.0.2.53"),
    ("www", "A", 300, "192.0.2.10", "192.0.2.11"),
    ("www", "AAAA", 300, "2001:db8::10"),
    ("Mail", "A", 300, "192.0.2.25"),  # mixed case owner: canonical form lower-cases it
    ("alias", "CNAME", 300, "www"),
    ("*.wild", "TXT", 300, '"wildcard"'),
    ("host.deep.ent", "A", 300, "192.0.2.99"),  # deep.ent and ent are empty non-terminals
    ("sub", "NS", 3600, "ns.sub", "ns.example.net."),  # delegation with DS and in-bailiwick glue
    ("sub", "DS", 3600, "12345 13 2 " + "ab" * 32),
    ("ns.sub", "A", 3600, "192.0.2.200"),
    ("ns.sub", "AAAA", 3600, "2001:db8::200"),
    ("deeper.ns.sub", "TXT", 3600, '"occluded"'),
    ("nods", "NS", 3600, "ns1.example.net."),  # delegation without DS
    ("z", "TXT", 300, '"last name"'),
]


def make_version(records=ZONE_RECORDS, origin=ORIGIN) -> ZoneVersion:
    """A version from (owner, type, ttl, rdata...) tuples; "@" is the origin."""
    nodes: dict = {}
    for owner, rdtype, ttl, *texts in records:
        name = dns.name.from_text(owner, origin) if owner != "@" else origin
        rds = dns.rdataset.from_text_list("IN", rdtype, ttl, texts, origin=origin, relativize=False)
        nodes.setdefault(name, {})[(rds.rdtype, rds.covers)] = rds
    return ZoneVersion(origin, nodes)


def make_key(algorithm: int, flags: int = ZONE_FLAG | SEP_FLAG, zone=ORIGIN,
             signs_keys=True, signs_zone=True) -> SigningKey:
    """A fresh key of `algorithm` (13: ECDSAP256SHA256, 15: ED25519); a CSK unless told otherwise."""
    if algorithm == 13:
        private = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == 15:
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(algorithm)
    dnskey = dns.dnssec.make_dnskey(private.public_key(), algorithm, flags=flags)
    return SigningKey(zone=zone, dnskey=dnskey, private_key=private,
                      signs_keys=signs_keys, signs_zone=signs_zone)


def make_keys(algorithm: int, split: bool) -> list[SigningKey]:
    """One CSK, or (split) a KSK and a ZSK."""
    if not split:
        return [make_key(algorithm)]
    return [make_key(algorithm, signs_zone=False), make_key(algorithm, flags=ZONE_FLAG, signs_keys=False)]


def write_zone(version: ZoneVersion, path) -> None:
    """`version` as a zone file, one RRset after the other."""
    with open(path, "w") as f:
        f.writelines(rds.to_text(name) + "\n" for name, rds in version.iter_rdatasets())
