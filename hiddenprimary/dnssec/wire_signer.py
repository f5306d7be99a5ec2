"""Signing a zone held in wire form (`zone.wire_version`), NSEC or NSEC3 denial: the fast twin
of `zone_signer.sign_zone`, which tests compare it with (same records, same denial chain, RRSIGs
with the same fields, every signature validated by dnspython).

No dnspython object per record: an RRset's canonical form (RFC 4034 6.2/6.3) is built from its
stored wire rdata (`codec.canonical_rdata`), the RRSIG rdata is packed here and the signature
made by `cryptography` over it (`dnssec.signature`). Each owner of the signed version is its
unsigned rdatasets as stored, then its NSEC, then one RRSIG rdataset per signed type; NSEC3
records are owners of their own, right below the apex.

Two passes:
- `changed=None` (a first sign, a restart, a file the fast readers refused, a delegation or DNAME
  edit, NSEC3 opt-out): every owner in canonical order, signatures kept where the RRset's bytes
  and the denial record are the previous version's and not due (as `sign_zone` keeps them), the
  rest signed;
- `changed` = owner keys whose records may differ: only those owners, the apex (its SOA's
  serial) and the denial records around them are rebuilt (NSEC: the predecessors of owners that
  came or went; NSEC3: the hashes of the changed owners and their ancestors, and the hash before
  each one that came or went); the chain comes from the previous version's cache, updated by
  bisect. What that costs is what changed.

A version this module signed carries in its `cache`: the chain order (`CHAIN` or `CHAIN3`), the
names that occlude names below them (`OCCLUDERS`: cuts and DNAME owners), the earliest signature
expiration (`EARLIEST`), and its unsigned input (`UNSIGNED`) for the next reload to evolve."""

from __future__ import annotations

import base64
import bisect
import random
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import dns.name
import dns.rdataclass
import dns.rdtypes.ANY.NSEC

from hiddenprimary.big_lists import release, sorted_in_runs
from hiddenprimary.dnssec import nsec3, zone_signer
from hiddenprimary.dnssec.zone_signer import INCEPTION_SKEW, SigningPolicy, SignStats, _before
from hiddenprimary.zone import codec
from hiddenprimary.zone.version import canonical_key
from hiddenprimary.zone.wire_version import WireVersion, key_labels

if TYPE_CHECKING:
    from hiddenprimary.dnssec.keys import SigningKey
    from hiddenprimary.dnssec.sign import PreparedKey

CHUNK = 1000  # signing jobs handed to the batch at a time
CHAIN = "dnssec.wire_chain"  # (canonical sort keys, owner keys) of the NSEC chain, in order
CHAIN3 = "dnssec.wire_chain3"  # (hash labels, hashed owner keys) of the NSEC3 chain, in order
OCCLUDERS = "dnssec.occluders"  # frozenset of keys of cuts and DNAME owners
EARLIEST = "dnssec.earliest_expiration"
UNSIGNED = "dnssec.unsigned"  # the WireVersion this one was signed from
DUE = "dnssec.due"  # a re-sign run's leftovers for the next: (owners still due, the others' earliest)
# Owners whose due signatures one re-sign run (one serial) re-makes at most: a big zone's refresh
# goes out as several small IXFRs a second apart, not one giant one.
REFRESH_SLICE = 10_000

_IN = dns.rdataclass.IN
_NS, _DNAME = 2, 39
_DS, _RRSIG, _NSEC, _NSEC3 = 43, 46, 47, 50
_DNSKEY, _CDS, _CDNSKEY, _NSEC3PARAM = 48, 59, 60, 51
_KEY_TYPES = frozenset({_DNSKEY, _CDS, _CDNSKEY})
_SIGNER_TYPES = frozenset({_RRSIG, _NSEC, _NSEC3})

_LEN = struct.Struct("!H")
_SIG_HEAD = struct.Struct("!HBBIIIH")  # RRSIG rdata up to the signer: covered, alg, labels, TTL, exp, inc, tag
_RR_FIXED = struct.Struct("!HHI")  # type, class, TTL


def _owner_wire(data: bytes) -> bytes:
    """The owner name, as stored, at the start of an owner's encoded rdatasets."""
    pos = 0
    while data[pos]:
        pos += data[pos] + 1
    return data[:pos + 1]


def _labels(key: bytes) -> int:
    """RFC 4034 3.1.3: the owner's labels, not counting the root nor a leading wildcard."""
    count, pos = 0, 0
    while key[pos]:
        count += 1
        pos += key[pos] + 1
    return count - 1 if key[:2] == b"\x01*" else count


