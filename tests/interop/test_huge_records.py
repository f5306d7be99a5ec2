"""Records of 16, 32 and ~64 KB (legal: rdata up to 65,535 octets) reach every secondary whole:
kdig's AXFR and a real BIND secondary, three transfers each (issue 11, item 1: the first AXFR
used to abort and every later one completed without the record)."""

import shutil
import subprocess

import dns.zone
import pytest

from tests.integration.harness import Daemon
from tests.interop.peers import _zone_records, records

ZONE = "example.com"


def huge_txt(octets: int) -> str:
    strings, rest = divmod(octets, 251)  # 250 characters and a length octet each
    parts = [f'"{chr(97 + i % 26) * 250}"' for i in range(strings)]
    if rest > 1:
        parts.append('"' + "z" * (rest - 1) + '"')
    return " ".join(parts)


ZONE_TEXT = (
    "$ORIGIN example.com.\n$TTL 300\n"
    "@ SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300\n"
    "  NS ns1.example.com.\n"
    "ns1 A 192.0.2.1\n"
    f"r16 TXT {huge_txt(16_500)}\n"
    f"r32 TXT {huge_txt(32_768)}\n"
    f"r64 TXT {huge_txt(64_000)}\n"
    + "".join(f"h{i} A 10.0.0.{i}\n" for i in range(40))
)


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
    return _zone_records(zone)


def test_kdig_gets_every_huge_record_on_every_axfr(primary, tsig_key):
    want = records(ZONE_TEXT, ZONE)
    for _ in range(3):
        assert kdig_axfr(primary.port, tsig_key) == want
    log = primary.log()
    assert log.count("xfr.done") == 3 and "xfr.aborted" not in log


def test_a_bind_secondary_gets_every_huge_record_on_every_transfer(primary, bind_secondary, tsig_key):
    want = records(ZONE_TEXT, ZONE)
    sec = bind_secondary([ZONE], primary.port, key=tsig_key, address="127.0.0.2")
    sec.wait_serial(ZONE, 1, timeout=20)
    assert sec.wait_transfers(1, ZONE) == ["AXFR"]
    assert sec.axfr(ZONE) == want
    for n in (2, 3):
        sec.retransfer(ZONE)
        assert sec.wait_transfers(n, ZONE, timeout=20) == ["AXFR"] * n
        assert sec.axfr(ZONE) == want
    assert "xfr.aborted" not in primary.log()
