"""A zone's versions as the transfer, NOTIFY and API-sync unit tests build them: example.com with
`hosts` A records, loaded by the real zone loader into a real Store, a config parsed from YAML
with two TSIG keys; and the ways the tests read versions back (a dnspython Zone, a provider's
holdings after a plan)."""

from __future__ import annotations

from collections.abc import Mapping

import dns.name
import dns.tsig
import dns.zone

from hiddenprimary.config import Config, parse_config
from hiddenprimary.providers.base import Plan
from hiddenprimary.zone.diff import Diff, diff
from hiddenprimary.zone.load import load_zone
from hiddenprimary.zone.store import Store
from hiddenprimary.zone.version import ZoneVersion

ORIGIN = dns.name.from_text("example.com.")
XFR_SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
OTHER_SECRET = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="
XFR_KEY = dns.tsig.Key("xfr-key.", XFR_SECRET, dns.tsig.HMAC_SHA256)
TSIG_CONFIG = f"""
tsig:
  xfr-key: {{algorithm: hmac-sha256, secret: "{XFR_SECRET}"}}
  other-key: {{algorithm: hmac-sha256, secret: "{OTHER_SECRET}"}}
"""
HOSTS = {f"h{i}": f"192.0.2.{10 + i}" for i in range(20)}
SERIAL = 2024060100  # the first version's serial; version i has SERIAL + i


def make_config(tmp_path, text: str) -> Config:
    """`text` parsed as hp.yaml in `tmp_path` (so data_dir, by default `var`, is under it)."""
    return parse_config('listen: ["127.0.0.1:5300"]\n' + text, str(tmp_path / "hp.yaml"))


def hosts_zone_text(serial: int, hosts: Mapping[str, str]) -> str:
    return "".join(
        ["$TTL 3600\n", f"@ SOA ns1 hostmaster {serial} 7200 3600 1209600 300\n", "@ NS ns1\n",
         "ns1 A 192.0.2.1\n", '@ TXT "hidden primary"\n', "@ MX 10 ns1\n"]
        + [f"{name} A {address}\n" for name, address in hosts.items()])


def load_versions(tmp_path, *contents: Mapping[str, str]) -> list[ZoneVersion]:
    """One version of example.com per `hosts` mapping, serials SERIAL, SERIAL + 1, ..., each
    written to a file and read by the zone loader."""
    out = []
    for i, hosts in enumerate(contents):
        path = tmp_path / f"example.com.{i}.zone"
        path.write_text(hosts_zone_text(SERIAL + i, hosts))
        out.append(ZoneVersion(ORIGIN, load_zone(str(path), ORIGIN).rdatasets))
    return out


def publish(store: Store, versions: list[ZoneVersion]) -> tuple[Diff, ...]:
    """Publish the last of `versions` with the diffs from the first to it (what a reload keeps)."""
    history = tuple(diff(a, b) for a, b in zip(versions, versions[1:]))
    store.publish(ORIGIN, versions[-1], history)
    return history


def to_dnspython_zone(version: ZoneVersion) -> dns.zone.Zone:
    zone = dns.zone.Zone(ORIGIN, relativize=False)
    for name, rds in version.iter_rdatasets():
        zone.find_node(name, create=True).replace_rdataset(rds.copy())
    return zone


def zone_nodes(zone: dns.zone.Zone) -> dict:
    out = {}
    for name, node in zone.nodes.items():
        for rds in node:
            out[(name, rds.rdtype, rds.covers)] = (rds.ttl, frozenset(r.to_text() for r in rds))
    return out


def applied(held: dict, plan: Plan) -> dict:
    """What the provider holds after `plan` (Route 53's semantics: a DELETE must match exactly)."""
    out = dict(held)
    for c in plan.deletes:
        assert out.pop(c.key) == (c.ttl, c.values), f"DELETE {c} does not match what is held"
    for c in plan.upserts:
        assert c.key in out, f"UPSERT of {c} that is not held"
        out[c.key] = (c.ttl, c.values)
    for c in plan.creates:
        assert c.key not in out, f"CREATE of {c} that is already held"
        out[c.key] = (c.ttl, c.values)
    return out