def _below(key: bytes, ancestor: bytes) -> bool:
    """`key` is strictly below `ancestor` (both lowercased wire)."""
    pos, end = 0, len(key) - len(ancestor)
    while pos < end:
        pos += key[pos] + 1
    return pos == end and pos > 0 and key[pos:] == ancestor


def _occluded(key: bytes, occluders: frozenset | set, top: int) -> bool:
    """An ancestor of `key` (below the apex, of wire length `top`) is a cut or a DNAME owner."""
    key = key[key[0] + 1:]
    while len(key) > top:
        if key in occluders:
            return True
        key = key[key[0] + 1:]
    return False


class _Bitmaps:
    """NSEC type bitmaps (RFC 4034 4.1.2) by set of types: a zone has few distinct ones."""

    def __init__(self):
        self._made: dict[frozenset, bytes] = {}

    def of(self, types: frozenset) -> bytes:
        wire = self._made.get(types)
        if wire is None:
            bitmap = dns.rdtypes.ANY.NSEC.Bitmap.from_rdtypes(sorted(types))
            wire = self._made[types] = b"".join(bytes((window, len(bits))) + bits for window, bits in bitmap.windows)
        return wire


class _Run:
    """One signing run: keys, times, and the jobs collected before they are signed in one batch."""

    def __init__(self, keys: Sequence[SigningKey], policy: SigningPolicy, now: int, rng: random.Random,
                 origin):
        from hiddenprimary.dnssec.sign import prepare_keys

        for key in keys:
            if key.zone != origin:
                raise ValueError(f"key {key.key_tag} belongs to {key.zone}, not {origin}")
        self.ksks = prepare_keys(k for k in keys if k.signs_keys)
        self.zsks = prepare_keys(k for k in keys if k.signs_zone)
        if not self.ksks or not self.zsks:
            raise ValueError("signing needs at least one key with signs_keys and one with signs_zone")
        self.wanted = {id(g): frozenset((k.key_tag, k.algorithm) for k in g) for g in (self.ksks, self.zsks)}
        self.inception = (now - INCEPTION_SKEW) & 0xFFFFFFFF
        self.base = now + policy.validity
        self.jitter = policy.jitter
        self.rng = rng
        self.refresh_before = now + policy.refresh + policy.jitter
        self.now = now
        self.earliest: int | None = None
        self.pending: list[tuple[PreparedKey, bytes]] = []  # (key, data to sign) not yet handed on
        self.count = 0  # signatures asked for
        self.batch = None
        self.signed = 0
        self.reused = 0
        self.sig_records = 0  # RRSIG records in the owners built (made and kept)
        self.dropped = 0  # records of the signer's types found in the input (never served)
        self.denial_changed = 0  # NSEC records made anew

    def start(self, sign_batch: Callable | None, estimate: int) -> None:
        """Open the batch the signatures go to (`sign_batch(keys, estimate)`, else this thread)."""
        self.close()
        keys = list({id(k): k for k in (*self.ksks, *self.zsks)}.values())
        self.batch = (sign_batch or InThread)(keys, estimate)

    def close(self) -> None:
        """Let go of the batch (its worker processes), finished or not."""
        if self.batch is not None:
            self.batch.close()
            self.batch = None

    def signatures(self) -> list[bytes]:
        """Every signature asked for, in order (the batch's last chunk handed on first)."""
        self.batch.add(self.pending)
        self.pending = []
        return self.batch.finish()

    def _saw(self, expiration: int) -> None:
        if self.earliest is None or _before(expiration, self.earliest):
            self.earliest = expiration

    def keeps(self, rrsig: tuple | None, signers: list) -> bool:
        """As zone_signer._Times.keeps, on an RRSIG rdataset's rdatas."""
        wanted = self.wanted[id(signers)]
        if rrsig is None or len(rrsig[3]) != len(wanted):
            return False
        for rd in rrsig[3]:
            expiration, inception, tag = struct.unpack_from("!IIH", rd, 8)
            if (tag, rd[2]) not in wanted:
                return False
            if _before(expiration, self.refresh_before) or _before(self.now, inception):
                return False
        for rd in rrsig[3]:
            self._saw(struct.unpack_from("!I", rd, 8)[0])
        return True

    def sign(self, key: bytes, rdtype: int, ttl: int, rdatas: list[bytes], types_keys: bool) -> list:
        """The RRSIG rdatas of one RRset, as placeholders: (prefix, job index) pairs whose
        signature the batch fills in later."""
        signers = self.ksks if types_keys else self.zsks
        canon = sorted({codec.canonical_rdata(rdtype, rd) for rd in rdatas})
        prefix = key + _RR_FIXED.pack(rdtype, _IN, ttl)
        rrs = b"".join([prefix + _LEN.pack(len(rd)) + rd for rd in canon])
        labels = _labels(key)
        expiration = (self.base - (self.rng.randrange(self.jitter + 1) if self.jitter else 0))
        self._saw(expiration)
        expiration &= 0xFFFFFFFF
        out = []
        pending = self.pending
        for k in signers:
            head = _SIG_HEAD.pack(rdtype, k.algorithm, labels, ttl, expiration, self.inception, k.key_tag) + k.signer_wire
            out.append((head, self.count))
            pending.append((k, head + rrs))
            self.count += 1
        if len(pending) >= CHUNK:
            self.batch.add(pending)
            self.pending = []
        self.signed += 1
        self.sig_records += len(signers)
        return out


