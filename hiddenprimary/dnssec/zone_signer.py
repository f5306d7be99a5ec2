"""Signing a zone version, reusing every signature that is still good.

`signer_input` turns the operator's zone (as loaded from the file) into what gets signed: the
signer's own records (RRSIG, NSEC, NSEC3) dropped, the DNSKEY RRset completed with our keys, CDS and
CDNSKEY made for our KSK/CSK (RFC 7344/8078) and, for NSEC3, the NSEC3PARAM. `strip` takes a signed
version back to that form, so a reload compares the new file with what is served minus signatures.

`sign_zone` signs such an input. Given the previous signed version it keeps each RRSIG whose RRset
did not change, made by a key we still use, that does not expire within the refresh window; only
the rest is signed afresh, together with the NSEC/NSEC3 records whose content changed (a new
neighbour, a new type bitmap). So a reload of one changed record re-signs that RRset, the SOA and
the denial records around the name, and a restart re-signs nothing. The bookkeeping walk is O(zone)
in plain dict lookups; the signing (the expensive part) is O(changes).

Signature times (RFC 4034 3.1.5): inception one hour in the past (clock skew between us and
validators, as BIND does), expiration `validity` ahead minus a per-RRset jitter so the signatures
of one run do not all come due at once. Refresh takes every signature expiring within `refresh` +
`jitter`, so one refresh run re-signs a whole cohort instead of trickling one serial bump per slice.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype

from hiddenprimary.dnssec import nsec, nsec3
from hiddenprimary.zone.version import RdatasetKey, ZoneVersion

if TYPE_CHECKING:
    from hiddenprimary.dnssec.keys import SigningKey

_RRSIG = dns.rdatatype.RRSIG
_NSEC = dns.rdatatype.NSEC
_NSEC3 = dns.rdatatype.NSEC3
_NSEC3PARAM = dns.rdatatype.NSEC3PARAM
_DNSKEY = dns.rdatatype.DNSKEY
_CDS = dns.rdatatype.CDS
_CDNSKEY = dns.rdatatype.CDNSKEY
_SOA = dns.rdatatype.SOA
_DS = dns.rdatatype.DS
_NS = dns.rdatatype.NS
_DNAME = dns.rdatatype.DNAME
_NONE = dns.rdatatype.NONE

SIGNER_TYPES = frozenset({_RRSIG, _NSEC, _NSEC3})  # made here; never taken from the zone file
SIGNER_APEX_TYPES = frozenset({_DNSKEY, _CDS, _CDNSKEY, _NSEC3PARAM})  # made (or completed) here at the apex
INCEPTION_SKEW = 3600  # seconds in the past (BIND: 1 hour)
DNSKEY_TTL = 3600  # BIND's dnskey-ttl default


@dataclasses.dataclass(frozen=True)
class SigningPolicy:
    validity: int  # seconds a new signature is valid for
    refresh: int  # re-sign a signature once it expires within this
    jitter: int  # expirations are spread over this many seconds
    denial: str = "nsec"  # nsec | nsec3
    nsec3: nsec3.Nsec3Params | None = None
    dnskey_ttl: int = DNSKEY_TTL

    @classmethod
    def from_config(cls, cfg) -> SigningPolicy:
        """From config.Dnssec. Jitter: a quarter of the smaller of the refresh window and the time
        before it, so a jittered signature is never made already inside the refresh window."""
        jitter = max(0, min(cfg.refresh, cfg.signature_validity - cfg.refresh) // 4)
        params = nsec3.Nsec3Params(opt_out=cfg.nsec3_opt_out) if cfg.denial == "nsec3" else None
        return cls(cfg.signature_validity, cfg.refresh, jitter, cfg.denial, params)


@dataclasses.dataclass
class SignStats:
    signed: int = 0  # RRsets signed afresh
    reused: int = 0  # RRsets whose signatures were kept
    denial_changed: int = 0  # NSEC/NSEC3 RRsets made afresh
    earliest_expiration: int | None = None  # of any signature in the result
    # The owners where the result can differ from `previous` (for `diff_at`); None: anywhere
    # (no previous, or a change that can occlude or expose names: NS or DNAME below the apex).
    touched: set | None = None


# ---------------------------------------------------------------------------------------------
# What gets signed


def signer_input(file_version: ZoneVersion, keys: Sequence[SigningKey], policy: SigningPolicy) -> ZoneVersion:
    """The operator's zone prepared for signing (see the module docstring). DNSKEYs already in the
    file (pre-published or foreign keys) stay; CDS/CDNSKEY and NSEC3PARAM are ours alone."""
    origin = file_version.origin
    nodes: dict = {}
    for name, node in file_version.nodes().items():
        if any(key[0] in SIGNER_TYPES for key in node):
            node = {key: rds for key, rds in node.items() if key[0] not in SIGNER_TYPES}
        if node:
            nodes[name] = node
    nodes[origin] = signer_input_apex(nodes[origin], keys, policy)
    return ZoneVersion(origin, nodes)


def signer_input_apex(apex: dict, keys: Sequence[SigningKey], policy: SigningPolicy) -> dict:
    """The apex node of `signer_input`: the file's (signer's types dropped) with our DNSKEYs
    added, our CDS/CDNSKEY and, for NSEC3, our NSEC3PARAM."""
    from hiddenprimary.dnssec import keys as dnssec_keys  # cryptography: only where zones are signed

    apex = {key: rds for key, rds in apex.items() if key[0] not in SIGNER_TYPES}
    apex.pop((_NSEC3PARAM, _NONE), None)
    ttl = policy.dnskey_ttl
    apex[(_DNSKEY, _NONE)] = dnssec_keys.dnskey_rdataset(keys, ttl, apex.get((_DNSKEY, _NONE)))
    apex[(_CDS, _NONE)] = dnssec_keys.cds_rdataset(keys, ttl)
    apex[(_CDNSKEY, _NONE)] = dnssec_keys.cdnskey_rdataset(keys, ttl)
    if policy.denial == "nsec3":
        apex[(_NSEC3PARAM, _NONE)] = nsec3.nsec3param_rdataset(policy.nsec3)
    return apex


def signing_mismatch(served: ZoneVersion, keys: Sequence[SigningKey], policy: SigningPolicy) -> str | None:
    """What differs between how `served` is signed and how `keys`/`policy` would sign it (a key
    missing from the DNSKEY set, other CDS/CDNSKEY, NSEC <-> NSEC3, other NSEC3 parameters or
    opt-out); None when nothing does. A reload takes such a change in; the re-sign timer, which
    has no zone file to rebuild the apex from, must not sign with them."""
    from hiddenprimary.dnssec import keys as dnssec_keys

    origin = served.origin
    dnskeys = served.get(origin, _DNSKEY)
    if dnskeys is None or any(k.dnskey not in dnskeys for k in keys):
        return "a signing key is not in the served DNSKEY set"
    ttl = policy.dnskey_ttl
    for rdtype, wanted in ((_CDS, dnssec_keys.cds_rdataset(keys, ttl)), (_CDNSKEY, dnssec_keys.cdnskey_rdataset(keys, ttl))):
        have = served.get(origin, rdtype)
        if have is None or have != wanted or have.ttl != wanted.ttl:
            return f"the served {dns.rdatatype.to_text(rdtype)} is not the one of the current keys"
    param = served.get(origin, _NSEC3PARAM)
    if policy.denial == "nsec3":
        if param is None or param != nsec3.nsec3param_rdataset(policy.nsec3):
            return "the served zone is not signed with NSEC3 and these parameters"
        apex_nsec3 = served.get(nsec3.hashed_owner(origin, origin, policy.nsec3), _NSEC3)
        if apex_nsec3 is None or any(rd.flags != policy.nsec3.flags for rd in apex_nsec3):
            return "the served NSEC3 chain has other flags (opt-out)"
    elif param is not None or served.get(origin, _NSEC) is None:
        return "the served zone is not signed with NSEC"
    return None


def strip(signed: ZoneVersion) -> ZoneVersion:
    """`signed` without the signer's records: the input it was signed from."""
    nodes = {}
    for name, node in signed.nodes().items():
        kept = {key: rds for key, rds in node.items() if key[0] not in SIGNER_TYPES}
        if kept:
            nodes[name] = kept
    return ZoneVersion(signed.origin, nodes)


