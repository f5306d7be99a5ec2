"""A real BIND secondary of a signed zone: it transfers what we sign, its copy (after AXFR, after
an edit by IXFR, after a timer re-sign by IXFR) passes dnssec-verify, and BIND's `delv`, with our
DNSKEY as its only trust anchor, validates the answers BIND serves: a positive answer, NXDOMAIN and
NODATA. BIND computes its own denial proofs from the NSEC3 chain we made, so this checks the chain
and the signatures as a secondary uses them."""

from __future__ import annotations

import re
import subprocess
import time

import dns.rdatatype
import dns.zone

from tests.helpers import require_tool
from tests.integration.harness import Daemon

ZONE = "example.com"
# TTLs of 30 s: signatures re-signed 40 s before they expire must outlive a cached copy (30 s)
# plus the propagation_delay (5 s, loopback) the config says.
TEXT = """\
$ORIGIN example.com.
$TTL 30
@ 30 SOA ns1 hostmaster {serial} 7200 3600 1209600 300
@ 30 NS ns1
@ MX 10 mail
ns1 A 127.0.0.1
www A 192.0.2.10
mail A 192.0.2.25
*.wild TXT "wildcard"
host.deep.ent A 192.0.2.99
{extra}
"""


def start(tmp_path, bind_secondary, tsig_key, dnssec: str):
    name, algorithm, secret = tsig_key
    bind = bind_secondary([ZONE], 0, key=tsig_key, address="127.0.0.2", start=False)
    d = Daemon(tmp_path / "primary", {ZONE: TEXT.format(serial=1, extra="")},
               extra_zone_config={ZONE: {"secondaries": "[bind]", "dnssec": dnssec}},
               extra_config=(f'tsig:\n  {name}: {{algorithm: {algorithm}, secret: "{secret}"}}\n'
                             "notify_source: 127.0.0.1\n"
                             f"secondaries:\n  bind: {{allow: [127.0.0.2/32], key: {name}, "
                             f"notify: ['{bind.endpoint}']}}\n"))
    bind.primary_port = d.port
    bind.start()
    d.start(wait_zones=[ZONE])
    return d, bind


def bind_copy(bind, tsig_key, path) -> None:
    """BIND's copy of the zone, by AXFR from BIND itself, written as a zone file."""
    lines = [f"{n} {ttl} IN {t} {rd}" for n, ttl, t, rd in bind.axfr(ZONE, key=tsig_key)]
    path.write_text("\n".join(lines) + "\n")


def verify(path) -> None:
    out = subprocess.run([require_tool("dnssec-verify"), "-z", "-o", ZONE, str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Zone fully signed" in out.stderr + out.stdout, out.stdout + out.stderr


def delv(bind, anchors, qname, qtype) -> str:
    done = subprocess.run([require_tool("delv"), f"@{bind.listen_address}", "-p", str(bind.port), "-a", str(anchors),
                           f"+root={ZONE}", "+mtrace", qname, qtype], capture_output=True, text=True, timeout=30)
    out = done.stdout + done.stderr
    peers = set(re.findall(r"received packet from (\S+)", out))
    assert peers == {f"{bind.listen_address}#{bind.port}"}, out  # only BIND was asked
    return out


def anchors_file(d: Daemon, path) -> None:
    r = d.query(ZONE, "DNSKEY")
    keys = [rd for rd in r.answer[0] if rd.flags & 1]  # SEP: the KSK (or CSK)
    path.write_text("trust-anchors {\n" + "".join(
        f'  {ZONE}. static-key {k.flags} {k.protocol} {k.algorithm} "{dns.rdata._base64ify(k.key, 0)}";\n'
        for k in keys) + "};\n")


def test_bind_secondary_of_a_signed_zone_validates_and_follows_edits_and_resigns(
        tmp_path, bind_secondary, tsig_key):
    # Signatures valid 60 s, re-signed 40 s before expiry: the timer fires ~15-20 s after start.
    d, bind = start(tmp_path, bind_secondary, tsig_key,
                    "{algorithm: ECDSAP256SHA256, denial: nsec3, signature_validity: 60, refresh: 40, "
                    "propagation_delay: 5}")
    try:
        bind.wait_serial(ZONE, 1, timeout=20)
        bind_copy(bind, tsig_key, tmp_path / "copy1.zone")
        verify(tmp_path / "copy1.zone")
        anchors = tmp_path / "anchors.conf"
        anchors_file(d, anchors)

        out = delv(bind, anchors, "www.example.com", "A")
        assert "; fully validated" in out and "192.0.2.10" in out, out
        out = delv(bind, anchors, "nothere.example.com", "A")
        assert "; negative response, fully validated" in out and "NXDOMAIN" in out, out
        out = delv(bind, anchors, "www.example.com", "TXT")
        assert "; negative response, fully validated" in out and "NXRRSET" in out, out
        out = delv(bind, anchors, "host.wild.example.com", "TXT")
        assert "; fully validated" in out and "wildcard" in out, out

        # An edit reaches BIND by IXFR and its copy still verifies.
        d.write_zone(ZONE, TEXT.format(serial=2, extra="new A 192.0.2.77"))
        assert d.hpctl("reload").returncode == 0
        bind.wait_serial(ZONE, 2, timeout=20)
        assert bind.wait_transfers(2, ZONE)[-1] == "IXFR"
        bind_copy(bind, tsig_key, tmp_path / "copy2.zone")
        verify(tmp_path / "copy2.zone")
        out = delv(bind, anchors, "new.example.com", "A")
        assert "; fully validated" in out and "192.0.2.77" in out, out

        # The re-sign timer: serial 3, by IXFR, before the first signatures expire.
        bind.wait_serial(ZONE, 3, timeout=45)
        assert bind.wait_transfers(3, ZONE)[-1] == "IXFR"
        bind_copy(bind, tsig_key, tmp_path / "copy3.zone")
        verify(tmp_path / "copy3.zone")
        first = dns.zone.from_file(str(tmp_path / "copy1.zone"), origin=ZONE, relativize=False)
        third = dns.zone.from_file(str(tmp_path / "copy3.zone"), origin=ZONE, relativize=False)
        exp = lambda z: min(r.expiration for _, _, r in z.iterate_rdatas() if r.rdtype == dns.rdatatype.RRSIG)  # noqa: E731
        assert exp(third) > exp(first) and time.time() < exp(first)
        out = delv(bind, anchors, "www.example.com", "A")
        assert "; fully validated" in out, out
    finally:
        d.stop()
