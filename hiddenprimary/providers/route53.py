"""AWS Route 53 as an API secondary (boto3). Route 53 takes no zone transfers: records enter only
through ChangeResourceRecordSets, at most 1,000 records and 32,000 characters of values per
request (an UPSERT counts twice), and a change goes PENDING -> INSYNC.

This module reads, plans and applies, synchronously (it sleeps while backing off and while waiting
for INSYNC), so the daemon runs it off the reactor thread (api_sync.py).
"""

from __future__ import annotations

import collections
import dataclasses
import random
import time
from collections.abc import Callable, Mapping

import boto3
import boto3.session
import botocore.config
import botocore.exceptions
import dns.exception
import dns.name

from hiddenprimary.clock import SystemClock
from hiddenprimary.providers.base import (
    ApplyStats,
    Plan,
    Provider,
    ProviderError,
    RRsetChange,
    RRsets,
    name_text,
    normalise_value,
)

_SYSTEM_CLOCK = SystemClock()

MAX_RECORDS = 1000  # ResourceRecord elements per request (UPSERT counts twice)
MAX_CHARS = 32000  # characters in all Value elements per request (UPSERT counts twice)
RETRY_CODES = frozenset({"Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded"})

# The types Route 53 accepts (SOA and NS too, but those at the apex are Route 53's own).
SUPPORTED_TYPES = frozenset(
    {"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT"}
)


class Route53Error(ProviderError):
    """A Route 53 call that failed for good. `code` and `aws_message` are Route 53's own."""

    def __init__(self, message: str, code: str = "", aws_message: str = ""):
        self.code = code
        self.aws_message = aws_message
        super().__init__(message)


class ChangeRejected(Route53Error):
    """Route 53 refused a change batch. `changes` are the (action, RRsetChange) pairs it held;
    `applied` counts the batches of the same plan that were applied before it."""

    def __init__(self, code: str, aws_message: str, changes: list[tuple[str, RRsetChange]], applied: int):
        self.changes = changes
        self.applied = applied
        names = ", ".join(f"{action} {c.name} {c.rdtype}" for action, c in changes[:10])
        more = f" and {len(changes) - 10} more" if len(changes) > 10 else ""
        super().__init__(f"route53 rejected a change batch: {code}: {aws_message} [{names}{more}]", code, aws_message)

    @property
    def rrsets(self) -> list[tuple[str, str]]:
        return [c.key for _, c in self.changes]


@dataclasses.dataclass
class Batch:
    changes: list[tuple[str, RRsetChange]]  # (action, change)
    records: int
    chars: int


def _weight(action: str, change: RRsetChange) -> tuple[int, int]:
    factor = 2 if action == "UPSERT" else 1
    return factor * len(change.values), factor * sum(len(v) for v in change.values)


def batches(plan: Plan, max_records: int = MAX_RECORDS, max_chars: int = MAX_CHARS) -> list[Batch]:
    """The plan's changes in order (deletes, upserts, creates), split to respect the limits."""
    ordered = [("DELETE", c) for c in plan.deletes]
    ordered += [("UPSERT", c) for c in plan.upserts]
    ordered += [("CREATE", c) for c in plan.creates]
    out: list[Batch] = []
    current = Batch([], 0, 0)
    for action, change in ordered:
        records, chars = _weight(action, change)
        if records > max_records or chars > max_chars:
            raise Route53Error(
                f"{change.name} {change.rdtype}: {records} records / {chars} characters exceed one "
                f"request's limits ({max_records} / {max_chars}) on their own"
            )
        if current.changes and (current.records + records > max_records or current.chars + chars > max_chars):
            out.append(current)
            current = Batch([], 0, 0)
        current.changes.append((action, change))
        current.records += records
        current.chars += chars
    if current.changes:
        out.append(current)
    return out


_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*")


def from_route53_name(text: str) -> str:
    """Route 53's name text (octal escapes: `\\052` is `*`) in our form (see base.name_text)."""
    labels = []
    for label in text.rstrip(".").split(".") if text not in ("", ".") else []:
        out, i = bytearray(), 0
        while i < len(label):
            if label[i] == "\\" and label[i + 1 : i + 4].isdigit() and len(label[i + 1 : i + 4]) == 3:
                out.append(int(label[i + 1 : i + 4], 8))
                i += 4
            elif label[i] == "\\" and i + 1 < len(label):
                out += label[i + 1].encode()
                i += 2
            else:
                out += label[i].encode()
                i += 1
        labels.append(bytes(out))
    return name_text(dns.name.Name(labels + [b""]))


def to_route53_name(name: str) -> str:
    """Our name text as Route 53 reads it: characters outside [a-z0-9-_*] as octal escapes."""
    parsed = dns.name.from_text(name)
    return "".join(
        "".join(chr(b) if b in _PLAIN else f"\\{b:03o}" for b in label) + "." for label in parsed.labels if label
    ) or "."


def _change_dict(action: str, change: RRsetChange) -> dict:
    return {
        "Action": action,
        "ResourceRecordSet": {
            "Name": to_route53_name(change.name),
            "Type": change.rdtype,
            "TTL": change.ttl,
            "ResourceRecords": [{"Value": v} for v in change.values],
        },
    }


