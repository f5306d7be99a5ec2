"""The SOA queries `hpctl status` counts per secondary (issue 11 item 11): only those a keyed
secondary's key verified, counted in memory and still there after a restart."""

import base64
import json
import socket

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring

from tests.integration.secondaries import KEYRING

FORGED = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", base64.b64encode(b"f" * 32).decode())})
OTHER = dns.tsigkeyring.from_text({"other-key.": ("hmac-sha256", base64.b64encode(b"o" * 32).decode())})


def soa_queries(d) -> dict[str, int]:
    out = d.hpctl("status", "--json", "example.com")
    assert out.returncode == 0, out.stderr
    return {s["secondary"]: s["soa_queries"] for s in json.loads(out.stdout)["zones"][0]["secondaries"]}


def send_soa(port: int, source: str, count: int, keyring=None, keyname=None) -> list[int]:
    """`count` SOA queries for example.com from `source`, one at a time; their rcodes."""
    rcodes = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(3)
        for _ in range(count):
            q = dns.message.make_query("example.com.", "SOA")
            if keyring is not None:
                q.use_tsig(keyring, keyname, algorithm=dns.tsig.HMAC_SHA256)
            s.sendto(q.to_wire(), ("127.0.0.1", port))
            rcodes.append(dns.message.from_wire(s.recv(65535), keyring=False).rcode())
    return rcodes


def test_only_soa_queries_signed_with_a_keyed_secondarys_key_count_for_it(primary):
    assert send_soa(primary.port, "127.0.0.2", 300) == [dns.rcode.NOERROR] * 300  # unsigned: answered
    assert send_soa(primary.port, "127.0.0.2", 50, FORGED, "xfr-key.") == [dns.rcode.NOTAUTH] * 50
    send_soa(primary.port, "127.0.0.2", 20, OTHER, "other-key.")  # a known key, but not lab's
    assert soa_queries(primary) == {"lab": 0, "open": 0}
    assert send_soa(primary.port, "127.0.0.2", 7, KEYRING, "xfr-key.") == [dns.rcode.NOERROR] * 7
    send_soa(primary.port, "127.0.0.4", 3)  # open has no key: unsigned queries count
    send_soa(primary.port, "127.0.0.4", 2, OTHER, "other-key.")  # and verified signed ones
    assert soa_queries(primary) == {"lab": 7, "open": 5}  # shown before any flush
    assert primary.stop() == 0  # the last counts are written at shutdown
    primary.start(wait_zones=["example.com"])
    assert soa_queries(primary) == {"lab": 7, "open": 5}
