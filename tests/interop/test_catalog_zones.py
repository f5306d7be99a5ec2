"""Catalog zones we produce (RFC 9432, issue 15) consumed by a real BIND 9.18 (`catalog-zones`) and
a real Knot (`catalog-role: interpret`): neither names our member zones in its own config. A zone
added to our config (as a catalog member) is then served by both; a zone removed is dropped by
both; the catalog's changes reach them by IXFR after a NOTIFY."""

from __future__ import annotations

import dns.rcode

from tests.helpers import wait_for
from tests.integration.harness import Daemon
from tests.interop.peers import BindSecondary, KnotSecondary, _insert_after
from tests.zones import zone_text

CATALOG = "catalog.invalid"


class BindCatalogConsumer(BindSecondary):
    """BindSecondary of the catalog zone alone, with `catalog-zones` in its options: the member
    zones come from the catalog, their primary is ours (default-primaries)."""

    def write_config(self) -> None:
        super().write_config()
        name = self.key[0]
        text = self.conf.read_text()
        text = _insert_after(text, "options {", (
            "    catalog-zones {\n"
            f'        zone "{CATALOG}" default-primaries {{ 127.0.0.1 port {self.primary_port} key "{name}"; }}\n'
            f'            zone-directory "{self.dir}" min-update-interval 1;\n'
            "    };\n"))
        self.conf.write_text(text)


class KnotCatalogConsumer(KnotSecondary):
    """KnotSecondary of the catalog zone alone, interpreting it: member zones are made from a
    template whose primary is ours."""

    def write_config(self) -> None:
        super().write_config()
        text = self.conf.read_text()
        member_template = ("  - id: catalog-member\n"
                           f"    storage: {self.dir}\n"
                           "    master: hiddenprimary\n"
                           "    acl: [notify_from_hiddenprimary, local_transfer]\n"
                           "    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: all\n\n")
        assert text.count("\nzone:\n") == 1 and text.count(f"  - domain: {CATALOG}\n") == 1, text
        text = text.replace("\nzone:\n", "\n" + member_template + "zone:\n")
        text = text.replace(f"  - domain: {CATALOG}\n", f"  - domain: {CATALOG}\n    catalog-role: interpret\n"
                                                         "    catalog-template: catalog-member\n")
        self.conf.write_text(text)


def _config(tsig_key, bind_endpoint: str, knot_endpoint: str) -> str:
    name, algorithm, secret = tsig_key
    return (f'tsig:\n  {name}: {{algorithm: {algorithm}, secret: "{secret}"}}\n'
            "notify_source: 127.0.0.1\n"
            "secondaries:\n"
            f"  bind: {{allow: [127.0.0.2/32], key: {name}, notify: ['{bind_endpoint}']}}\n"
            f"  knot: {{allow: [127.0.0.3/32], key: {name}, notify: ['{knot_endpoint}']}}\n"
            f"catalogs:\n  {CATALOG}:\n    secondaries: [bind, knot]\n")


def _zones_section(members: list[str]) -> str:
    return "zones:\n" + "".join(f"  {z}:\n    file: zones/{z}.zone\n    secondaries: [bind, knot]\n"
                                f"    catalog: {CATALOG}\n" for z in members)


def _rewrite_zones(d: Daemon, members: list[str]) -> None:
    text = d.config.read_text()
    tmp = d.config.with_suffix(".tmp")
    tmp.write_text(text[:text.index("zones:\n")] + _zones_section(members))
    tmp.rename(d.config)


def _origin_text(zone: str, serial: int) -> str:
    return zone_text(serial, hosts=3).replace("example.com.", f"{zone}.")


def test_bind_and_knot_follow_our_catalog(tmp_path, tsig_key, peers):
    bind = BindCatalogConsumer(tmp_path / "bind", [CATALOG], 0, key=tsig_key, address="127.0.0.2")
    knot = KnotCatalogConsumer(tmp_path / "knot", [CATALOG], 0, key=tsig_key, address="127.0.0.3")
    peers.extend([bind, knot])
    d = Daemon(tmp_path / "primary", {"one.example": _origin_text("one.example", 1)},
               extra_config=_config(tsig_key, bind.endpoint, knot.endpoint))
    _rewrite_zones(d, ["one.example"])
    d.start(wait_zones=["one.example", CATALOG])
    try:
        for sec in (bind, knot):
            sec.primary_port = d.port
            sec.start()
        for sec in (bind, knot):
            sec.wait_serial("one.example", 1, timeout=30)

        # A new member: on our side a config edit and `hpctl reload`; on theirs nothing.
        d.write_zone("two.example", _origin_text("two.example", 7))
        _rewrite_zones(d, ["one.example", "two.example"])
        r = d.hpctl("reload")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "two.example: added, serial 7" in r.stdout
        for sec in (bind, knot):
            sec.wait_serial("two.example", 7, timeout=30)
        assert bind.transfers(CATALOG)[-1] == "IXFR" and knot.transfers(CATALOG)[-1] == "IXFR"

        # A member removed from our config: both drop it.
        _rewrite_zones(d, ["two.example"])
        r = d.hpctl("reload")
        assert "one.example: removed" in r.stdout, r.stdout + r.stderr
        for sec in (bind, knot):
            wait_for(lambda sec=sec: _rcode(sec, "one.example") == dns.rcode.REFUSED, 30,
                     explain=lambda sec=sec: sec.log_tail(60))
        assert bind.serial("two.example") == 7 and knot.serial("two.example") == 7
    finally:
        d.stop()


def _rcode(sec, zone: str) -> int | None:
    try:
        return sec.query(zone, "SOA", timeout=0.5).rcode()
    except Exception:  # noqa: BLE001 - not answering yet
        return None
