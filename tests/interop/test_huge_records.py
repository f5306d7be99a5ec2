"""Records of 16, 32 and ~64 KB (legal: rdata up to 65,535 octets) reach every secondary whole:
kdig's AXFR and a real BIND secondary, three transfers each (issue 11, item 1: the first AXFR
used to abort and every later one completed without the record)."""

import shutil
import subprocess

import dns.zone
import pytest

from tests.integration.harness import Daemon
from tests.zones import huge_txt, records_of_text, records_of_zone, zone_text

ZONE = "example.com"


ZONE_TEXT = zone_text(1, minimal=True, hosts=40, extra=(f"r16 TXT {huge_txt(16_500)}\n"
                                                       f"r32 TXT {huge_txt(32_768)}\n"
                                                       f"r64 TXT {huge_txt(64_000)}\n"))


@pytest.fixture
def primary(tmp_path, tsig_key):
    name, algorithm, secret = tsig_key
    d = Daemon(tmp_path / "primary", {ZONE: ZONE_TEXT}, extra_zone_config={ZONE: {"secondaries": "[bind]"}},
               extra_config=(f'tsig:\n  {name}: {{algorithm: {algorithm}, secret: "{secret}"}}\n'
                             f"secondaries:\n  bind: {{allow: [127.0.0.2/32], key: {name}}}\n"))
    d.start(wait_zones=[ZONE])
    yield d
    d.stop()


def kdig_axfr(port: int, key) -> list:
    name, algorithm, secret = key
    out = subprocess.run([shutil.which("kdig"), "@127.0.0.1", "-p", str(port), "-b", "127.0.0.2",
                          "-y", f"{algorithm}:{name}:{secret}", "AXFR", f"{ZONE}.", "+noall", "+answer"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert "failed" not in out.stdout + out.stderr.lower(), out.stdout[-500:] + out.stderr
    zone = dns.zone.from_text(out.stdout, origin=ZONE, relativize=False, check_origin=False)
    return records_of_zone(zone)


def test_kdig_gets_every_huge_record_on_every_axfr(primary, tsig_key):
    want = records_of_text(ZONE_TEXT, ZONE)
    for _ in range(3):
        assert kdig_axfr(primary.port, tsig_key) == want
    log = primary.log()
    assert log.count("xfr.done") == 3 and "xfr.aborted" not in log


def test_a_bind_secondary_gets_every_huge_record_on_every_transfer(primary, bind_secondary, tsig_key):
    want = records_of_text(ZONE_TEXT, ZONE)
    sec = bind_secondary([ZONE], primary.port, key=tsig_key, address="127.0.0.2")
    sec.wait_serial(ZONE, 1, timeout=20)
    assert sec.wait_transfers(1, ZONE) == ["AXFR"]
    assert sec.axfr(ZONE) == want
    for n in (2, 3):
        sec.retransfer(ZONE)
        assert sec.wait_transfers(n, ZONE, timeout=20) == ["AXFR"] * n
        assert sec.axfr(ZONE) == want
    assert "xfr.aborted" not in primary.log()
