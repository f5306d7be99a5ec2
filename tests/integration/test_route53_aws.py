"""The same sync against the real AWS Route 53. Runs only when the environment names a throwaway
hosted zone and has AWS credentials; skipped otherwise:

    AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... HIDDENPRIMARY_R53_TEST_ZONE_ID=Z0123456789ABC \\
        .venv/bin/python -m pytest tests/integration/test_route53_aws.py -s

(or AWS_PROFILE instead of the keys). THE HOSTED ZONE'S RECORDS ARE REPLACED (all but its SOA and
NS) and removed again at the end: use a zone that serves nothing. Route 53 bills per hosted zone
and per query, not per API call; a run makes ~20 API calls and takes 1-3 minutes (INSYNC waits)."""

from __future__ import annotations

import os

import pytest

boto3 = pytest.importorskip("boto3")

from tests.integration.harness import Daemon, control
from tests.integration.route53 import Model, expected, normal, render, wait_synced

ZONE_ID = os.environ.get("HIDDENPRIMARY_R53_TEST_ZONE_ID", "").strip().removeprefix("/hostedzone/")
CREDENTIALS = bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"))

pytestmark = pytest.mark.skipif(
    not (ZONE_ID and CREDENTIALS),
    reason="real Route 53: set AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and "
           "HIDDENPRIMARY_R53_TEST_ZONE_ID to a throwaway hosted zone (its records get replaced)")


def held(r53, origin: str) -> dict:
    out = {}
    for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=ZONE_ID):
        for rr in page["ResourceRecordSets"]:
            name = rr["Name"].replace("\\052", "*").lower()
            if (name == origin and rr["Type"] in ("SOA", "NS")) or "AliasTarget" in rr:
                continue
            out[(name, rr["Type"])] = (int(rr["TTL"]), sorted(normal(rr["Type"], r["Value"], ".")
                                                              for r in rr["ResourceRecords"]))
    return out


def synced(d: Daemon, zone: str) -> dict:
    """wait_synced at Route 53's pace: INSYNC takes up to minutes; three failed syncs in a row end it."""
    return wait_synced(d, zone, timeout=600, interval=1, max_failures=3)


def test_sync_to_real_route53(tmp_path):
    r53 = boto3.client("route53")
    origin = r53.get_hosted_zone(Id=ZONE_ID)["HostedZone"]["Name"].lower()
    zone = origin.rstrip(".")
    model: Model = {
        ("www", "A"): (300, ["192.0.2.10", "192.0.2.11"]),
        ("@", "TXT"): (300, ['"hiddenprimary test"']),
        ("@", "MX"): (300, ["10 mail"]),
        ("mail", "A"): (300, ["192.0.2.25"]),
        ("*.apps", "A"): (300, ["192.0.2.80"]),
        ("loc", "LOC"): (300, ["52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"]),  # skipped
    }
    d = Daemon(tmp_path, {zone: render(origin, model)},
               extra_zone_config={zone: {"secondaries": "[r53]", "serial": "increment"}},
               extra_config=f"secondaries:\n  r53:\n    api: route53\n    hosted_zones: {{{zone}: {ZONE_ID}}}\n"
                            "    retry_s: [10, 30]\n")
    d.start(wait_zones=[zone])
    try:
        s = synced(d, zone)
        assert held(r53, origin) == expected(origin, model)
        assert s["skipped"]["counts"]["unsupported-type"] == 1
        print(f"\nfirst sync: {s['last_sync']}")

        model[("www", "A")] = (60, ["192.0.2.12"])
        del model[("mail", "A")], model[("@", "MX")]
        model[("new", "TXT")] = (300, ['"added"'])
        d.write_zone(zone, render(origin, model))
        [r] = control(d, "reload", [zone])["zones"]
        assert r["changed"]
        s = synced(d, zone)
        assert s["last_sync"]["mode"] == "incremental"
        assert held(r53, origin) == expected(origin, model)
        print(f"incremental: {s['last_sync']}")
        check = d.hpctl("check", zone, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        try:  # leave the throwaway zone as it was: nothing but Route 53's own SOA and NS
            d.write_zone(zone, f"$ORIGIN {origin}\n@ 300 SOA ns.example.net. hostmaster 1 7200 900 1209600 300\n"
                               "@ 300 NS ns.example.net.\n")
            control(d, "reload", [zone])
            synced(d, zone)
            assert held(r53, origin) == {}
        finally:
            d.stop()
