"""The interface of an API secondary: a DNS provider that takes no zone transfers (Route 53,
Google Cloud DNS, deSEC) and receives our zone through its API instead.

A provider does three things: `read` what a hosted zone holds, `plan` the changes that make it
equal one of our versions, and `apply` a plan. RRsets are exchanged in a provider-neutral text
form: the key is (absolute owner name, type), the value (ttl, sorted rdata texts) with names in
rdata absolute. What a provider owns or refuses (the apex SOA and NS, DNSSEC records, types it
does not support) is left out of plans and listed in `Plan.skipped`, once per RRset.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Mapping

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from hiddenprimary.errors import HiddenPrimaryError
from hiddenprimary.zone.version import ZoneVersion

RRsetKey = tuple[str, str]  # (absolute owner name text, lowercased; type text)
RRsetValue = tuple[int, tuple[str, ...]]  # (ttl, sorted rdata texts)
RRsets = dict[RRsetKey, RRsetValue]

DNSSEC_TYPES = frozenset({"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY"})


class ProviderError(HiddenPrimaryError):
    """A provider API call failed for good (after retries, or refused)."""


@dataclasses.dataclass(frozen=True)
class RRsetChange:
    """One RRset to delete (with the values the provider holds), create or upsert (new values)."""

    name: str
    rdtype: str
    ttl: int
    values: tuple[str, ...]

    @property
    def key(self) -> RRsetKey:
        return (self.name, self.rdtype)

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} {self.rdtype} ({len(self.values)} records)"


@dataclasses.dataclass(frozen=True)
class Skipped:
    name: str
    rdtype: str
    reason: str  # "provider-owned", "dnssec", "unsupported-type"

    def __str__(self) -> str:
        return f"{self.name} {self.rdtype}: {self.reason}"


@dataclasses.dataclass
class Plan:
    zone: str  # absolute zone name text
    serial: int  # the serial of the version the plan leads to
    deletes: list[RRsetChange] = dataclasses.field(default_factory=list)
    creates: list[RRsetChange] = dataclasses.field(default_factory=list)
    upserts: list[RRsetChange] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.deletes or self.creates or self.upserts)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "deletes": len(self.deletes),
            "creates": len(self.creates),
            "upserts": len(self.upserts),
            "skipped": len(self.skipped),
        }


@dataclasses.dataclass
class ApplyStats:
    requests: int = 0  # change requests accepted
    attempts: int = 0  # change requests sent, retries included
    retries: int = 0
    records: int = 0  # records counted against the request limits
    waited: float = 0.0  # seconds spent waiting for the changes to be in sync


def name_text(name: dns.name.Name | str) -> str:
    """Absolute, lowercased, dnspython-escaped (Route 53's `\\052` becomes `*`)."""
    if isinstance(name, str):
        name = dns.name.from_text(name)
    return name.to_text().lower()


def rdata_text(rdata: dns.rdata.Rdata, origin: dns.name.Name | None = None) -> str:
    return rdata.to_text(origin=origin, relativize=False)


def rrset_value(rds, origin: dns.name.Name) -> RRsetValue:
    """An rdataset as (ttl, sorted rdata texts), the form plans compare."""
    return rds.ttl, tuple(sorted({rdata_text(rd, origin) for rd in rds}))


def normalise_value(rdtype: str, text: str) -> str:
    """A provider's rdata text in our rendering (so both sides compare equal)."""
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), text, origin=dns.name.root, relativize=False)
    return rdata_text(rdata)


class Provider(abc.ABC):
    """A hosted-zone API. Subclasses set `supported_types` and implement read/apply."""

    supported_types: frozenset[str] = frozenset()
    # Failures that are the provider's or the network's, not our bug: recorded and retried
    # without a traceback. A provider adds its SDK's errors.
    known_errors: tuple[type[BaseException], ...] = (ProviderError, OSError)

    @abc.abstractmethod
    def read(self, zone: str) -> RRsets:
        """What the hosted zone for `zone` holds now, provider-owned RRsets included."""

    @abc.abstractmethod
    def apply(self, plan: Plan) -> ApplyStats:
        """Make the changes of `plan`; raise a ProviderError subclass when they cannot be made."""

    def skip_reason(self, zone: str, name: str, rdtype: str) -> str | None:
        if name == zone and rdtype in ("SOA", "NS"):
            return "provider-owned"
        if rdtype in DNSSEC_TYPES:
            return "dnssec"
        if rdtype not in self.supported_types:
            return "unsupported-type"
        return None

    def desired(self, version: ZoneVersion) -> tuple[RRsets, list[Skipped]]:
        """Our version's RRsets in the provider's text form, minus what is skipped."""
        zone = name_text(version.origin)
        rrsets: RRsets = {}
        skipped: list[Skipped] = []
        for name, rds in version.iter_rdatasets():
            owner = name_text(name)
            rdtype = dns.rdatatype.to_text(rds.rdtype)
            reason = self.skip_reason(zone, owner, rdtype)
            if reason is not None:
                skipped.append(Skipped(owner, rdtype, reason))
                continue
            rrsets[(owner, rdtype)] = rrset_value(rds, version.origin)
        return rrsets, skipped

    def plan(self, zone: str, version: ZoneVersion, current: RRsets | None = None) -> Plan:
        """The changes that make the hosted zone hold `version` (reads it when `current` is None)."""
        zone = name_text(zone)
        if current is None:
            current = self.read(zone)
        desired, skipped = self.desired(version)
        return compute_plan(zone, version.serial, desired, current, skipped, self._owned(zone, current))

    def _owned(self, zone: str, current: Mapping[RRsetKey, RRsetValue]) -> set[RRsetKey]:
        return {key for key in current if self.skip_reason(zone, *key) is not None}


def compute_plan(
    zone: str,
    serial: int,
    desired: Mapping[RRsetKey, RRsetValue],
    current: Mapping[RRsetKey, RRsetValue],
    skipped: Iterable[Skipped] = (),
    ignore: Iterable[RRsetKey] = (),
) -> Plan:
    """Compare two RRset maps; keys in `ignore` (provider-owned) are never touched."""
    ignore = set(ignore)
    plan = Plan(zone, serial, skipped=list(skipped))
    for key in sorted(current.keys() - desired.keys() - ignore):
        ttl, values = current[key]
        plan.deletes.append(RRsetChange(key[0], key[1], ttl, values))
    for key in sorted(desired.keys() - ignore):
        ttl, values = desired[key]
        have = current.get(key)
        if have is None:
            plan.creates.append(RRsetChange(key[0], key[1], ttl, values))
        elif have != (ttl, values):
            plan.upserts.append(RRsetChange(key[0], key[1], ttl, values))
    return plan