def unsigned_changes(old: ZoneVersion, new: ZoneVersion) -> set[tuple[dns.name.Name, RdatasetKey]]:
    """(owner, rdataset key) of every RRset that differs between `old` and `new`, ignoring the
    signer's records and the apex SOA (the serial is decided elsewhere)."""
    changed = set()
    old_nodes, new_nodes = old.nodes(), new.nodes()
    soa_key = (_SOA, _NONE)
    for name in old_nodes.keys() | new_nodes.keys():
        a, b = old_nodes.get(name, {}), new_nodes.get(name, {})
        if a is b:
            continue
        for key in a.keys() | b.keys():
            if key[0] in SIGNER_TYPES or (name == old.origin and key == soa_key):
                continue
            ra, rb = a.get(key), b.get(key)
            if ra is rb:
                continue
            if ra is None or rb is None or ra.ttl != rb.ttl or ra != rb:
                changed.add((name, key))
    return changed


# ---------------------------------------------------------------------------------------------
# Signing


class _Times:
    """Inception and jittered expirations for one signing run."""

    def __init__(self, now: int, policy: SigningPolicy, rng: random.Random):
        self.inception = now - INCEPTION_SKEW
        self.base = now + policy.validity
        self.jitter = policy.jitter
        self.rng = rng
        # Signatures expiring before this are re-made (see the module docstring).
        self.refresh_before = now + policy.refresh + policy.jitter
        self.now = now
        self.earliest: int | None = None  # the soonest expiration in the result, kept as we go

    def expiration(self) -> int:
        when = self.base - (self.rng.randrange(self.jitter + 1) if self.jitter else 0)
        self._saw(when)
        return when

    def _saw(self, expiration: int) -> None:
        if self.earliest is None or _before(expiration, self.earliest):
            self.earliest = expiration

    def keeps(self, rrsig: dns.rdataset.Rdataset | None, wanted: frozenset) -> bool:
        """An RRSIG RRset to keep: one signature per signing key (`wanted`: their tag and
        algorithm), none of them due for refresh or made in the future."""
        if rrsig is None or len(rrsig) != len(wanted):
            return False
        for sig in rrsig:
            if (sig.key_tag, sig.algorithm) not in wanted:
                return False
            if _before(sig.expiration, self.refresh_before) or _before(self.now, sig.inception):
                return False
        for sig in rrsig:
            self._saw(sig.expiration)
        return True


