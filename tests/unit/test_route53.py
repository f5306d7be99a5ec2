"""Route 53 provider against moto in server mode: a local Route 53 API on loopback, real HTTP,
real boto3 calls. moto answers INSYNC at once and does not enforce the request limits, so the
split test checks the batches we send."""

from __future__ import annotations

import random
import time
import uuid

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

import botocore.exceptions
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.zone

from hiddenprimary.providers.base import DNSSEC_TYPES
from hiddenprimary.providers.route53 import ChangeRejected, Route53Provider, batches
from hiddenprimary.zone.version import ZoneVersion
from tests.r53_peer import ENV
from tests.zones import version_from_text


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def hosted_zone(url: str, zone: str):
    """A fresh hosted zone and a provider for it (sleeping is instant: moto never throttles)."""
    provider = Route53Provider(endpoint_url=url, region_name="us-east-1", sleep=lambda s: None)
    hz = provider.client.create_hosted_zone(Name=zone, CallerReference=str(uuid.uuid4()))
    provider.hosted_zones[zone] = hz["HostedZone"]["Id"].rsplit("/", 1)[-1]
    return provider


def big_zone_text(origin: str, n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    lines = [
        f"$ORIGIN {origin}",
        "$TTL 300",
        f"@ 3600 SOA ns1.{origin} hostmaster.{origin} 1 7200 900 1209600 300",
        f"@ NS ns1.{origin}",
        f"@ NS ns2.{origin}",
        "@ MX 10 mail",
        '@ TXT "v=spf1 mx -all"',
        '@ CAA 0 issue "letsencrypt.org"',
        "* A 192.0.2.250",
        "mail A 192.0.2.25",
        "sub NS ns.sub",
        "ns.sub A 192.0.2.53",
        # what Route 53 refuses or owns: skipped, never sent
        "@ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
        "@ NSEC mail A RRSIG NSEC",
        "loc LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
    ]
    count = 0
    i = 0
    while count < n:
        kind = rng.random()
        host = f"h{i}"
        if kind < 0.55:
            lines.append(f"{host} A 198.51.{i // 250 % 250}.{i % 250 + 1}")
            count += 1
            if rng.random() < 0.3:
                lines.append(f"{host} A 203.0.113.{i % 250 + 1}")
                count += 1
        elif kind < 0.7:
            lines.append(f"{host} AAAA 2001:db8::{i:x}")
            count += 1
        elif kind < 0.8:
            lines.append(f'{host} TXT "token={i}" "second string with spaces"')
            count += 1
        elif kind < 0.88:
            lines.append(f"{host} CNAME h{max(i - 1, 0)}")
            count += 1
        elif kind < 0.94:
            lines.append(f"{host} MX {i % 50} mx{i % 7}.example.net.")
            count += 1
        else:
            lines.append(f"_sip._tcp.{host} SRV 10 60 5060 sip{i % 9}")
            count += 1
        i += 1
    return "\n".join(lines) + "\n"


def expected(provider: Route53Provider, version: ZoneVersion):
    return provider.desired(version)[0]


def managed(provider: Route53Provider, zone: str):
    """The hosted zone's RRsets minus what Route 53 owns (apex SOA and NS)."""
    return {k: v for k, v in provider.read(zone).items() if not (k[0] == zone and k[1] in ("SOA", "NS"))}


def random_edit(version: ZoneVersion, rng: random.Random, serial: int) -> ZoneVersion:
    nodes = {name: dict(node) for name, node in version.nodes().items()}
    origin = version.origin
    names = [n for n in nodes if n != origin and len(n) == len(origin) + 1]
    for _ in range(rng.randint(20, 120)):
        name = rng.choice(names)
        node = nodes.get(name)
        op = rng.random()
        if not node:
            continue
        key = next(iter(node))
        rds = node[key]
        if op < 0.3:  # delete the RRset
            del node[key]
        elif op < 0.55:  # change the TTL
            new = dns.rdataset.Rdataset(rds.rdclass, rds.rdtype, rds.covers)
            new.update(rds)
            new.update_ttl(rng.choice([60, 120, 600, 86400]))
            node[key] = new
        elif op < 0.8 and rds.rdtype in (dns.rdatatype.A, dns.rdatatype.TXT):  # add a record
            new = dns.rdataset.Rdataset(rds.rdclass, rds.rdtype)
            new.update(rds)
            text = f"192.0.2.{rng.randint(1, 254)}" if rds.rdtype == dns.rdatatype.A else f'"edit {rng.random()}"'
            new.add(dns.rdata.from_text("IN", rds.rdtype, text), rds.ttl)
            node[key] = new
        else:  # a new name
            new = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.TXT)
            new.add(dns.rdata.from_text("IN", "TXT", f'"new {rng.random()}"'), 300)
            nodes[dns.name.Name((f"n{rng.randint(0, 10**9)}".encode(),) + origin.labels)] = {
                (dns.rdatatype.TXT, dns.rdatatype.NONE): new
            }
    return ZoneVersion(origin, nodes).with_serial(serial)


