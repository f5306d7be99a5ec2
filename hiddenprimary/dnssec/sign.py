"""RRSIG generation straight on `cryptography` (no dns.dnssec.sign per RRset): the signed data is
the RFC 4034 3.1.8.1 form, built once per RRset and signed by each key (`zone_signer` signs whole
zones with it). Times (inception, expiration) are arguments: POSIX seconds."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.RRSIG
from hiddenprimary.dnssec import signature
from hiddenprimary.dnssec.keys import SigningKey

_RRSIG = dns.rdatatype.RRSIG
_DNSKEY = dns.rdatatype.DNSKEY
_CDS = dns.rdatatype.CDS
_CDNSKEY = dns.rdatatype.CDNSKEY
_NSEC = dns.rdatatype.NSEC
_NSEC3 = dns.rdatatype.NSEC3
_NSEC3PARAM = dns.rdatatype.NSEC3PARAM
_DS = dns.rdatatype.DS
_NONE = dns.rdatatype.NONE

KEY_TYPES = frozenset({_DNSKEY, _CDS, _CDNSKEY})  # signed by keys with signs_keys (KSK/CSK)
DEFAULT_DNSKEY_TTL = 3600  # BIND's dnskey-ttl default

_RRSIG_CLASS = dns.rdtypes.ANY.RRSIG.RRSIG
# The slots an RRSIG by one key shares with every other it makes in one run.
_RRSIG_FIXED_SLOTS = ("rdclass", "rdtype", "rdcomment", "algorithm", "inception", "key_tag", "signer")
_HEADER = struct.Struct("!HBBIIIH")  # type covered, algorithm, labels, orig TTL, exp, inc, tag
_RR_FIXED = struct.Struct("!HHI")  # type, class, TTL (then rdlength, rdata)
_RDLEN = struct.Struct("!H")


def _signer(key: SigningKey):
    """A function data -> signature bytes in the DNSSEC wire form of the key's algorithm."""
    return signature.signer(key.algorithm, key.private_key)


class PreparedKey:
    """What signing with one key needs, computed once per key rather than once per RRset."""

    __slots__ = ("algorithm", "key", "key_tag", "sign", "signer", "signer_wire", "protos")

    def __init__(self, key: SigningKey):
        self.key = key
        self.algorithm = key.algorithm
        self.key_tag = key.key_tag
        self.signer = key.zone
        self.signer_wire = canonical_name_wire(key.zone)
        self.sign = _signer(key)
        self.protos: dict[tuple[int, int], dns.rdtypes.ANY.RRSIG.RRSIG] = {}  # (class, inception) -> RRSIG

    def rrsig(self, rdclass: int, covered: int, labels: int, ttl: int, expiration: int, inception: int,
              signature: bytes) -> dns.rdtypes.ANY.RRSIG.RRSIG:
        """An RRSIG by this key. The first one per (class, inception) is built by dnspython, with
        its checks; the rest are copies of it with the per-RRset fields set directly, skipping
        dnspython's per-field validation (a third of signing time). Those fields come from an
        rdataset dnspython already checked and from our own masked times; a test compares the
        result with dnspython's constructor field by field and on the wire."""
        proto = self.protos.get((rdclass, inception))
        if proto is None:
            if len(self.protos) > 4:
                self.protos.clear()
            proto = self.protos[(rdclass, inception)] = dns.rdtypes.ANY.RRSIG.RRSIG(
                rdclass, _RRSIG, covered, self.algorithm, labels, ttl, expiration, inception, self.key_tag,
                self.signer, signature)
        rd = object.__new__(_RRSIG_CLASS)
        for slot, value in ((s_, getattr(proto, s_)) for s_ in _RRSIG_FIXED_SLOTS):
            object.__setattr__(rd, slot, value)
        object.__setattr__(rd, "type_covered", dns.rdatatype.RdataType.make(covered))
        object.__setattr__(rd, "labels", labels)
        object.__setattr__(rd, "original_ttl", ttl)
        object.__setattr__(rd, "expiration", expiration)
        object.__setattr__(rd, "signature", signature)
        return rd


def canonical_name_wire(name: dns.name.Name) -> bytes:
    """RFC 4034 6.2: the uncompressed wire form, lower-cased (ASCII only)."""
    return b"".join(bytes((len(label),)) + label.lower() for label in name.labels)


def _add_new(rdataset: dns.rdataset.Rdataset, rdata) -> None:
    """Rdataset.add for an rdata known to be new and to fit: dnspython's add hashes the rdata
    twice (each hash renders it to wire), a third of full-zone signing time."""
    rdataset.items[rdata] = None


def prepare_keys(keys: Iterable[SigningKey | PreparedKey]) -> list[PreparedKey]:
    return [k if isinstance(k, PreparedKey) else PreparedKey(k) for k in keys]


def rrsig_labels(name: dns.name.Name) -> int:
    """RFC 4034 3.1.3: labels of the owner, not counting the root nor a leading wildcard."""
    n = len(name) - 1
    return n - 1 if name.is_wild() else n


def sign_prepared(
    name: dns.name.Name,
    rdataset: dns.rdataset.Rdataset,
    keys: Sequence[PreparedKey],
    inception: int,
    expiration: int,
    owner_wire: bytes | None = None,
) -> dns.rdataset.Rdataset:
    rdtype, rdclass, ttl = rdataset.rdtype, rdataset.rdclass, rdataset.ttl
    origin = keys[0].signer if keys else None
    # RFC 4034 6.2/6.3: owner lower-cased, rdata canonical, RRs sorted by their canonical rdata,
    # duplicates (already impossible in an rdataset) removed.
    owner = canonical_name_wire(name) if owner_wire is None else owner_wire
    rdatas = sorted(rd.to_digestable(origin) for rd in rdataset)
    rr_prefix = owner + _RR_FIXED.pack(rdtype, rdclass, ttl)
    pack_len = _RDLEN.pack
    rrs = b"".join(rr_prefix + pack_len(len(w)) + w for w in rdatas)
    labels = rrsig_labels(name)
    expiration &= 0xFFFFFFFF
    inception &= 0xFFFFFFFF
    out = dns.rdataset.Rdataset(rdclass, _RRSIG, covers=rdtype)
    out.update_ttl(ttl)
    for k in keys:
        header = _HEADER.pack(rdtype, k.algorithm, labels, ttl, expiration, inception, k.key_tag)
        signature = k.sign(header + k.signer_wire + rrs)
        _add_new(out, k.rrsig(rdclass, rdtype, labels, ttl, expiration, inception, signature))
    return out


def sign_rrset(
    name: dns.name.Name,
    rdataset: dns.rdataset.Rdataset,
    keys: Iterable[SigningKey],
    inception: int,
    expiration: int,
) -> dns.rdataset.Rdataset:
    """The RRSIG rdataset (covers = rdataset.rdtype, TTL = rdataset.ttl) holding one signature
    per key over the RRset `name`/`rdataset`. `name` is absolute; the signer is each key's zone."""
    prepared = prepare_keys(keys)
    if not prepared:
        raise ValueError("no keys to sign with")
    return sign_prepared(name, rdataset, prepared, inception, expiration)


def sign_jobs(jobs: Iterable[tuple]) -> list[dns.rdataset.Rdataset]:
    """Sign a batch of (owner, rdataset, prepared keys, inception, expiration) jobs in this
    thread: the RRSIG rdatasets, in order."""
    return [sign_prepared(name, rds, signers, inception, expiration, canonical_name_wire(name))
            for name, rds, signers, inception, expiration in jobs]
