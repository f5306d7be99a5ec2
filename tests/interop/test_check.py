"""`hpctl check` against real secondaries: a BIND `named` and a Knot `knotd` fed by our daemon
(NOTIFY, then IXFR), and a Knot primary serving a hand-edited copy of the zone as a third notify
target. In sync -> exit 0; one left behind (its allowlist entry removed before a new serial) ->
exit 1; one stopped -> exit 2; `--deep` lists the RRset the hand-edited copy changed."""

import json

import pytest

from tests.helpers import wait_for
from tests.integration.harness import Daemon
from tests.interop.fed import ZONE, make_daemon, start_fed, start_with
from tests.zones import zone_text

HOSTS = 20  # deep checks count them: 28 RRsets in all


def check(d: Daemon, *args: str):
    out = d.hpctl("check", ZONE, *args)
    print(f"\n$ hpctl check {ZONE} {' '.join(args)}  -> exit {out.returncode}\n{out.stdout}{out.stderr}")
    return out


def check_json(d: Daemon, *args: str) -> tuple[int, dict]:
    out = d.hpctl("check", ZONE, "--json", *args)
    assert out.stdout, out.stderr
    result = json.loads(out.stdout)
    assert len(result["zones"]) == 1
    return out.returncode, result["zones"][0]


def rows(report: dict) -> dict:
    return {t["secondary"]: t for t in report["targets"]}


@pytest.fixture
def fed(tmp_path, bind_secondary, knot_secondary, tsig_key):
    """(daemon, bind, knot): both secondaries serve serial 1, taken from our daemon."""
    d, bind, knot = start_fed(tmp_path, bind_secondary, knot_secondary, tsig_key, zone_text(1, hosts=HOSTS), 1)
    try:
        yield d, bind, knot
    finally:
        d.stop()


def test_in_sync_then_one_behind_then_one_unreachable(fed):
    d, bind, knot = fed
    out = check(d)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "example.com: serial 1: 2 in-sync"
    for name, sec in (("bind", bind), ("knot", knot)):
        row = next(line for line in lines if line.startswith(name))
        assert row.split()[:4] == [name, sec.endpoint, "1", "0"] and row.endswith("in-sync")
    code, report = check_json(d)
    assert code == 0 and report["serial"] == 1 and report["exit"] == 0
    for name, sec in (("bind", bind), ("knot", knot)):
        row = rows(report)[name]
        assert (row["target"], row["serial"], row["lag"], row["state"], row["error"]) == (
            sec.endpoint, 1, 0, "in-sync", None)
        assert row["signed"] is True and 0 <= row["time_ms"] < 2000

    # Knot left behind: its allowlist entry removed, then a new serial (our restart notifies both).
    assert d.stop() == 0
    d.config.write_text(d.config.read_text().replace("allow: [127.0.0.3/32], ", ""))
    d.write_zone(ZONE, zone_text(2, hosts=HOSTS, www="192.0.2.11"))
    d.start(wait_zones=[ZONE])
    bind.wait_serial(ZONE, 2, timeout=20)
    wait_for(lambda: "xfr.refused zone=example.com peer=127.0.0.3" in d.log(), timeout=20.0,
             explain=lambda: d.log()[-3000:])  # Knot tried
    assert knot.serial(ZONE) == 1
    out = check(d)
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout.splitlines()[0] == "example.com: serial 2: 1 in-sync, 1 behind"
    knot_line = next(line for line in out.stdout.splitlines() if line.startswith("knot"))
    assert knot_line.split()[:4] == ["knot", knot.endpoint, "1", "1"] and knot_line.endswith("behind")
    code, report = check_json(d)
    assert code == 1 and report["exit"] == 1
    assert (rows(report)["knot"]["state"], rows(report)["knot"]["lag"]) == ("behind", 1)
    assert (rows(report)["bind"]["state"], rows(report)["bind"]["serial"]) == ("in-sync", 2)

    # Knot stopped: unreachable, and that wins over behind.
    knot.stop()
    out = check(d)
    assert out.returncode == 2, out.stdout + out.stderr
    knot_line = next(line for line in out.stdout.splitlines() if line.startswith("knot"))
    assert "unreachable: timeout" in knot_line
    code, report = check_json(d)
    assert code == 2 and rows(report)["knot"]["state"] == "unreachable" and rows(report)["knot"]["serial"] is None
    assert rows(report)["bind"]["state"] == "in-sync"
    assert "check.target zone=example.com secondary=knot" in d.log()


def test_deep_finds_the_record_a_hand_edited_copy_changed(tmp_path, bind_secondary, knot_secondary, knot_primary,
                                                          tsig_key):
    bind = bind_secondary([ZONE], 0, key=tsig_key, address="127.0.0.2", start=False)
    knot = knot_secondary([ZONE], 0, key=tsig_key, address="127.0.0.3", start=False)
    # Same serial, one record changed: the drift a serial check cannot see.
    edited = knot_primary({ZONE: zone_text(1, hosts=HOSTS, www="192.0.2.99")}, key=tsig_key, address="127.0.0.4")
    d = make_daemon(tmp_path, tsig_key, {"bind": (bind.endpoint, "127.0.0.2/32"),
                                          "knot": (knot.endpoint, "127.0.0.3/32"),
                                          "edited": (edited.endpoint, None)}, zone_text(1, hosts=HOSTS))
    start_with(d, (bind, knot), 1)
    try:
        assert edited.serial(ZONE) == 1

        out = check(d)  # serials alone: all three look in sync
        assert out.returncode == 0, out.stdout + out.stderr

        out = check(d, "--deep")
        assert out.returncode == 1, out.stdout + out.stderr
        assert "edited" in out.stdout and "drifted: same serial, 1 RRset differs" in out.stdout
        assert "www.example.com A: ours 300 192.0.2.10 | theirs 300 192.0.2.99" in out.stdout

        code, report = check_json(d, "--deep")
        assert code == 1 and report["exit"] == 1 and report["deep"] is True
        by = rows(report)
        assert by["edited"]["state"] == "drifted" and by["edited"]["deep"]["differences"] == [
            {"name": "www.example.com", "type": "A", "ours": ["300 192.0.2.10"], "theirs": ["300 192.0.2.99"]}]
        assert by["edited"]["deep"]["method"] == "axfr"  # the reference primary allows our signed AXFR
        for name in ("bind", "knot"):
            deep = by[name]["deep"]
            assert by[name]["state"] == "in-sync" and deep["differing"] == 0 and deep["error"] is None, by[name]
            assert deep["checked"] == 28  # SOA, NS, ns1, www A+AAAA, txt, sub NS, ns.sub, 20 hosts
        print("deep methods: " + ", ".join(f"{n} {t['deep']['method']}"
                                           + (f" (AXFR: {t['deep']['axfr_error']})" if t["deep"]["axfr_error"] else "")
                                           for n, t in by.items()))
    finally:
        d.stop()