def test_first_sync_then_random_edits(moto_url):
    # 1,500 records: several read pages and change requests; the 5k case runs through the daemon
    # in tests/integration/test_route53_sync.py.
    zone = "big.example."
    provider = hosted_zone(moto_url, zone)
    version = version_from_text(big_zone_text(zone, 1500), zone)
    assert version.rr_count >= 1500

    start = time.monotonic()
    plan = provider.plan(zone, version)
    reasons = {(s.rdtype, s.reason) for s in plan.skipped}
    assert {("SOA", "provider-owned"), ("NS", "provider-owned"), ("DNSKEY", "dnssec"),
            ("NSEC", "dnssec"), ("LOC", "unsupported-type")} <= reasons
    assert not plan.deletes and not plan.upserts
    stats = provider.apply(plan)
    first = dict(provider.requests)
    assert managed(provider, zone) == expected(provider, version)
    print(f"\nfirst sync: {version.rr_count} records, {len(plan.creates)} RRsets, "
          f"{stats.requests} change requests, API calls {first}, {time.monotonic() - start:.1f}s")
    assert stats.requests >= 2  # 1.5k records need at least 2 requests of <= 1,000
    assert provider.requests["list_resource_record_sets"] >= 1
    sent = {k for k, _ in expected(provider, version).items()}
    assert not any(t in DNSSEC_TYPES for _, t in sent)
    assert ("*.big.example.", "A") in sent  # the wildcard survives Route 53's \052 escaping

    rng = random.Random(7)
    current = provider.read(zone)
    for round_ in range(3):
        before = sum(provider.requests.values())
        new = random_edit(version, rng, version.serial + 1)
        plan = provider.plan(zone, new, current)  # the hosted zone as read after the last round
        assert not plan.is_empty()
        provider.apply(plan)
        current = provider.read(zone)
        assert provider.plan(zone, new, current).is_empty()
        assert {k: v for k, v in current.items() if not (k[0] == zone and k[1] in ("SOA", "NS"))} == expected(
            provider, new
        ), f"round {round_}"
        print(f"round {round_}: {plan.counts}, API calls {sum(provider.requests.values()) - before}")
        version = new


def test_change_larger_than_one_request_is_split(moto_url):
    zone = "split.example."
    provider = hosted_zone(moto_url, zone)
    head = f"$ORIGIN {zone}\n$TTL 300\n@ SOA ns1 hm 1 2 3 4 5\n@ NS ns1\n"
    # 1,500 records in 3 RRsets (over the record limit) and long TXT values (over the char limit)
    lines = [f"r{j} A 10.{j}.{i // 250}.{i % 250}" for j in range(3) for i in range(500)]
    lines += [f't{i} TXT "{"x" * 250}" "{"y" * 250}"' for i in range(100)]
    version = version_from_text(head + "\n".join(lines) + "\n", zone)

    sent = []
    real = provider.client.change_resource_record_sets

    def spy(**kwargs):
        sent.append(kwargs["ChangeBatch"]["Changes"])
        return real(**kwargs)

    provider.client.change_resource_record_sets = spy
    plan = provider.plan(zone, version)
    stats = provider.apply(plan)
    assert stats.requests == len(sent) >= 3
    for changes in sent:
        factor = [2 if c["Action"] == "UPSERT" else 1 for c in changes]
        records = sum(f * len(c["ResourceRecordSet"]["ResourceRecords"]) for f, c in zip(factor, changes))
        chars = sum(f * sum(len(r["Value"]) for r in c["ResourceRecordSet"]["ResourceRecords"])
                    for f, c in zip(factor, changes))
        assert records <= 1000 and chars <= 32000
    assert managed(provider, zone) == expected(provider, version)

    # now change everything at once: upserts count twice, deletes come first
    nodes = {n: dict(node) for n, node in version.nodes().items()}
    for name, node in nodes.items():
        for key, rds in list(node.items()):
            if rds.rdtype == dns.rdatatype.A:
                new = dns.rdataset.Rdataset(rds.rdclass, rds.rdtype)
                new.update(rds)
                new.update_ttl(60)
                node[key] = new
            elif rds.rdtype == dns.rdatatype.TXT and name.labels[0] < b"t50":
                del node[key]
    new = ZoneVersion(version.origin, nodes).with_serial(2)
    sent.clear()
    plan = provider.plan(zone, new)
    assert plan.upserts and plan.deletes
    parts = batches(plan)
    actions = [a for b in parts for a, _ in b.changes]
    assert actions == sorted(actions, key=["DELETE", "UPSERT", "CREATE"].index)
    provider.apply(plan)
    assert len(sent) == len(parts) >= 2
    assert managed(provider, zone) == expected(provider, new)


