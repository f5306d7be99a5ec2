"""Transfers the responder refuses before the transfer service sees them (a zone we do not serve, a
name that is not a zone apex, a class other than IN), as dig and kdig see them: NOTAUTH, signed
with the request's key when its TSIG verifies (as BIND does), RFC 8945 errors otherwise.

dig prints no rcode for a failed transfer, only "; Transfer failed." and the reply's TSIG; kdig
prints the rcode. dig is the witness for the signature ("Couldn't verify signature" when the
NOTAUTH came back unsigned), kdig for what was answered."""

import base64
import re
import subprocess

import pytest

from tests.helpers import require_tool
from tests.integration.harness import Daemon
from tests.integration.secondaries import SECRET
from tests.zones import example_com

KEY = f"hmac-sha256:xfr-key:{SECRET}"
CONFIG = (
    "tsig:\n"
    f'  xfr-key: {{algorithm: hmac-sha256, secret: "{SECRET}"}}\n'
    "secondaries:\n"
    "  lab: {allow: [127.0.0.0/8], key: xfr-key}\n"
)
# The reply's TSIG as dig prints it: owner, ..., MAC size, MAC, original ID, error.
SIGNED_OK = re.compile(r"^xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0", re.M)


@pytest.fixture(scope="module")
def primary(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("refusals"), {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab]"}}, extra_config=CONFIG)
    d.start(wait_zones=["example.com"])
    yield d
    d.stop()


def kdig(port: int, *args: str) -> str:
    out = subprocess.run([require_tool("kdig"), "@127.0.0.1", "-p", str(port), "+time=2", "+retry=0", *args],
                         capture_output=True, text=True, timeout=20)
    return out.stdout + out.stderr


@pytest.mark.parametrize("args", [
    ("-t", "AXFR", "other.test"),  # a zone we do not serve
    ("-t", "AXFR", "www.example.com"),  # a name inside our zone, not its apex
    ("-t", "IXFR=1", "other.test"),
    ("-t", "AXFR", "-c", "CH", "example.com"),  # our zone, another class
    ("-t", "AXFR", "-c", "ANY", "example.com"),
])
def test_dig_verifies_the_signed_refusal(primary, args):
    # Item 5: before, the NOTAUTH came back unsigned: ";; Couldn't verify signature: expected a
    # TSIG or SIG(0)". kdig reports the rcode.
    out = primary.dig("-y", KEY, *args)
    text = out.stdout + out.stderr
    assert "Couldn't verify signature" not in text and "tsig verify failure" not in text, text
    assert SIGNED_OK.search(text) and "; Transfer failed." in text, text
    assert "error 'NOTAUTH'" in kdig(primary.port, "-y", KEY, *args)


@pytest.mark.parametrize("secret,error", [(base64.b64encode(b"w" * 32).decode(), "BADSIG")])
def test_bad_mac_gets_an_unsigned_badsig(primary, secret, error):
    out = primary.dig("-y", f"hmac-sha256:xfr-key:{secret}", "-t", "AXFR", "other.test")
    assert re.search(rf"^xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ {error} 0", out.stdout, re.M), out.stdout
    out = primary.dig("-y", f"hmac-sha256:stranger:{SECRET}", "-t", "AXFR", "other.test")
    assert re.search(r"^stranger\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADKEY 0", out.stdout, re.M), out.stdout


@pytest.mark.parametrize("rdclass", ["CH", "ANY", "CLASS4"])
@pytest.mark.parametrize("signed", [False, True])
def test_transfer_of_another_class_is_notauth_without_records(primary, rdclass, signed):
    # Item 6: before, kdig -c CH AXFR example.com received the IN zone.
    out = kdig(primary.port, *(("-y", KEY) if signed else ()), "-c", rdclass, "AXFR", "example.com.")
    assert "error 'NOTAUTH'" in out and "SOA" not in out, out
    # The IN zone is still there for IN.
    out = kdig(primary.port, "-y", KEY, "AXFR", "example.com.")
    assert out.count("\tSOA\t") == 2 and ";; ERROR" not in out, out


@pytest.mark.parametrize("rdclass", ["CH", "ANY"])
def test_plain_query_of_another_class_is_refused(primary, rdclass):
    # Pinned: REFUSED, AA clear, as BIND answers a CH name it has no CH zone for.
    for qname in ("example.com", "version.bind"):
        out = primary.dig("-c", rdclass, "-t", "SOA", qname)
        assert "status: REFUSED" in out.stdout and "ANSWER: 0" in out.stdout, out.stdout
        assert " aa" not in out.stdout.split("flags:")[1].split(";")[0]