def _before(a: int, b: int) -> bool:
    """RFC 4034 3.1.5: signature times compare in serial number arithmetic (RFC 1982)."""
    return a != b and ((b - a) & 0xFFFFFFFF) < 0x80000000


def sign_zone(
    unsigned: ZoneVersion,
    keys: Sequence[SigningKey],
    policy: SigningPolicy,
    now: int,
    previous: ZoneVersion | None = None,
    changed: set | None = None,
    rng: random.Random | None = None,
    sign_batch: Callable[[list], list] | None = None,
) -> tuple[ZoneVersion, SignStats]:
    """Sign `unsigned` (a `signer_input` result carrying the serial to publish).

    `previous` (the version served now) and `changed` (`unsigned_changes` against it) let unchanged
    RRsets keep their signatures; with `previous` None everything is signed. `sign_batch`, given a
    list of signing jobs, returns their RRSIG rdatasets in order (the default signs in this
    thread; the daemon may pass a multi-process one for full signs)."""
    from hiddenprimary.dnssec.sign import KEY_TYPES, prepare_keys, sign_jobs

    origin = unsigned.origin
    for key in keys:
        if key.zone != origin:
            raise ValueError(f"key {key.key_tag} belongs to {key.zone}, not {origin}")
    ksks = prepare_keys(k for k in keys if k.signs_keys)
    zsks = prepare_keys(k for k in keys if k.signs_zone)
    if not ksks or not zsks:
        raise ValueError("signing needs at least one key with signs_keys and one with signs_zone")
    times = _Times(now, policy, rng or random.Random(f"{origin}/{unsigned.serial}"))
    if previous is None:
        changed = None
    stats = SignStats()

    nodes = _reuse_unchanged(unsigned, previous, changed)
    # Denial records first: they are signed like any other RRset of their owner.
    denial = _denial_chain(unsigned, policy, previous)
    denial_type = _NSEC3 if policy.denial == "nsec3" else _NSEC
    touched = _touched_names(previous, changed, denial, origin)
    for owner, rds in denial.items():
        if previous is None or previous.get(owner, denial_type) is not rds:
            stats.denial_changed += 1  # the chain builders hand back unchanged records as they were
            if touched is not None:
                touched.add(owner)
        nodes.setdefault(owner, {})[(denial_type, _NONE)] = rds

    jobs: list = []  # (owner, rdataset, signers, expiration)
    places: list = []  # where each job's result goes: (node, key)
    wanted = {id(group): frozenset((k.key_tag, k.algorithm) for k in group) for group in (ksks, zsks)}
    for name, is_cut in _signed_owners(unsigned, denial, denial_type):
        node = nodes[name]
        prev_node = previous.node(name) if previous is not None else {}
        for key, rds in list(node.items()):
            rdtype = key[0]
            if is_cut and rdtype not in (_DS, _NSEC):
                continue  # the child's NS and the glue at the cut are not ours to sign
            signers = ksks if rdtype in KEY_TYPES else zsks
            old_sig = prev_node.get((_RRSIG, rdtype))
            if prev_node.get(key) is rds and times.keeps(old_sig, wanted[id(signers)]):
                node[(_RRSIG, rdtype)] = old_sig
                stats.reused += 1
                continue
            jobs.append((name, rds, signers, times.expiration()))
            places.append((node, (_RRSIG, rdtype)))
            if touched is not None:
                touched.add(name)
    results = (sign_batch or sign_jobs)([(n, r, s, times.inception, e) for n, r, s, e in jobs])
    for (node, key), sig in zip(places, results):
        node[key] = sig
    stats.signed = len(jobs)
    stats.touched = touched
    signed = ZoneVersion(origin, nodes)
    signed.cache[DENIAL_OWNERS] = frozenset(denial)  # for the next run's `_touched_names`
    stats.earliest_expiration = times.earliest
    return signed, stats