class _Owner:
    """An owner being built: its parts (bytes, or RRSIG placeholders to fill after the batch)."""

    __slots__ = ("key", "parts")

    def __init__(self, key: bytes):
        self.key = key
        self.parts: list = []


def _build_owner(run: _Run, key: bytes, data: bytes, next_key: bytes | None, is_cut: bool, nsec_ttl: int,
                 bitmaps: _Bitmaps, prev: bytes | None) -> _Owner:
    """One authoritative owner (or cut) signed: its rdatasets, its NSEC (`next_key` None: none,
    NSEC3 zones), their RRSIGs; reusing the previous version's NSEC and RRSIGs where the signed
    bytes are the same and not due."""
    owner = _owner_wire(data)
    old = _by_type(prev)
    built = _Owner(key)
    parts = built.parts
    types = set()
    signables = []
    for seg in codec.segments(data):
        if seg[0] in _SIGNER_TYPES:
            run.dropped += len(seg[3])  # signatures or denial from the file: ours replace them
            continue
        parts.append(seg[4])
        types.add(seg[0])
        signables.append(seg)
    if next_key is not None:
        if is_cut:
            types = {_NS, _NSEC, _RRSIG} | ({_DS} if _DS in types else set())
        else:
            types |= {_NSEC, _RRSIG}
        nsec_rdata = next_key + bitmaps.of(frozenset(types))
        nsec = codec.rdataset(owner, _NSEC, 0, nsec_ttl, [nsec_rdata])
        parts.append(nsec)
        old_nsec = old.get((_NSEC, 0))
        if old_nsec is None or old_nsec[4] != nsec:
            run.denial_changed += 1
        signables.append((_NSEC, 0, nsec_ttl, [nsec_rdata], nsec))
    for rdtype, covers, ttl, rdatas, raw in signables:
        if is_cut and rdtype not in (_DS, _NSEC):
            continue  # the child's NS and glue are not ours to sign
        _sign_or_keep(run, parts, old, key, owner, rdtype, covers, ttl, rdatas, raw)
    return built


def _by_type(data: bytes | None) -> dict:
    """An owner's rdatasets (codec.segments) by (rdtype, covers)."""
    return {} if data is None else {(seg[0], seg[1]): seg for seg in codec.segments(data)}


def _sign_or_keep(run: _Run, parts: list, old: dict, key: bytes, owner: bytes, rdtype: int, covers: int, ttl: int,
                  rdatas: list[bytes], raw: bytes) -> None:
    """The RRSIGs of one RRset into `parts`: the previous ones when the RRset's bytes are the
    same and they are still good, else a placeholder for new ones."""
    keys_type = rdtype in _KEY_TYPES
    before = old.get((rdtype, covers))
    if before is not None and before[4] == raw:
        old_sig = old.get((_RRSIG, rdtype))
        if run.keeps(old_sig, run.ksks if keys_type else run.zsks):
            parts.append(old_sig[4])
            run.reused += 1
            run.sig_records += len(old_sig[3])
            return
    parts.append((owner, rdtype, ttl, run.sign(key, rdtype, ttl, rdatas, keys_type)))


def _build_nsec3(run: _Run, hkey: bytes, owner: bytes, rdata: bytes, ttl: int, prev: bytes | None) -> _Owner:
    """A hashed owner: its NSEC3 and the NSEC3's RRSIG (kept where the NSEC3 is the same)."""
    built = _Owner(hkey)
    nsec3 = codec.rdataset(owner, _NSEC3, 0, ttl, [rdata])
    built.parts.append(nsec3)
    old = _by_type(prev)
    before = old.get((_NSEC3, 0))
    if before is None or before[4] != nsec3:
        run.denial_changed += 1
    _sign_or_keep(run, built.parts, old, hkey, owner, _NSEC3, 0, ttl, [rdata], nsec3)
    return built