class Route53Provider(Provider):
    supported_types = SUPPORTED_TYPES
    known_errors = Provider.known_errors + (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)

    def __init__(
        self,
        hosted_zones: Mapping[str, str] | None = None,
        *,
        client=None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        max_attempts: int = 6,
        backoff: float = 0.2,
        max_backoff: float = 10.0,
        sync_timeout: float = 300.0,
        max_records: int = MAX_RECORDS,
        max_chars: int = MAX_CHARS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = _SYSTEM_CLOCK.monotonic,
    ):
        if client is None:
            # Our own retry loop decides (and counts) retries: botocore's is turned off. Bounded
            # timeouts: a hung connection must not hold a sync (or the daemon's shutdown) for minutes.
            config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1},
                                            connect_timeout=5, read_timeout=30)
            # Its own session: boto3's default session is not safe to share between threads.
            client = boto3.session.Session().client("route53", endpoint_url=endpoint_url, region_name=region_name,
                                                    config=config)
        self.client = client
        self.hosted_zones = {name_text(z): zid.rsplit("/", 1)[-1] for z, zid in (hosted_zones or {}).items()}
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sync_timeout = sync_timeout
        self.max_records = max_records
        self.max_chars = max_chars
        self.sleep = sleep
        self.monotonic = monotonic
        self.requests: collections.Counter[str] = collections.Counter()  # API calls sent, by operation
        self.unmanaged: dict[str, list[tuple[str, str]]] = {}  # zone -> alias / routing-policy RRsets

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, operation: str, **kwargs):
        """One API call with bounded retries on throttling."""
        delay = self.backoff
        for attempt in range(1, self.max_attempts + 1):
            self.requests[operation] += 1
            try:
                return getattr(self.client, operation)(**kwargs)
            except botocore.exceptions.ClientError as e:
                code = e.response.get("Error", {}).get("Code", "")
                if code not in RETRY_CODES or attempt == self.max_attempts:
                    raise
                self.requests["retries"] += 1
                self.sleep(delay * (0.5 + random.random() / 2))
                delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    def zone_id(self, zone: str) -> str:
        zone = name_text(zone)
        if zone not in self.hosted_zones:
            found = self._call("list_hosted_zones_by_name", DNSName=zone, MaxItems="1")
            for hz in found.get("HostedZones", []):
                if name_text(hz["Name"]) == zone and not hz.get("Config", {}).get("PrivateZone"):
                    self.hosted_zones[zone] = hz["Id"].rsplit("/", 1)[-1]
                    break
            else:
                raise Route53Error(f"no public hosted zone for {zone}")
        return self.hosted_zones[zone]

    # -- the provider interface ----------------------------------------------------------------

    def read(self, zone: str) -> RRsets:
        zone = name_text(zone)
        zone_id = self.zone_id(zone)
        rrsets: RRsets = {}
        unmanaged: list[tuple[str, str]] = []
        kwargs: dict = {"HostedZoneId": zone_id}
        while True:
            page = self._call("list_resource_record_sets", **kwargs)
            for rrset in page["ResourceRecordSets"]:
                name, rdtype = from_route53_name(rrset["Name"]), rrset["Type"]
                if "AliasTarget" in rrset or "SetIdentifier" in rrset:
                    unmanaged.append((name, rdtype))  # not ours to manage: never planned
                    continue
                values = []
                for record in rrset.get("ResourceRecords", []):
                    try:
                        values.append(normalise_value(rdtype, record["Value"]))
                    except (dns.exception.DNSException, ValueError):  # unparsable: compare the raw text
                        values.append(record["Value"])
                rrsets[(name, rdtype)] = (int(rrset.get("TTL", 0)), tuple(sorted(set(values))))
            if not page.get("IsTruncated"):
                break
            kwargs = {
                "HostedZoneId": zone_id,
                "StartRecordName": page["NextRecordName"],
                "StartRecordType": page["NextRecordType"],
            }
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        self.unmanaged[zone] = unmanaged
        return rrsets

    def _owned(self, zone, current):
        owned = super()._owned(zone, current)
        owned.update(self.unmanaged.get(zone, ()))
        return owned

    def batches(self, plan: Plan) -> list[Batch]:
        return batches(plan, self.max_records, self.max_chars)

    def apply(self, plan: Plan, wait: bool = True) -> ApplyStats:
        zone_id = self.zone_id(plan.zone)
        stats = ApplyStats()
        before = self.requests["change_resource_record_sets"]
        retries_before = self.requests["retries"]
        change_ids: list[str] = []
        for i, batch in enumerate(self.batches(plan)):
            body = {
                "Comment": f"hiddenprimary {plan.zone} serial {plan.serial} batch {i + 1}",
                "Changes": [_change_dict(action, change) for action, change in batch.changes],
            }
            try:
                answer = self._call("change_resource_record_sets", HostedZoneId=zone_id, ChangeBatch=body)
            except botocore.exceptions.ClientError as e:
                error = e.response.get("Error", {})
                code, message = error.get("Code", ""), error.get("Message", str(e))
                raise ChangeRejected(code, message, batch.changes, applied=i) from e
            stats.requests += 1
            stats.records += batch.records
            change_ids.append(answer["ChangeInfo"]["Id"])
        # Every batch is submitted before any is waited for: Route 53 applies them in order as it
        # accepts them, and propagation (PENDING -> INSYNC, ~a minute each) then overlaps instead
        # of adding up over a big plan. Each one is still seen INSYNC before the sync counts as done.
        if wait:
            for change_id in change_ids:
                stats.waited += self.wait_insync(change_id)
        stats.attempts = self.requests["change_resource_record_sets"] - before
        stats.retries = self.requests["retries"] - retries_before
        return stats

    def wait_insync(self, change_id: str) -> float:
        start = self.monotonic()
        delay = 0.5
        while True:
            info = self._call("get_change", Id=change_id)["ChangeInfo"]
            if info["Status"] == "INSYNC":
                return self.monotonic() - start
            if self.monotonic() - start > self.sync_timeout:
                raise Route53Error(f"change {change_id} not INSYNC after {self.sync_timeout:.0f}s")
            self.sleep(delay)
            delay = min(delay * 2, 10.0)
