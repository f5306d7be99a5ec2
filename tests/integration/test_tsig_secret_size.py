"""TSIG secret length at start-up (RFC 8945 6; issue 11 item 13): under 16 octets stops start-up
with one line naming the key path; shorter than the HMAC's output starts, with a warning in the
daemon's log and in `--check-config`'s output."""

import base64
import subprocess

import dns.rcode

from tests.helpers import BIN
from tests.integration.harness import Daemon
from tests.zones import example_com


def tsig_config(size: int) -> str:
    secret = base64.b64encode(b"s" * size).decode()
    return f'tsig:\n  xfr-key: {{algorithm: hmac-sha256, secret: "{secret}"}}\n'


def test_a_secret_under_16_octets_stops_start_up_with_the_key_path(tmp_path):
    d = Daemon(tmp_path, {"example.com": example_com()}, extra_config=tsig_config(1))
    for args in (["-c", str(d.config)], ["--check-config", "-c", str(d.config)]):
        out = subprocess.run([str(BIN / "hiddenprimary"), *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2, out
        [line] = out.stderr.strip().splitlines()
        assert line.startswith(f"hiddenprimary: {d.config}:6: tsig.xfr-key.secret: is 1 octets;"), line
        assert "at least 16" in line


def test_a_secret_shorter_than_the_hmac_output_starts_with_a_warning(tmp_path):
    d = Daemon(tmp_path, {"example.com": example_com()}, extra_config=tsig_config(20))
    out = subprocess.run([str(BIN / "hiddenprimary"), "--check-config", "-c", str(d.config)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "ok (1 zones)" in out.stdout, out
    [line] = out.stderr.strip().splitlines()
    assert line.startswith(f"hiddenprimary: warning: {d.config}:6: tsig.xfr-key.secret: is 20 octets, "
                           "shorter than the 32-octet output of hmac-sha256"), line
    d.start(wait_zones=["example.com"])
    try:
        assert d.query("example.com", "SOA").rcode() == dns.rcode.NOERROR
        warnings = [ln for ln in d.log().splitlines() if "config.warning" in ln]
        assert len(warnings) == 1 and " WARNING " in warnings[0], d.log()
        assert "tsig.xfr-key.secret: is 20 octets" in warnings[0]
    finally:
        d.stop()


def test_a_full_length_secret_starts_without_a_warning(tmp_path):
    d = Daemon(tmp_path, {"example.com": example_com()}, extra_config=tsig_config(32))
    d.start(wait_zones=["example.com"])
    try:
        assert "config.warning" not in d.log()
    finally:
        d.stop()