def _finish(built: list[_Owner], signatures: list[bytes]) -> dict[bytes, bytes]:
    """Each owner's bytes, placeholders filled. Consumes `built` and `signatures` as it goes (one
    release of either at the end held the GIL ~50 ms per 100k owners)."""
    out = {}
    built.reverse()
    while built:
        owner = built.pop()
        pieces = []
        for part in owner.parts:
            if type(part) is bytes:
                pieces.append(part)
            else:
                name, rdtype, ttl, sigs = part
                rdatas = []
                for head, i in sigs:
                    rdatas.append(head + signatures[i])
                    signatures[i] = None
                pieces.append(codec.rdataset(name, _RRSIG, rdtype, ttl, rdatas))
        out[owner.key] = b"".join(pieces)
    release(signatures)
    return out


class InThread:
    """The default batch: the signatures made in this thread when the batch ends. A batch
    (`sign_batch(keys, estimate)`, e.g. `dnssec.parallel.ParallelSigner.batch`) takes chunks of
    (prepared key, data) jobs as the run makes them (`add`), so worker processes can sign while
    the run goes on, hands back every signature in order (`finish`), and lets go of what it
    holds, finished or not (`close`)."""

    def __init__(self, keys: list, estimate: int):
        self.jobs: list = []

    def add(self, jobs: list) -> None:
        self.jobs.extend(jobs)

    def close(self) -> None:
        self.jobs = []

    def finish(self) -> list[bytes]:
        jobs = self.jobs
        jobs.reverse()
        out = []
        while jobs:  # each job freed once signed
            key, data = jobs.pop()
            out.append(key.sign(data))
        return out


def _heads(data: bytes) -> set[int]:
    return {h[0] for h in codec.heads(data) if h[1] == 0}


def sign_wire(
    unsigned: WireVersion,
    keys: Sequence[SigningKey],
    policy: SigningPolicy,
    now: int,
    previous: WireVersion | None = None,
    changed: set[bytes] | None = None,
    rng: random.Random | None = None,
    sign_batch: Callable | None = None,
    refresh: int | None = None,
) -> tuple[WireVersion, SignStats]:
    """Sign `unsigned` (a `signer_input` result carrying the serial to publish), NSEC or NSEC3
    denial as `policy` says (NSEC3 with opt-out: every run is a pass over every owner).
    `previous`: the signed version served now (signatures kept where still good); `changed`: the
    owner keys whose records may differ from `previous`'s (None: any). `sign_batch(keys,
    estimate)`: the batch the signatures are made in (see `InThread`, the default: this
    thread). `refresh` (the
    re-sign timer's run): also re-sign the due signatures of at most this many owners, those
    due first; the result's earliest expiration is then exact (a reload's may be earlier than
    the true one: it keeps the previous version's unless a new signature is earlier)."""
    origin = unsigned.origin
    run = _Run(keys, policy, now, rng or random.Random(f"{origin}/{unsigned.serial}"), origin)
    soa = unsigned.soa
    nsec_ttl = min(soa.ttl, soa[0].minimum)
    bitmaps = _Bitmaps()
    hashed = None
    if policy.denial == "nsec3":
        hashed = _Hashed(policy.nsec3, unsigned.apex_key, _owner_wire(unsigned.packed_at(unsigned.apex_key)), nsec_ttl)
    chain = None if previous is None or changed is None else previous.cache.get(CHAIN if hashed is None else CHAIN3)
    try:
        if chain is not None:
            if hashed is None:
                result = _incremental(run, unsigned, previous, changed, chain, nsec_ttl, bitmaps, sign_batch, refresh)
            else:
                result = _incremental3(run, unsigned, previous, changed, chain, hashed, nsec_ttl, bitmaps, sign_batch,
                                       refresh)
            if result is not None:
                return result
        return _full(run, unsigned, previous, nsec_ttl, bitmaps, sign_batch, hashed)
    finally:
        run.close()  # a run that failed midway leaves no worker process behind


