"""Route 53 as our daemon's API secondary, as both Route 53 tests (moto, real AWS) see it: the
zone as a model they edit and render into a zone file, what Route 53 must hold for it, and the
daemon's view of the sync.

    model: Model = {("www", "A"): (300, ["192.0.2.1"])}
    d.write_zone(zone, render(origin, model))
    wait_synced(d, zone)
    assert held_by_route53 == expected(origin, model)
"""

from __future__ import annotations

import dns.name
import dns.rdata
import dns.rdataclass

from tests.helpers import wait_for
from tests.integration.harness import Daemon, control

# The types Route 53 takes (AWS docs, "Supported DNS record types"); SOA and NS at the apex are its own.
ROUTE53_TYPES = {"A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV",
                 "SSHFP", "SVCB", "TLSA", "TXT"}
DNSSEC = {"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY"}

Model = dict[tuple[str, str], tuple[int, list[str]]]  # (owner relative, type) -> (ttl, values)


def render(origin: str, m: Model, serial: int = 1) -> str:
    lines = [f"$ORIGIN {origin}", "$TTL 300", f"@ 3600 SOA ns1 hostmaster {serial} 7200 900 1209600 300",
             "@ 3600 NS ns1", "@ 3600 NS ns2.example.net.", "ns1 300 A 192.0.2.1"]
    for (owner, rdtype), (ttl, values) in sorted(m.items()):
        lines += [f"{owner} {ttl} {rdtype} {v}" for v in values]
    return "\n".join(lines) + "\n"


_NORMAL: dict[tuple[str, str, str], str] = {}


def normal(rdtype: str, value: str, origin: str) -> str:
    """dnspython's text of one record (absolute names), cached: values repeat from round to round."""
    key = (rdtype, value, origin)
    if key not in _NORMAL:
        _NORMAL[key] = dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=dns.name.from_text(origin),
                                           relativize=False).to_text()
    return _NORMAL[key]


def expected(origin: str, m: Model) -> dict:
    """What Route 53 must hold, from the model the zone file was rendered from (dnspython alone)."""
    out = {(f"ns1.{origin}", "A"): (300, ["192.0.2.1"])}
    for (owner, rdtype), (ttl, values) in m.items():
        if rdtype in DNSSEC or rdtype not in ROUTE53_TYPES:
            continue  # DNSSEC: Route 53 signs itself; LOC: not a Route 53 type
        name = origin if owner == "@" else f"{owner}.{origin}".lower()
        out[(name, rdtype)] = (ttl, sorted({normal(rdtype, v, origin) for v in values}))
    return out


def api_status(d: Daemon, zone: str, name: str = "r53") -> tuple[dict, dict]:
    z = control(d, "status", [zone])["zones"][0]
    return z, next(s for s in z["secondaries"] if s["secondary"] == name)


def wait_synced(d: Daemon, zone: str, timeout: float = 60, interval: float = 0.05,
                max_failures: int | None = None) -> dict:
    """Until the API secondary holds the served serial with no error; returns its status. With
    `max_failures`, fails as soon as that many syncs in a row failed."""
    def synced() -> dict | None:
        z, s = api_status(d, zone)
        if z["serial"] is not None and s["serial"] == z["serial"] and not s["behind"] and not s["syncing"]:
            return s
        if max_failures is not None:
            assert s["error"] is None or s["failures"] < max_failures, f"sync keeps failing: {s['error']}"
        return None
    return wait_for(synced, timeout, interval, explain=lambda: f"{api_status(d, zone)[1]}\n{d.log()[-3000:]}")
