"""Reloads through hpctl and SIGHUP, seen by dig; a broken file leaves the old version serving."""

import json
import signal
import subprocess

import dns.rcode

from tests.helpers import BIN, wait_for
from tests.integration.harness import Daemon, serial_of
from tests.zones import NET_ZONE, example_com


def a_record(daemon, name):
    return daemon.dig("+short", name, "A").stdout.strip()


def test_reload_publishes_an_edit(daemon):
    daemon.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.99"))
    out = daemon.hpctl("reload", "example.com")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "example.com: 2026112701 -> 2026112702, 2 RRs changed (+1 -1)"
    assert a_record(daemon, "www.example.com") == "192.0.2.99"
    assert serial_of(daemon, "example.com") == 2026112702


def test_identical_content_is_a_no_op(daemon):
    out = daemon.hpctl("reload")
    assert out.returncode == 0, out.stderr
    assert "example.com: 2026112701 -> 2026112701, unchanged" in out.stdout
    assert "example.net: 1 -> 1, unchanged" in out.stdout


def test_broken_zone_keeps_the_old_version_and_reports_every_problem(daemon):
    broken = example_com(serial=2026112702, www="192.0.2.99").splitlines()
    broken[7] = "www     A       999.1.1.1"  # line 8: bad rdata
    broken.append("ftp     A       192.0.2.1")  # CNAME and other data
    daemon.write_zone("example.com", "\n".join(broken) + "\n")
    out = daemon.hpctl("reload", "example.com")
    assert out.returncode == 1
    assert "example.com: rejected, still serving serial 2026112701" in out.stderr
    assert "example.com.zone:8:" in out.stderr
    assert f"example.com.zone:{len(broken)}:" in out.stderr  # the CNAME conflict, found at the same time
    assert a_record(daemon, "www.example.com") == "192.0.2.10"
    assert serial_of(daemon, "example.com") == 2026112701
    status = json.loads(daemon.hpctl("status", "--json").stdout)
    [com] = [z for z in status["zones"] if z["zone"] == "example.com"]
    assert com["serial"] == 2026112701 and com["last_reload_ok"] is False


def test_keep_policy_refuses_content_changed_without_serial_increase(daemon):
    daemon.write_zone("example.com", example_com(www="192.0.2.99"))
    out = daemon.hpctl("reload", "example.com")
    assert out.returncode == 1
    assert "zone example.com: content changed without a serial increase" in out.stderr
    assert a_record(daemon, "www.example.com") == "192.0.2.10"


def test_keep_policy_refuses_a_serial_that_went_backwards(daemon):
    daemon.write_zone("example.com", example_com(serial=2026112600, www="192.0.2.99"))
    out = daemon.hpctl("reload", "example.com")
    assert out.returncode == 1 and "serial went backwards" in out.stderr


def test_increment_policy_bumps_the_serial_only_on_change(daemon):
    daemon.write_zone("example.net", NET_ZONE.replace("203.0.113.7", "203.0.113.8"))
    out = daemon.hpctl("reload", "example.net")
    assert out.stdout.strip() == "example.net: 1 -> 2, 2 RRs changed (+1 -1)"
    assert serial_of(daemon, "example.net") == 2
    out = daemon.hpctl("reload", "example.net")
    assert out.stdout.strip() == "example.net: 2 -> 2, unchanged"


def test_out_of_zone_data_is_ignored_with_a_warning(daemon):
    text = example_com(serial=2026112702) + "www.example.org. A 192.0.2.7\n"
    daemon.write_zone("example.com", text)
    out = daemon.hpctl("reload", "example.com")
    assert out.returncode == 0, out.stderr
    line = len(text.splitlines())
    assert f"example.com.zone:{line}:" in out.stdout and "out-of-zone" in out.stdout.lower() or \
        f"example.com.zone:{line}:" in out.stdout and "outside" in out.stdout.lower()
    assert daemon.query("www.example.org", "A").rcode() == dns.rcode.REFUSED


def test_sighup_reloads_every_zone(daemon):
    daemon.write_zone("example.com", example_com(serial=2026112703, www="192.0.2.77"))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: a_record(daemon, "www.example.com"), until=lambda a: a == "192.0.2.77", explain=daemon.log)
    assert serial_of(daemon, "example.com") == 2026112703


def test_concurrent_reloads_never_publish_two_versions_with_one_serial(daemon):
    daemon.write_zone("example.net", NET_ZONE.replace("203.0.113.7", "203.0.113.9"))
    procs = [subprocess.Popen([str(BIN / "hpctl"), "-c", str(daemon.config), "reload", "example.net"],
                              stdout=subprocess.PIPE, text=True) for _ in range(8)]
    for _ in range(8):
        daemon.proc.send_signal(signal.SIGHUP)
    outs = [p.communicate(timeout=30)[0] for p in procs]
    changed = [o for o in outs if "RRs changed" in o]
    assert len(changed) <= 1  # the first reload publishes; every later one sees the same content
    wait_for(lambda: serial_of(daemon, "example.net"), until=lambda serial: serial == 2)


def test_status_lists_zones_and_serials(daemon):
    out = daemon.hpctl("status")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split()[:5] == ["ZONE", "SERIAL", "SIGNED", "RECORDS", "JOURNAL"]
    assert lines[1].split()[:3] == ["example.com", "2026112701", "no"]
    assert lines[2].split()[:2] == ["example.net", "1"]


def test_unknown_zone_is_a_usage_error(daemon):
    out = daemon.hpctl("reload", "example.org")
    assert out.returncode == 2 and "unknown zone 'example.org'" in out.stderr
    assert "2 zones configured" in out.stderr and "example.net" not in out.stderr  # a count, not the list


def test_sigterm_exits_cleanly(daemon):
    assert daemon.stop(signal.SIGTERM) == 0
    assert "stopped" in daemon.log()


def test_a_zone_broken_at_start_is_servfail_and_others_serve(tmp_path):
    d = Daemon(tmp_path, {"example.com": "garbage line\n", "example.net": NET_ZONE})
    d.start(wait_zones=["example.net"])
    try:
        assert d.query("www.example.com", "A").rcode() == dns.rcode.SERVFAIL
        status = d.hpctl("status")
        assert "not loaded" in status.stdout and "example.com.zone:1:" in status.stdout
        d.write_zone("example.com", example_com())
        out = d.hpctl("reload", "example.com")
        assert out.returncode == 0 and out.stdout.startswith("example.com: - -> 2026112701")
        assert d.query("www.example.com", "A").rcode() == dns.rcode.NOERROR
    finally:
        d.stop()


def test_bad_config_stops_start_up_with_one_line(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text('listen: ["127.0.0.1:5300"]\nzones:\n  example.com:\n    file: x.zone\n    secondaries: [nope]\n')
    out = subprocess.run([str(BIN / "hiddenprimary"), "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert "zones.example.com.secondaries[0]" in line and "nope" in line
