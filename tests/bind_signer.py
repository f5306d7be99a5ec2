"""Zones signed by BIND's dnssec-keygen and dnssec-signzone (a real signer), for the tests that
check our answers from signed zones (tests/unit/test_query_dnssec.py) and that a validator accepts
them (tests/integration/test_dnssec_answers.py).

    ksk = make_keys(tmp / "keys")                       # the KSK's DNSKEY rdata, for a trust anchor
    signed = sign(tmp, tmp / "keys", "nsec3")           # a path: DENIAL_ZONE signed with NSEC3
"""

from __future__ import annotations

import pathlib
import subprocess

from tests.zones import DENIAL_ZONE

# dnssec-signzone's options for each kind of denial.
FLAVOURS = {"nsec": (), "nsec3": ("-3", "-", "-H", "0"), "optout": ("-3", "-", "-H", "0", "-A")}


def _run(*cmd: str, cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    assert done.returncode == 0, f"{cmd}: {done.stdout}{done.stderr}"
    return done


def make_keys(keydir: pathlib.Path, origin: str = "example.") -> str:
    """A KSK and a ZSK (ECDSAP256SHA256) in `keydir`; returns the KSK's DNSKEY rdata text."""
    keydir.mkdir(parents=True, exist_ok=True)
    ksk = _run("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", str(keydir), origin)
    _run("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-K", str(keydir), origin)
    text = (keydir / f"{ksk.stdout.strip()}.key").read_text()
    line = next(li for li in text.splitlines() if not li.startswith(";"))
    return line.split("DNSKEY", 1)[1].strip()  # "257 3 13 <base64>"


def sign(workdir: pathlib.Path, keydir: pathlib.Path, flavour: str, text: str = DENIAL_ZONE,
         origin: str = "example.") -> pathlib.Path:
    """`text` signed by dnssec-signzone with the keys in `keydir` (smart signing, -S)."""
    workdir.mkdir(parents=True, exist_ok=True)
    unsigned = workdir / f"{flavour}.zone"
    unsigned.write_text(text)
    signed = workdir / f"{flavour}.signed"
    _run("dnssec-signzone", "-q", "-S", "-K", str(keydir), *FLAVOURS[flavour], "-o", origin,
         "-f", str(signed), str(unsigned), cwd=workdir)
    return signed