def _full(run: _Run, unsigned: WireVersion, previous: WireVersion | None, nsec_ttl: int, bitmaps: _Bitmaps,
          sign_batch, hashed: _Hashed | None = None) -> tuple[WireVersion, SignStats]:
    apex = unsigned.apex_key
    order = [apex] + [k for k in unsigned._sorted_keys() if k != apex]  # canonical: the apex first
    chain_keys: list[bytes] = []
    cut_flags: list[bool] = []
    occluders: set[bytes] = set()
    occluder = None
    packed_at = unsigned.packed_at
    out: dict[bytes, bytes] = {}
    for key in order:
        if occluder is not None:
            if _below(key, occluder):
                out[key] = packed_at(key)  # glue or occluded data: served unsigned
                continue
            occluder = None
        types = _heads(packed_at(key))
        is_cut = key != apex and _NS in types
        chain_keys.append(key)
        cut_flags.append(is_cut)
        if is_cut or _DNAME in types:
            occluder = key
            occluders.add(key)
    prev_at = previous.packed_at if previous is not None else (lambda _k: None)
    built = []
    n = len(chain_keys)
    run.start(sign_batch, 2 * n)
    for i, key in enumerate(chain_keys):
        next_key = None if hashed is not None else chain_keys[i + 1] if i + 1 < n else apex
        built.append(_build_owner(run, key, packed_at(key), next_key, cut_flags[i], nsec_ttl, bitmaps, prev_at(key)))
    denial_records = n
    if hashed is not None:
        labels, hkeys = _nsec3_chain(run, hashed, unsigned, chain_keys, cut_flags, bitmaps, prev_at, built)
        chain = (labels, hkeys)
        denial_records = len(hkeys)
    else:
        chain = ([_sort_key(k) for k in chain_keys], chain_keys)
    out.update(_finish(built, run.signatures()))
    # The same owners as `unsigned` (the same cuts, the same names), plus NSEC3's hashed owners
    # right below the apex: only the records differ.
    rr_count = unsigned.rr_count - run.dropped + denial_records + run.sig_records
    signed = unsigned.same_owners(out, rr_count)
    release(order)
    _remember(signed, unsigned, chain, frozenset(occluders), run.earliest, hashed is not None)
    stats = SignStats(signed=run.signed, reused=run.reused, denial_changed=run.denial_changed,
                      earliest_expiration=run.earliest, touched=None)
    return signed, stats


class _Hashed:
    """What NSEC3 records need (RFC 5155): the parameters, the apex, the TTL."""

    def __init__(self, params, apex: bytes, apex_owner: bytes, ttl: int):
        self.digest_of = lambda key: nsec3.digest(key, params.salt, params.iterations)  # key: canonical wire
        self.head = struct.pack("!BBHB", params.algorithm, params.flags, params.iterations, len(params.salt)) + params.salt
        self.opt_out = params.opt_out
        self.apex, self.apex_owner, self.ttl = apex, apex_owner, ttl

    def rdata(self, next_digest: bytes, bitmap: bytes) -> bytes:
        return self.head + bytes((len(next_digest),)) + next_digest + bitmap


def _nsec3_types(data: bytes | None, is_cut: bool, is_apex: bool) -> frozenset:
    """As nsec3._types: the types at an original name; RRSIG only where something is signed."""
    if data is None:
        return frozenset()  # an empty non-terminal
    types = {t for t in _heads(data) if t not in _SIGNER_TYPES}
    if is_cut:
        return frozenset({_NS, _DS, _RRSIG} if _DS in types else {_NS})
    if types:
        types.add(_RRSIG)
    if is_apex:
        types.add(_NSEC3PARAM)
    return frozenset(types)


def _nsec3_chain(run: _Run, hashed: _Hashed, unsigned: WireVersion, chain_keys: list[bytes], cut_flags: list[bool],
                 bitmaps: _Bitmaps, prev_at, built: list) -> tuple[list[bytes], list[bytes]]:
    """The NSEC3 records of every original name (RFC 5155 7.1: the authoritative owners and cuts,
    unsigned delegations left out under opt-out, and the empty non-terminals above them) into
    `built`; (hash labels, hashed owner keys) in hash order."""
    apex, top = hashed.apex, len(hashed.apex)
    packed_at = unsigned.packed_at
    originals: dict[bytes, frozenset] = {}
    for key, is_cut in zip(chain_keys, cut_flags):
        data = packed_at(key)
        types = _nsec3_types(data, is_cut, key == apex)
        if is_cut and hashed.opt_out and _DS not in types:
            continue  # an unsigned delegation: left to an opt-out span (RFC 5155 6)
        originals[key] = types
        up = key[key[0] + 1:]
        while len(up) > top and up not in originals:  # canonical order: an owner above is in already
            originals[up] = frozenset()
            up = up[up[0] + 1:]
    entries = sorted_in_runs([(hashed.digest_of(key), key) for key in originals])
    for a, b in zip(entries, entries[1:]):
        if a[0] == b[0]:
            names = [dns.name.Name(key_labels(k)) for k in (a[1], b[1])]
            raise ValueError(f"NSEC3 hash collision: {names[0]} and {names[1]} both hash to "
                             f"{nsec3.hash_label(a[0]).decode()}; choose another NSEC3 salt")
    labels = [nsec3.hash_label(digest) for digest, _ in entries]
    hkeys = [bytes((len(label),)) + label + apex for label in labels]
    n = len(entries)
    for i, (digest, key) in enumerate(entries):
        hkey = hkeys[i]
        if packed_at(hkey) is not None:
            raise ValueError(f"the NSEC3 owner {dns.name.Name(key_labels(hkey))} is also a name of the zone")
        rdata = hashed.rdata(entries[(i + 1) % n][0], bitmaps.of(originals[key]))
        owner = bytes((len(labels[i]),)) + labels[i] + hashed.apex_owner
        built.append(_build_nsec3(run, hkey, owner, rdata, hashed.ttl, prev_at(hkey)))
    return labels, hkeys