def _client_error(code: str, message: str = "boom"):
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "ChangeResourceRecordSets")


def test_throttling_is_retried(moto_url):
    zone = "throttle.example."
    provider = hosted_zone(moto_url, zone)
    slept = []
    provider.sleep = slept.append
    version = version_from_text(f"$ORIGIN {zone}\n@ 300 SOA ns1 hm 1 2 3 4 5\n@ 300 NS ns1\nwww 300 A 192.0.2.1\n", zone)
    real = provider.client.change_resource_record_sets
    failures = iter([_client_error("Throttling", "Rate exceeded"), _client_error("PriorRequestNotComplete")])

    def flaky(**kwargs):
        error = next(failures, None)
        if error is not None:
            raise error
        return real(**kwargs)

    provider.client.change_resource_record_sets = flaky
    stats = provider.apply(provider.plan(zone, version))
    assert (stats.requests, stats.attempts, stats.retries) == (1, 3, 2)
    assert len(slept) == 2 and slept[1] > slept[0] * 0.9 / 2
    assert managed(provider, zone) == expected(provider, version)


def test_throttling_gives_up_after_bounded_tries(moto_url):
    zone = "throttle2.example."
    provider = hosted_zone(moto_url, zone)
    provider.max_attempts = 3
    version = version_from_text(f"$ORIGIN {zone}\n@ 300 SOA ns1 hm 1 2 3 4 5\n@ 300 NS ns1\nwww 300 A 192.0.2.1\n", zone)

    def always(**kwargs):
        raise _client_error("Throttling", "Rate exceeded")

    provider.client.change_resource_record_sets = always
    with pytest.raises(ChangeRejected) as info:
        provider.apply(provider.plan(zone, version))
    assert info.value.code == "Throttling"
    assert provider.requests["change_resource_record_sets"] == 3


def test_rejected_batch_raises_typed_error_naming_rrsets(moto_url):
    zone = "reject.example."
    provider = hosted_zone(moto_url, zone)
    version = version_from_text(
        f"$ORIGIN {zone}\n@ 300 SOA ns1 hm 1 2 3 4 5\n@ 300 NS ns1\nwww 300 A 192.0.2.1\nftp 300 CNAME www\n", zone
    )
    message = "RRSet of type CNAME with DNS name ftp.reject.example. is not permitted"

    def reject(**kwargs):
        raise _client_error("InvalidChangeBatch", message)

    provider.client.change_resource_record_sets = reject
    with pytest.raises(ChangeRejected) as info:
        provider.apply(provider.plan(zone, version))
    err = info.value
    assert err.code == "InvalidChangeBatch" and err.aws_message == message
    assert set(err.rrsets) == {("ftp.reject.example.", "CNAME"), ("www.reject.example.", "A")}
    assert err.applied == 0
    assert message in str(err) and "ftp.reject.example. CNAME" in str(err)
    assert provider.requests["change_resource_record_sets"] == 1  # a rejection is not retried


def test_route53_text_forms_are_normalised():
    from hiddenprimary.providers.base import normalise_value
    from hiddenprimary.providers.route53 import from_route53_name, to_route53_name

    assert from_route53_name("\\052.Example.COM.") == "*.example.com."
    assert from_route53_name("a\\100b.example.com.") == "a\\@b.example.com."  # octal 100 is '@'
    assert to_route53_name("*.a\\@b.example.com.") == "*.a\\100b.example.com."
    assert from_route53_name(to_route53_name("x\\.y.example.com.")) == "x\\.y.example.com."
    assert normalise_value("MX", "10 mail.example.com") == "10 mail.example.com."
    assert normalise_value("TXT", '"a b" "c"') == '"a b" "c"'