DENIAL_OWNERS = "dnssec.denial_owners"  # ZoneVersion.cache slot: the owners of its NSEC/NSEC3 records


def _touched_names(previous: ZoneVersion | None, changed: set | None, denial: dict,
                   origin: dns.name.Name) -> set | None:
    """The owners a signing run can change, to which it adds the owners it re-signs or whose
    denial record it replaces; None when that cannot be known cheaply (then the caller diffs the
    whole zone): no previous version, its denial owners not recorded (a restored version), or a
    change of NS or DNAME below the apex (names below it become glue or data, losing or gaining
    signatures that no other rule here would touch)."""
    if previous is None or changed is None:
        return None
    old_owners = previous.cache.get(DENIAL_OWNERS)
    if old_owners is None:
        return None
    touched = set()
    for name, key in changed:
        if key[0] in (_NS, _DNAME) and name != origin:
            return None
        touched.add(name)
    touched.add(origin)  # the SOA (and its RRSIG) always changes
    touched.update(old_owners.difference(denial))  # denial records that went away
    return touched


def _reuse_unchanged(unsigned: ZoneVersion, previous: ZoneVersion | None, changed: set | None) -> dict:
    """Mutable copies of `unsigned`'s nodes in which every RRset outside `changed` is the very
    object `previous` holds: "unchanged" is then an identity test, and the journal diff skips those
    RRsets by identity too. The apex SOA (new serial) is never taken from `previous`."""
    nodes = {}
    soa_key = (_SOA, _NONE)
    for name, node in unsigned.nodes().items():
        node = dict(node)
        if changed is not None:
            prev = previous.node(name)
            for key in node.keys() & prev.keys():
                if (name, key) not in changed and not (key == soa_key and name == unsigned.origin):
                    node[key] = prev[key]
        nodes[name] = node
    return nodes


def _denial_chain(unsigned: ZoneVersion, policy: SigningPolicy,
                  previous: ZoneVersion | None) -> dict[dns.name.Name, dns.rdataset.Rdataset]:
    if policy.denial == "nsec3":
        return nsec3.nsec3_chain(unsigned, policy.nsec3, previous=previous)
    return nsec.nsec_chain(unsigned, previous=previous)


def _signed_owners(unsigned: ZoneVersion, denial: dict, denial_type: int) -> list[tuple[dns.name.Name, bool]]:
    """Every owner with something to sign: the authoritative names and cuts (a cut signs only its
    DS and NSEC), plus the NSEC3 owners (hashed names, outside the original tree)."""
    owners = nsec.authoritative_names(unsigned)
    if denial_type == _NSEC3:
        owners = owners + [(owner, False) for owner in denial]
    return owners


def earliest_expiration(signed: ZoneVersion) -> int | None:
    """The soonest RRSIG expiration in the zone (absolute POSIX seconds), None when unsigned. The
    refresh timer fires `refresh` before it."""
    earliest = None
    for node in signed.nodes().values():
        for key, rds in node.items():
            if key[0] == _RRSIG:
                for sig in rds:
                    if earliest is None or _before(sig.expiration, earliest):
                        earliest = sig.expiration
    return earliest


def is_signed(version: ZoneVersion | None) -> bool:
    """True when the version carries its own signatures (an RRSIG over the apex SOA)."""
    if version is None:
        return False
    holds = getattr(version, "apex_holds", None)  # a compact version answers without decoding
    if holds is not None:
        return holds(_RRSIG, _SOA)
    return version.get(version.origin, _RRSIG, _SOA) is not None