def _sort_key(key: bytes) -> bytes:
    return canonical_key(tuple(key_labels(key)))


def _remember(signed: WireVersion, unsigned: WireVersion, chain, occluders, earliest, nsec3: bool = False) -> None:
    signed.cache[CHAIN3 if nsec3 else CHAIN] = chain
    signed.cache[OCCLUDERS] = occluders
    signed.cache[EARLIEST] = earliest
    signed.cache[UNSIGNED] = unsigned
    signed.cache[zone_signer.DENIAL_OWNERS] = None  # the plain signer's bookkeeping: not kept here
    if nsec3:  # the denial proofs' index (WireVersion.nsec3_predecessor, .predecessor)
        signed._nsec3 = chain
    else:
        signed._chains[_NSEC] = chain


def _incremental_start(unsigned: WireVersion, previous: WireVersion,
                       changed: set[bytes]) -> tuple[set[bytes], frozenset, int] | None:
    """(the changed owners and the apex, the occluding names, the earliest expiration) for a run
    over what changed; None when it needs the full pass: `previous` not signed here, or a
    delegation or DNAME that came, went or changed, or a change at a name they occlude."""
    apex = unsigned.apex_key
    top = len(apex)
    occluders = previous.cache.get(OCCLUDERS)
    earliest = previous.cache.get(EARLIEST)
    if occluders is None or earliest is None:
        return None
    changed = set(changed)
    changed.add(apex)
    for key in changed:
        for data in (previous.packed_at(key), unsigned.packed_at(key)):
            if data is not None and key != apex and (_heads(data) & {_NS, _DNAME}):
                return None
        if _occluded(key, occluders, top):
            return None
    return changed, occluders, earliest


def _incremental_end(run: _Run, unsigned: WireVersion, previous: WireVersion, built: list, maybe_gone: set[bytes],
                     chain, occluders, earliest, nsec3: bool, leftovers) -> tuple[WireVersion, SignStats]:
    """The version and stats of a run over what changed: `built` signed and in, the owners of
    `maybe_gone` that `unsigned` (or the new chain) no longer has out; a re-sign run's
    `leftovers` (see `_due`) kept for the next one."""
    packed_at, prev_at = unsigned.packed_at, previous.packed_at
    changes: dict[bytes, bytes | None] = {k: None for k in maybe_gone if packed_at(k) is None}
    changes.update(_finish(built, run.signatures()))
    changes = {k: v for k, v in changes.items() if v != prev_at(k)}
    signed = previous.evolve_packed(changes)
    if run.earliest is not None and (earliest is None or _before(run.earliest, earliest)):
        earliest = run.earliest
    _remember(signed, unsigned, chain, occluders, earliest, nsec3)
    if leftovers is not None:
        signed.cache[DUE] = leftovers
    touched = {dns.name.Name(key_labels(k)) for k in changes} | {unsigned.origin}
    stats = SignStats(signed=run.signed, reused=run.reused, denial_changed=run.denial_changed,
                      earliest_expiration=earliest, touched=touched)
    return signed, stats


