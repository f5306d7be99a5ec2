"""`hpctl status` with many zones (issue 15): filters (`--zone GLOB`, `--behind`, `--failed`), the
count of zones shown, and secondary lines only for the zones that need a look."""

import json

from tests.integration.harness import Daemon
from tests.integration.secondaries import SECONDARY_CONFIG, axfr_zone
from tests.zones import NET_ZONE, example_com


def test_filters_narrow_the_status_of_many_zones(tmp_path):
    zones = {"example.com": example_com(), "example.net": NET_ZONE,
             "broken.example": "$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.300\n"}
    zones.update({f"z{i}.example": NET_ZONE.replace("example.net.", f"z{i}.example.") for i in range(60)})
    d = Daemon(tmp_path, zones, extra_zone_config={"example.com": {"secondaries": "[lab]"}},
               extra_config=SECONDARY_CONFIG)
    d.start(wait_zones=["example.com", "z59.example"])
    try:
        # lab transfers serial 2026112701, then the zone moves on: lab is behind.
        assert axfr_zone(d.port).get_soa().serial == 2026112701
        d.write_zone("example.com", example_com(serial=2026112702))
        assert d.hpctl("reload", "example.com").returncode == 0

        failed = d.hpctl("status", "--failed")
        assert failed.returncode == 0, failed.stderr
        lines = failed.stdout.splitlines()
        assert lines[1].startswith("broken.example ") and "not loaded" in lines[1], lines
        assert len(lines) == 3 and lines[-1] == "1 of 63 zones shown", lines

        behind = json.loads(d.hpctl("status", "--behind", "--json").stdout)
        assert [z["zone"] for z in behind["zones"]] == ["example.com"] and behind["total"] == 63
        assert behind["zones"][0]["secondaries"][0]["behind"] is True

        globbed = json.loads(d.hpctl("status", "--zone", "Z1*.EXAMPLE", "--json").stdout)
        assert sorted(z["zone"] for z in globbed["zones"]) == ["z1.example"] + [f"z{i}.example" for i in range(10, 20)]

        everything = d.hpctl("status").stdout.splitlines()
        assert len([line for line in everything if " <- lab: " in line]) == 1  # the zone that needs a look
        assert "(61 zones serving with every secondary up to date: `hpctl status ZONE` for one)" in everything
        assert not any(line.endswith("zones shown") for line in everything)
    finally:
        d.stop()
