"""What `wire_signer` signs, in wire form: the twins of `zone_signer.signer_input`,
`unsigned_changes` and `strip`, and the re-sign margin check of a reload (`plan`), each costing
the owners asked about, not the zone.

- `signer_input`: the file's version with our DNSKEY/CDS/CDNSKEY (and NSEC3PARAM) at the apex;
- `changed_owners`: the owners whose records differ from a signed version's, signatures aside
  (bytes compared first, then values where the bytes differ: a reordered RRset is no change);
- `strip`: a signed version without signatures or denial records (the re-sign timer's input);
- `ttls_fit`: every signed RRset's TTL fits in the re-sign margin (else the full loader reports
  the first over it with its file:line)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import dns.rdatatype

from hiddenprimary.dnssec import zone_signer
from hiddenprimary.dnssec.zone_signer import SIGNER_APEX_TYPES, SIGNER_TYPES, SigningPolicy
from hiddenprimary.zone import codec
from hiddenprimary.zone.wire_version import WireVersion, _decode

if TYPE_CHECKING:
    from hiddenprimary.dnssec.keys import SigningKey

_SOA = dns.rdatatype.SOA
_NS = dns.rdatatype.NS
_DS = dns.rdatatype.DS
_NONE = dns.rdatatype.NONE
_SIGNER = frozenset(int(t) for t in SIGNER_TYPES)


def signer_input(file_version: WireVersion, keys: Sequence[SigningKey], policy: SigningPolicy) -> WireVersion:
    """As zone_signer.signer_input: only the apex is rebuilt (records of the signer's types
    elsewhere stay in the input; the signer never signs nor serves them)."""
    origin = file_version.origin
    apex = zone_signer.signer_input_apex(dict(file_version.node(origin)), keys, policy)
    return file_version.evolve({origin: apex})


def unsigned_bytes(data: bytes) -> bytes | None:
    """One owner's encoded rdatasets without the signer's (RRSIG, NSEC, NSEC3); None when
    nothing else is left (an NSEC3 owner)."""
    kept = [raw for rdtype, _covers, _ttl, _rdatas, raw in codec.segments(data) if rdtype not in _SIGNER]
    return b"".join(kept) or None


def strip(signed: WireVersion) -> WireVersion:
    """`signed` without the signer's records: the input it was signed from."""
    packed = {}
    for key, data in signed.packed_items():
        kept = unsigned_bytes(data)
        if kept is not None:
            packed[key] = kept
    return WireVersion(signed.origin, packed)


def changed_owners(previous: WireVersion, unsigned: WireVersion,
                   candidates: Iterable[bytes] | None) -> tuple[set[bytes], bool]:
    """(the owners whose records differ between the signed `previous` and `unsigned`, whether
    any of those differences is the operator's: anything but the apex SOA serial and the apex
    records the signer makes). `candidates`: the only owners that may differ (None: any)."""
    apex = unsigned.apex_key
    if candidates is None:
        candidates = set(unsigned.keys()) | set(previous.keys())
    changed, operator = set(), False
    for key in candidates:
        old_data = previous.packed_at(key)
        old = None if old_data is None else unsigned_bytes(old_data)
        new = unsigned.packed_at(key)
        if old == new and key != apex:
            continue
        a = {} if old is None else _decode(old)
        b = {} if new is None else _decode(new)
        differing = [k for k in a.keys() | b.keys() if k[0] not in _SIGNER and not (key == apex and k == (_SOA, _NONE))
                     and (a.get(k) is None or b.get(k) is None or a[k].ttl != b[k].ttl or a[k] != b[k])]
        if differing:
            changed.add(key)
            operator = operator or key != apex or any(k[0] not in SIGNER_APEX_TYPES for k in differing)
    return changed, operator


def ttls_fit(version: WireVersion, room: int, keys: Iterable[bytes] | None) -> bool:
    """No RRset the signer signs at the owners `keys` (None: every owner) has a TTL over `room`
    (`plan._check_resign_margin`'s rule: delegation NS and glue, the signer's own records and
    our apex DNSKEY/CDS/CDNSKEY/NSEC3PARAM do not count)."""
    apex = version.apex_key
    items = version.packed_items() if keys is None else ((k, version.packed_at(k)) for k in keys)
    for key, data in items:
        if data is None:
            continue
        heads = list(codec.heads(data))
        if all(ttl <= room for _, _, ttl, _ in heads):
            continue
        is_cut = key != apex and any(t == _NS and c == _NONE for t, c, _, _ in heads)
        if key != apex and version.under_cut(key[key[0] + 1:]):
            continue  # glue (or what else a cut occludes): served unsigned
        for rdtype, covers, ttl, _ in heads:
            if ttl <= room or rdtype in _SIGNER or (key == apex and rdtype in SIGNER_APEX_TYPES):
                continue
            if is_cut and rdtype != _DS:
                continue
            return False
    return True
