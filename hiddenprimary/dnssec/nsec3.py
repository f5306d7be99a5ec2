"""NSEC3 denial of existence (RFC 5155): the hashed chain over an unsigned zone version.

Pure functions: `nsec3_chain` maps each hashed owner to its NSEC3 RRset, `nsec3param_rdataset` is
the apex NSEC3PARAM. The version already holds the apex DNSKEY (and DS at secure cuts); the caller
signs the result.

Choices (each one what BIND's dnssec-signzone 9.18 writes, checked in the tests):
- Parameters default to RFC 9276: SHA-1, 0 extra iterations, empty salt, no opt-out.
- Original names (RFC 5155 7.1): every authoritative owner and delegation point (the NSEC walk,
  `nsec.authoritative_names`: glue and names under a DNAME are left out) plus every empty
  non-terminal between them and the apex. With opt-out, delegations without DS get no NSEC3, nor
  do empty non-terminals that only lead to them.
- Type bitmap: the types at the original name. RRSIG is listed only where the name has signed
  RRsets: not at an empty non-terminal (empty bitmap) nor at a delegation without DS (just NS);
  a secure cut lists NS DS RRSIG. NSEC3PARAM is listed at the apex; NSEC3 never is (it lives at
  the hashed name, not the original one).
- Opt-out sets the flag on every NSEC3 of the chain (BIND does the same).
- TTLs: NSEC3 min(SOA TTL, SOA MINIMUM) (RFC 9077); NSEC3PARAM 0, as BIND (it is only read by
  secondaries and signers, never cached usefully).
- Two original names with the same hash cannot both be denied correctly: ValueError.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib

import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.NSEC3
import dns.rdtypes.ANY.NSEC3PARAM

from hiddenprimary.dnssec import nsec
from hiddenprimary.zone.version import ZoneVersion

_NS = dns.rdatatype.NS
_DS = dns.rdatatype.DS
_RRSIG = dns.rdatatype.RRSIG
_NSEC3 = dns.rdatatype.NSEC3
_NSEC3PARAM = dns.rdatatype.NSEC3PARAM
_NONE = dns.rdatatype.NONE

SHA1 = 1  # RFC 5155 11: the only hash algorithm defined
OPTOUT_FLAG = 0x01  # RFC 5155 3.1.2.1
MAX_ITERATIONS = 0xFFFF  # the field's range; RFC 9276 3.1 asks for 0


@dataclasses.dataclass(frozen=True)
class Nsec3Params:
    iterations: int = 0  # RFC 9276 3.1: no extra iterations
    salt: bytes = b""  # RFC 9276 3.1: no salt
    opt_out: bool = False
    algorithm: int = SHA1

    def __post_init__(self):
        if self.algorithm != SHA1:
            raise ValueError(f"NSEC3 hash algorithm {self.algorithm}: only 1 (SHA-1) is defined")
        if not 0 <= self.iterations <= MAX_ITERATIONS:
            raise ValueError(f"NSEC3 iterations {self.iterations} out of range 0..{MAX_ITERATIONS}")
        if not isinstance(self.salt, bytes) or len(self.salt) > 255:
            raise ValueError("NSEC3 salt must be at most 255 bytes")

    @property
    def flags(self) -> int:
        """The NSEC3 flags field (not NSEC3PARAM's, which is always 0: RFC 5155 4.1.2)."""
        return OPTOUT_FLAG if self.opt_out else 0


# -- hashing ------------------------------------------------------------------------------------

def _canonical_wire(name: dns.name.Name) -> bytes:
    """RFC 5155 5 hashes the canonical (RFC 4034 6.2, lower-cased) uncompressed wire form."""
    return b"".join(bytes((len(label),)) + label.lower() for label in name.labels)


def digest(wire: bytes, salt: bytes, iterations: int) -> bytes:
    """RFC 5155 5: IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k-1) || salt)."""
    digest = hashlib.sha1(wire + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return digest


def hash_name(name: dns.name.Name, params: Nsec3Params) -> bytes:
    """The raw NSEC3 hash of the absolute `name` (20 bytes for SHA-1)."""
    return digest(_canonical_wire(name), params.salt, params.iterations)


def hash_label(digest: bytes) -> bytes:
    """RFC 5155 3.3: base32hex (RFC 4648) without padding; lower case, as signers write it.
    Base32hex keeps the byte order, so owners sort as their digests do."""
    return base64.b32hexencode(digest).rstrip(b"=").lower()


def hashed_owner(name: dns.name.Name, origin: dns.name.Name, params: Nsec3Params) -> dns.name.Name:
    """The owner of the NSEC3 that matches `name`: its hash as one label under the apex."""
    return dns.name.Name((hash_label(hash_name(name, params)),) + origin.labels)


def nsec3param_rdataset(params: Nsec3Params, ttl: int = 0) -> dns.rdataset.Rdataset:
    """The apex NSEC3PARAM RRset (flags 0: the opt-out bit is an NSEC3 matter, RFC 5155 4.1.2)."""
    rdata = dns.rdtypes.ANY.NSEC3PARAM.NSEC3PARAM(
        dns.rdataclass.IN, _NSEC3PARAM, params.algorithm, 0, params.iterations, params.salt
    )
    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, _NSEC3PARAM)
    rds.update_ttl(ttl)
    rds.items[rdata] = None
    return rds


# -- the chain ----------------------------------------------------------------------------------

_EMPTY: dict = {}  # the node of an empty non-terminal


def _walk(version: ZoneVersion, params: Nsec3Params):
    """Yields (original name, is_cut, node, key) in canonical order, for `nsec3_names`; `key` is
    the lower-cased labels below the apex, right to left (what canonical order compares)."""
    depth = len(version.origin)
    opt_out = params.opt_out
    # dns.name.Name hashes character by character in Python: find nodes by the identity of the
    # owner objects authoritative_names hands back (the version's own keys), by name otherwise.
    by_id = {id(name): node for name, node in version.nodes().items()}
    prev: tuple[bytes, ...] = ()  # key of the previous name yielded
    for name, is_cut in nsec.authoritative_names(version):
        node = by_id.get(id(name))
        if node is None:
            node = version.node(name)
        if is_cut and opt_out and (_DS, _NONE) not in node:
            continue  # an unsigned delegation: left to an opt-out span (RFC 5155 6)
        labels = name.labels
        own = len(labels) - depth
        key = tuple(label.lower() for label in reversed(labels[:own]))
        # Canonical order is a preorder walk, so the ancestors shared with the previous name are
        # already out, and the deeper ones cannot be owners (they would sort before the previous
        # name and be its ancestors too): they are empty non-terminals, out now, topmost first.
        # No name lookups needed.
        common = 0
        limit = min(own, len(prev))
        while common < limit and key[common] == prev[common]:
            common += 1
        for d in range(common + 1, own):
            yield dns.name.Name(labels[own - d :]), False, _EMPTY, key[:d]
        yield name, is_cut, node, key
        prev = key


def nsec3_names(version: ZoneVersion, params: Nsec3Params) -> list[tuple[dns.name.Name, bool]]:
    """(original name, is_delegation_point) for every name that gets an NSEC3, in canonical order:
    the NSEC owners (minus delegations without DS under opt-out) and the empty non-terminals
    between them and the apex (RFC 5155 7.1)."""
    return [(name, is_cut) for name, is_cut, _node, _key in _walk(version, params)]


def _types(node, is_cut: bool, is_apex: bool) -> list[int]:
    """RFC 5155 3.2.1/7.1: the types at the original name; RRSIG only where something is signed."""
    if not node:
        return []  # empty non-terminal
    if is_cut:  # only NS and DS are the parent's; only DS is signed
        return [_NS, _DS, _RRSIG] if (_DS, _NONE) in node else [_NS]
    types = {rdtype for rdtype, _covers in node if rdtype not in nsec.SIGNER_TYPES}
    if types:
        types.add(_RRSIG)
    if is_apex:
        types.add(_NSEC3PARAM)
    return sorted(types)


def _hashed(version: ZoneVersion, params: Nsec3Params) -> list[tuple[bytes, dns.name.Name, object]]:
    """(digest, original name, NSEC3 bitmap) sorted by digest; ValueError on a hash collision."""
    salt, iterations = params.salt, params.iterations
    origin_wire = _canonical_wire(version.origin)
    bitmaps: dict = {}  # few distinct type sets: build each bitmap once
    entries = []
    for name, is_cut, node, key in _walk(version, params):
        signature = (is_cut, not key, frozenset(node))
        bitmap = bitmaps.get(signature)
        if bitmap is None:
            types = _types(node, is_cut, not key)
            bitmap = bitmaps[signature] = dns.rdtypes.ANY.NSEC3.Bitmap.from_rdtypes(types)
        wire = b"".join([bytes((len(label),)) + label for label in reversed(key)]) + origin_wire
        entries.append((digest(wire, salt, iterations), name, bitmap))
    entries.sort(key=lambda e: e[0])
    for a, b in zip(entries, entries[1:]):
        if a[0] == b[0]:
            raise ValueError(
                f"NSEC3 hash collision: {a[1]} and {b[1]} both hash to {hash_label(a[0]).decode()}; "
                "choose another NSEC3 salt"
            )
    return entries


def _hash_labels(digests: list[bytes]) -> list[bytes]:
    """`hash_label` of each digest. A SHA-1 digest (20 bytes) is whole 5-byte base32 groups, so
    one encoding of them all, cut every 32 characters, is the same and faster."""
    if not digests or any(len(d) != 20 for d in digests):
        return [hash_label(d) for d in digests]
    text = base64.b32hexencode(b"".join(digests)).lower()
    return [text[i : i + 32] for i in range(0, len(text), 32)]


def nsec3_chain(
    version: ZoneVersion, params: Nsec3Params, ttl: int | None = None, previous: ZoneVersion | None = None
) -> dict[dns.name.Name, dns.rdataset.Rdataset]:
    """Hashed owner -> NSEC3 RRset for every name of `nsec3_names`, in hash order; each points
    at the next hash, the last back to the first, and carries the opt-out flag when
    `params.opt_out`. `ttl` defaults to RFC 9077's min(SOA TTL, SOA MINIMUM). Where `previous`
    holds the very same NSEC3 at an owner, its rdataset object is returned (so its RRSIG can be
    kept, and building the record is skipped)."""
    if ttl is None:
        ttl = nsec.denial_ttl(version)
    entries = _hashed(version, params)
    digests = [e[0] for e in entries]
    rdclass = version.soa.rdclass
    apex = version.origin.labels
    make = dns.rdtypes.ANY.NSEC3.NSEC3
    alg, flags, iterations, salt = params.algorithm, params.flags, params.iterations, params.salt
    chain: dict[dns.name.Name, dns.rdataset.Rdataset] = {}
    nexts = digests[1:] + digests[:1]
    for label, entry, next_digest in zip(_hash_labels(digests), entries, nexts):
        owner = dns.name.Name((label,) + apex)
        old = previous.get(owner, _NSEC3) if previous is not None else None
        if old is not None and old.ttl == ttl and len(old) == 1:
            rd = next(iter(old))
            if (rd.next == next_digest and rd.windows == tuple(entry[2].windows) and rd.flags == flags
                    and rd.salt == salt and rd.iterations == iterations):
                chain[owner] = old
                continue
        rdata = make(rdclass, _NSEC3, alg, flags, iterations, salt, next_digest, entry[2])
        rds = dns.rdataset.Rdataset(rdclass, _NSEC3)
        rds.update_ttl(ttl)
        rds.items[rdata] = None  # new and fitting: skip add()'s two wire renderings for hashing
        chain[owner] = rds
    return chain
