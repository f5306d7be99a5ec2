"""Real BIND `named` and Knot `knotd` as secondaries of our daemon on loopback: the initial AXFR,
then IXFR after every reload, each signed with TSIG, checked by what the secondaries serve and
what their logs say."""

import json
import random
import time

import pytest

from tests.helpers import wait_for
from tests.integration.harness import Daemon
from tests.interop.fed import start_fed
from tests.zones import records_of_text, zone_text

ZONE = "example.com"


@pytest.fixture
def primary(tmp_path, tsig_key, request):
    name, algorithm, secret = tsig_key
    hosts = getattr(request, "param", 50)
    d = Daemon(tmp_path / "primary", {ZONE: zone_text(1, hosts=hosts)},
               extra_zone_config={ZONE: {"secondaries": "[bind, knot]"}},
               extra_config=(
                   f'tsig:\n  {name}: {{algorithm: {algorithm}, secret: "{secret}"}}\n'
                   "secondaries:\n"
                   f"  bind: {{allow: [127.0.0.2/32], key: {name}}}\n"
                   f"  knot: {{allow: [127.0.0.3/32], key: {name}}}\n"))
    d.hosts = hosts
    d.start(wait_zones=[ZONE])
    yield d
    d.stop()


def both(primary, bind_secondary, knot_secondary, tsig_key):
    return [bind_secondary([ZONE], primary.port, key=tsig_key, address="127.0.0.2"),
            knot_secondary([ZONE], primary.port, key=tsig_key, address="127.0.0.3")]


@pytest.mark.parametrize("primary", [50, 5000], indirect=True, ids=["small", "multi-message"])
def test_initial_axfr_then_ixfr_after_a_reload(primary, bind_secondary, knot_secondary, tsig_key):
    secondaries = both(primary, bind_secondary, knot_secondary, tsig_key)
    for sec in secondaries:
        sec.wait_serial(ZONE, 1, timeout=20)
        assert sec.axfr(ZONE) == records_of_text(zone_text(1, hosts=primary.hosts), ZONE)
        assert sec.wait_transfers(1, ZONE) == ["AXFR"]

    new_text = zone_text(2, hosts=primary.hosts, changed={3: "192.0.2.33"})
    primary.write_zone(ZONE, new_text)
    out = primary.hpctl("reload")
    assert out.returncode == 0 and "1 -> 2" in out.stdout
    for sec in secondaries:
        sec.refresh(ZONE)
        sec.wait_serial(ZONE, 2, timeout=20)
        assert sec.axfr(ZONE) == records_of_text(new_text, ZONE)
        assert sec.wait_transfers(2, ZONE) == ["AXFR", "IXFR"], f"{sec.kind} did not use IXFR"
    log = primary.log()
    assert "peer=127.0.0.2 secondary=bind kind=IXFR serial=1->2" in log
    assert "peer=127.0.0.3 secondary=knot kind=IXFR serial=1->2" in log


def test_secondaries_converge_on_every_serial_through_random_reloads(primary, bind_secondary, knot_secondary,
                                                                     tsig_key):
    rng = random.Random(5936)
    secondaries = both(primary, bind_secondary, knot_secondary, tsig_key)
    for sec in secondaries:
        sec.wait_serial(ZONE, 1, timeout=20)
    changed: dict[int, str] = {}
    text = zone_text(1, hosts=primary.hosts)
    for serial in range(2, 8):
        for _ in range(rng.randint(1, 4)):
            changed[rng.randrange(primary.hosts)] = f"192.0.2.{rng.randint(1, 254)}"
        if rng.random() < 0.3 and changed:
            changed.pop(next(iter(changed)))  # back to its first value
        text = zone_text(serial, hosts=primary.hosts, changed=changed)
        primary.write_zone(ZONE, text)
        assert primary.hpctl("reload").returncode == 0
        for sec in secondaries:
            sec.refresh(ZONE)
            sec.wait_serial(ZONE, serial, timeout=20)
    for sec in secondaries:
        assert sec.axfr(ZONE) == records_of_text(text, ZONE)
        kinds = sec.wait_transfers(7, ZONE)
        assert kinds == ["AXFR"] + ["IXFR"] * 6, f"{sec.kind}: {kinds}"


def test_a_secondary_restarted_behind_catches_up_by_ixfr_across_our_restart(primary, bind_secondary,
                                                                            knot_secondary, tsig_key):
    secondaries = both(primary, bind_secondary, knot_secondary, tsig_key)
    for sec in secondaries:
        sec.wait_serial(ZONE, 1, timeout=20)
        sec.stop()
    text = zone_text(2, hosts=primary.hosts, changed={1: "192.0.2.1"})
    primary.write_zone(ZONE, text)
    assert primary.hpctl("reload").returncode == 0
    assert primary.stop() == 0
    primary.start(wait_zones=[ZONE])
    for sec in secondaries:
        sec.start()
        sec.refresh(ZONE)
        sec.wait_serial(ZONE, 2, timeout=20)
        assert sec.axfr(ZONE) == records_of_text(text, ZONE)
        assert sec.wait_transfers(2, ZONE)[-1] == "IXFR"


def test_notify_brings_both_secondaries_up_to_date_without_a_refresh(tmp_path, bind_secondary, knot_secondary,
                                                                     tsig_key):
    d, bind, knot = start_fed(tmp_path, bind_secondary, knot_secondary, tsig_key, zone_text(1, hosts=50), 1)
    try:
        text = zone_text(2, hosts=50, changed={7: "192.0.2.77"})
        d.write_zone(ZONE, text)
        started = time.monotonic()
        assert d.hpctl("reload").returncode == 0
        took = {}

        def converged() -> bool:
            """Notes when each secondary first serves serial 2; true once both do."""
            for sec in (bind, knot):
                if sec.kind not in took and sec.serial(ZONE, timeout=0.2) == 2:
                    took[sec.kind] = time.monotonic() - started
            return len(took) == 2
        wait_for(converged, timeout=30, interval=0.01, explain=lambda: f"converged: {took}\n{d.log()[-3000:]}")
        print("\nreload -> secondary serves the new serial (NOTIFY, no refresh): "
              + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in sorted(took.items())))
        for sec in (bind, knot):
            assert sec.axfr(ZONE) == records_of_text(text, ZONE)
            assert sec.wait_transfers(2, ZONE)[-1] == "IXFR"
        for sec in (bind, knot):  # each answered our signed NOTIFY with a signed NOERROR
            assert f"notify.acked zone=example.com target={sec.endpoint}" in d.log()
        status = json.loads(d.hpctl("status", "--json", ZONE).stdout)["zones"][0]
        by_name = {s["secondary"]: s for s in status["secondaries"]}
        for name, address in (("bind", "127.0.0.2"), ("knot", "127.0.0.3")):
            view = by_name[name]
            assert view["last_transfer"]["serial_to"] == 2 and view["last_transfer"]["kind"] == "IXFR"
            assert view["last_transfer"]["peer"] == address and view["behind"] is False
            assert view["soa_queries"] >= 1  # they check our SOA before transferring
            assert view["notify"][0]["acked_at"] is not None
        human = d.hpctl("status", ZONE).stdout
        assert "example.com <- bind: serial 2 by IXFR" in human and "example.com <- knot: serial 2 by IXFR" in human
    finally:
        d.stop()
