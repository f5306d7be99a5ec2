"""The secondaries the integration tests configure on our daemon, and a transfer as one makes it:
"lab" (127.0.0.2, TSIG key xfr-key) and "open" (127.0.0.4, by address alone).

    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab, open]"}},
               extra_config=SECONDARY_CONFIG)
    zone = axfr_zone(d.port)   # lab's signed AXFR
"""

from __future__ import annotations

import base64

import dns.query
import dns.tsigkeyring
import dns.xfr
import dns.zone

SECRET = base64.b64encode(b"k" * 32).decode()
KEYRING = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", SECRET)})
SECONDARY_CONFIG = (
    "tsig:\n"
    f'  xfr-key: {{algorithm: hmac-sha256, secret: "{SECRET}"}}\n'
    f'  other-key: {{algorithm: hmac-sha256, secret: "{base64.b64encode(b"o" * 32).decode()}"}}\n'
    "secondaries:\n"
    "  lab: {allow: [127.0.0.2/32], key: xfr-key}\n"
    "  open: {allow: [127.0.0.4/32]}\n"
)


def axfr_zone(port: int, source: str = "127.0.0.2", keyring=KEYRING) -> dns.zone.Zone:
    """example.com transferred from 127.0.0.1:`port` from `source` (lab, signed, by default)."""
    zone = dns.zone.Zone("example.com.", relativize=False)
    query, _ = dns.xfr.make_query(zone, keyring=keyring, keyname="xfr-key." if keyring else None)
    dns.query.inbound_xfr("127.0.0.1", zone, query=query, port=port, source=source, timeout=10)
    return zone