def _incremental(run: _Run, unsigned: WireVersion, previous: WireVersion, changed: set[bytes], chain,
                 nsec_ttl: int, bitmaps: _Bitmaps, sign_batch, refresh: int | None) -> tuple[WireVersion, SignStats] | None:
    """The run over what changed, or None when it needs the full pass: a delegation or DNAME that
    came, went or changed, or a change at a name they occlude."""
    start = _incremental_start(unsigned, previous, changed)
    if start is None:
        return None
    changed, occluders, earliest = start
    apex, prev_at, packed_at = unsigned.apex_key, previous.packed_at, unsigned.packed_at
    sort_keys, chain_keys = list(chain[0]), list(chain[1])
    leftovers = None
    moved: list[bytes] = []  # sort keys of owners that came or went
    for key in sorted(changed):
        sk = _sort_key(key)
        at = bisect.bisect_left(sort_keys, sk)
        present = at < len(sort_keys) and sort_keys[at] == sk
        if packed_at(key) is not None and not present:
            sort_keys.insert(at, sk)
            chain_keys.insert(at, key)
            moved.append(sk)
        elif packed_at(key) is None and present:
            del sort_keys[at], chain_keys[at]
            moved.append(sk)
    dirty = {k for k in changed if packed_at(k) is not None}
    if refresh is not None:
        due, earliest, leftovers = _due(run, previous, refresh, changed)
        dirty.update(due)
    for sk in moved:  # the owner before each one that came or went gets a new NSEC
        dirty.add(chain_keys[bisect.bisect_left(sort_keys, sk) - 1])
    n = len(chain_keys)
    built = []
    run.start(sign_batch, 3 * len(dirty))
    for key in dirty:
        at = bisect.bisect_left(sort_keys, _sort_key(key))
        next_key = chain_keys[at + 1] if at + 1 < n else apex
        data = packed_at(key)
        is_cut = key != apex and _NS in _heads(data)
        built.append(_build_owner(run, key, data, next_key, is_cut, nsec_ttl, bitmaps, prev_at(key)))
    return _incremental_end(run, unsigned, previous, built, set(changed), (sort_keys, chain_keys), occluders,
                            earliest, False, leftovers)


def _incremental3(run: _Run, unsigned: WireVersion, previous: WireVersion, changed: set[bytes], chain, hashed: _Hashed,
                  nsec_ttl: int, bitmaps: _Bitmaps, sign_batch, refresh: int | None) -> tuple[WireVersion, SignStats] | None:
    """`_incremental` for NSEC3 (RFC 5155 7.1): the original names a change can add, remove or
    retype are the changed owners and their ancestors (empty non-terminals come and go with the
    owners below them); each gets its NSEC3 anew, and the NSEC3 before each hash that came or
    went gets the new next hash. None (the full pass) under opt-out, where whether an empty
    non-terminal has an NSEC3 depends on the delegations below it, and where `_incremental`
    gives up."""
    if hashed.opt_out:
        return None
    start = _incremental_start(unsigned, previous, changed)
    if start is None:
        return None
    changed, occluders, earliest = start
    apex, top = unsigned.apex_key, len(unsigned.apex_key)
    prev_at, packed_at = previous.packed_at, unsigned.packed_at
    originals = set()
    for key in changed:  # each changed owner and the names between it and the apex
        while len(key) >= top:
            originals.add(key)
            key = key[key[0] + 1:]
    labels, hkeys = list(chain[0]), list(chain[1])
    leftovers = None
    renew: dict[bytes, bytes] = {}  # hashed owner -> its original name: an NSEC3 made anew
    gone: set[bytes] = set()
    moved: list[bytes] = []  # hash labels that came or went
    for name in originals:
        label = nsec3.hash_label(hashed.digest_of(name))
        hkey = bytes((len(label),)) + label + apex
        if packed_at(hkey) is not None:
            return None  # a name of the zone where an NSEC3 would go: the full pass says so
        exists = name == apex or unsigned.name_key_exists(name)  # an owner, or one above owners
        at = bisect.bisect_left(labels, label)
        present = at < len(labels) and labels[at] == label
        if exists and not present:
            labels.insert(at, label)
            hkeys.insert(at, hkey)
            moved.append(label)
        elif present and not exists:
            del labels[at], hkeys[at]
            moved.append(label)
            gone.add(hkey)
        if exists:
            renew[hkey] = name
    n = len(labels)
    nexts: set[bytes] = set()  # NSEC3s that only get a new next hash
    for label in moved:
        before = hkeys[bisect.bisect_left(labels, label) - 1]
        if before not in renew:
            nexts.add(before)
    dirty = {k for k in changed if packed_at(k) is not None}
    if refresh is not None:
        due, earliest, leftovers = _due(run, previous, refresh, changed | gone | set(renew))
        for key in due:
            if packed_at(key) is not None:
                dirty.add(key)
            elif key not in renew:
                nexts.add(key)  # a hashed owner whose signature is due: the same NSEC3, signed anew
    olds = {hkey: _by_type(prev_at(hkey)).get((_NSEC3, 0)) for hkey in nexts}
    if any(old is None for old in olds.values()):
        return None  # a hashed owner without its NSEC3: the full pass makes the chain anew
    built = []
    run.start(sign_batch, 3 * (len(dirty) + len(renew) + len(nexts)))
    for key in dirty:
        built.append(_build_owner(run, key, packed_at(key), None, False, nsec_ttl, bitmaps, prev_at(key)))
    for hkey, name in renew.items():
        at = bisect.bisect_left(labels, hkey[1:1 + hkey[0]])
        next_digest = base64.b32hexdecode(labels[(at + 1) % n].upper())
        rdata = hashed.rdata(next_digest, bitmaps.of(_nsec3_types(packed_at(name), False, name == apex)))
        built.append(_build_nsec3(run, hkey, hkey[:1 + hkey[0]] + hashed.apex_owner, rdata, hashed.ttl, prev_at(hkey)))
    for hkey, old in olds.items():
        at = bisect.bisect_left(labels, hkey[1:1 + hkey[0]])
        rdata = _with_next(old[3][0], base64.b32hexdecode(labels[(at + 1) % n].upper()))
        built.append(_build_nsec3(run, hkey, _owner_wire(prev_at(hkey)), rdata, hashed.ttl, prev_at(hkey)))
    return _incremental_end(run, unsigned, previous, built, changed | gone, (labels, hkeys), occluders, earliest,
                            True, leftovers)


def _with_next(rdata: bytes, next_digest: bytes) -> bytes:
    """An NSEC3 rdata with another next hashed owner (RFC 5155 3.2)."""
    at = 5 + rdata[4]  # algorithm, flags, iterations, salt length, salt
    return rdata[:at] + bytes((len(next_digest),)) + next_digest + rdata[at + 1 + rdata[at]:]


def _due(run: _Run, previous: WireVersion, limit: int,
         skip: set[bytes]) -> tuple[list[bytes], int | None, tuple[list, int | None]]:
    """(the owners with a signature due for refresh or made in the future, at most `limit` of
    them, the most urgent first; the earliest expiration of the signatures of every owner left
    as it is, `skip` aside; what is left for the next run). The owners due come from the
    previous run's leftovers (`DUE`) while there are any, else from one pass over the bytes of
    every owner."""
    carried = previous.cache.get(DUE)
    if carried is not None and carried[0]:
        due, others = [entry for entry in carried[0] if entry[1] not in skip], carried[1]
    else:
        due, others = _scan_due(run, previous, skip)
    left = due[limit:]
    earliest = others
    for _urgency, _key, soonest in left[:1]:  # sorted by urgency: the first is the soonest
        if earliest is None or _before(soonest, earliest):
            earliest = soonest
    return [key for _, key, _ in due[:limit]], earliest, (left, others)


def _scan_due(run: _Run, previous: WireVersion, skip: set[bytes]) -> tuple[list, int | None]:
    """([(urgency, key, soonest expiration)] of the owners due, most urgent first; the earliest
    expiration of every other owner outside `skip`)."""
    due: list[tuple[int, bytes, int]] = []
    earliest = None
    refresh_before, now = run.refresh_before, run.now
    for key, data in previous.packed_items():
        if key in skip:
            continue
        soonest, future = None, False
        for rdtype, _covers, _ttl, rdatas, _raw in codec.segments(data):
            if rdtype != _RRSIG:
                continue
            for rd in rdatas:
                expiration, inception = struct.unpack_from("!II", rd, 8)
                future = future or _before(now, inception)
                if soonest is None or _before(expiration, soonest):
                    soonest = expiration
        if soonest is None:
            continue
        if future:
            due.append((-(1 << 31), key, now & 0xFFFFFFFF))  # made in the future: due now
        elif _before(soonest, refresh_before):
            due.append((_signed32(soonest - refresh_before), key, soonest))
        elif earliest is None or _before(soonest, earliest):
            earliest = soonest
    due.sort()
    return due, earliest


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def earliest_expiration(version: WireVersion) -> int | None:
    """The soonest RRSIG expiration in `version` (what this module recorded, else a scan of the
    bytes), None when unsigned."""
    known = version.cache.get(EARLIEST)
    if known is not None:
        return known
    earliest = None
    for data in version._packed.values():
        for rdtype, covers, ttl, rdatas, raw in codec.segments(data):
            if rdtype == _RRSIG:
                for rd in rdatas:
                    when = struct.unpack_from("!I", rd, 8)[0]
                    if earliest is None or _before(when, earliest):
                        earliest = when
    version.cache[EARLIEST] = earliest
    return earliest
