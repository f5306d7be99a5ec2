"""A signed zone served by the real daemon: what dig takes by AXFR passes BIND's dnssec-verify and
ldns-verify-zone; an edit changes only its own signatures (seen in the IXFR); a restart re-signs
nothing; `hpctl ds` gives the DS of the served DNSKEY; the re-sign timer bumps the serial before
signatures expire."""

import subprocess
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from tests.helpers import require_tool, wait_for
from tests.integration.harness import Daemon, serial_of, status_of
from tests.zones import dnssec_zone_text

ZONE = "example.com"
T = dns.rdatatype

def signed_daemon(tmp_path, dnssec: str, serial_policy="keep", ttl=None) -> Daemon:
    return Daemon(tmp_path / "d", {ZONE: dnssec_zone_text(1, ttl=ttl)},
                  extra_zone_config={ZONE: {"secondaries": "[lab]", "dnssec": dnssec, "serial": serial_policy}},
                  extra_config="secondaries:\n  lab: {allow: [127.0.0.1/32]}\n")


def axfr(d: Daemon) -> dns.zone.Zone:
    return dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ZONE + ".", port=d.port, timeout=10, lifetime=30,
                                            relativize=False),
                             relativize=False)


def write(zone: dns.zone.Zone, path):
    zone.to_file(str(path), relativize=False, want_origin=True)


def verify(zone: dns.zone.Zone, path, csk: bool = True):
    write(zone, path)
    # A lone CSK carries the KSK flag: dnssec-verify then wants -z (as dnssec-signzone does).
    bind = subprocess.run([require_tool("dnssec-verify"), *(("-z",) if csk else ()), "-o", ZONE, str(path)],
                          capture_output=True, text=True, timeout=60)
    assert bind.returncode == 0, bind.stdout + bind.stderr
    assert "Zone fully signed" in bind.stderr + bind.stdout
    ldns = subprocess.run([require_tool("ldns-verify-zone"), str(path)], capture_output=True, text=True, timeout=60)
    assert ldns.returncode == 0, ldns.stdout + ldns.stderr


def rrsigs(zone: dns.zone.Zone) -> dict:
    return {(name, rds.covers): frozenset(r.to_text() for r in rds)
            for name, node in zone.nodes.items() for rds in node.rdatasets if rds.rdtype == T.RRSIG}


def ixfr_changes(d: Daemon, from_serial: int) -> list[tuple[str, str, str]]:
    """(owner, type, covered) of each RR in the IXFR from `from_serial`, as dig shows them."""
    out = d.dig(f"IXFR={from_serial}", ZONE, "+nocmd", "+nostats", "+onesoa").stdout
    rows = []
    for line in out.splitlines():
        if not line or line.startswith(";"):
            continue
        f = line.split()
        rows.append((f[0], f[3], f[4] if f[3] == "RRSIG" else ""))
    return rows


@pytest.mark.parametrize("dnssec,label", [("{algorithm: ECDSAP256SHA256}", "nsec-13"),
                                          ("{algorithm: ED25519}", "nsec-15"),
                                          ("{algorithm: ECDSAP256SHA256, denial: nsec3}", "nsec3-13"),
                                          ("{algorithm: ED25519, denial: nsec3, ksk_zsk: true}", "nsec3-15-ksk-zsk")],
                         ids=lambda x: x if not x.startswith("{") else "")
def test_signed_zone_edit_restart_and_ds(tmp_path, dnssec, label):
    d = signed_daemon(tmp_path, dnssec)
    csk = "ksk-zsk" not in label
    d.start(wait_zones=[ZONE])
    try:
        first = axfr(d)
        verify(first, tmp_path / "first.zone", csk)

        # DO=1 answers carry RRSIGs; DNSKEY is answered authoritatively.
        r = d.query("www.example.com", "A", want_dnssec=True)
        assert {rrset.rdtype for rrset in r.answer} == {T.A, T.RRSIG}
        r = d.query(ZONE, "DNSKEY", want_dnssec=True)
        assert r.flags & dns.flags.AA and r.answer

        # hpctl ds names the DS of the DNSKEY we serve (checked with BIND's dnssec-dsfromkey).
        ds = d.hpctl("ds", ZONE)
        assert ds.returncode == 0, ds.stderr
        dnskey = d.dig("+short", ZONE, "DNSKEY").stdout.strip()
        keyfile = tmp_path / "dnskey.txt"
        keyfile.write_text("".join(f"{ZONE}. 3600 IN DNSKEY {line}\n" for line in dnskey.splitlines()))
        fromkey = subprocess.run([require_tool("dnssec-dsfromkey"), "-2", "-f", str(keyfile), ZONE],
                                 capture_output=True, text=True, timeout=30)
        assert fromkey.returncode == 0, fromkey.stderr
        norm = lambda s: sorted(" ".join(line.split()[-4:]).upper() for line in s.strip().splitlines())  # noqa: E731
        assert norm(ds.stdout) == norm(fromkey.stdout) and len(norm(ds.stdout)) == 1
        status = d.hpctl("status", ZONE)
        assert "yes" in status.stdout.splitlines()[1] and "dnssec:" in status.stdout, status.stdout

        # Change one existing record: the IXFR carries that RRset, the SOA and their RRSIGs only.
        d.write_zone(ZONE, dnssec_zone_text(2, www="192.0.2.11"))
        assert d.hpctl("reload").returncode == 0
        assert serial_of(d, ZONE) == 2
        changes = ixfr_changes(d, 1)
        www = "www.example.com."
        assert sorted(set(changes)) == sorted({("example.com.", "SOA", ""), ("example.com.", "RRSIG", "SOA"),
                                               (www, "A", ""), (www, "RRSIG", "A")}), changes
        second = axfr(d)
        verify(second, tmp_path / "second.zone", csk)

        # A new name: its records plus the denial records around it (NSEC: its own and the one
        # before it; NSEC3: its own and the predecessor hash's), and nothing else.
        d.write_zone(ZONE, dnssec_zone_text(3, www="192.0.2.11", extra="mail2 A 192.0.2.26"))
        assert d.hpctl("reload").returncode == 0
        changes = set(ixfr_changes(d, 2))
        denial = "NSEC3" if "nsec3" in label else "NSEC"
        assert ("mail2.example.com.", "A", "") in changes
        assert len({c for c in changes if c[1] == denial}) == 2, changes
        assert len({c for c in changes if c[1] == "RRSIG"}) == 4, changes  # SOA, A, two denial records
        before_restart = axfr(d)
        verify(before_restart, tmp_path / "third.zone", csk)
        entries = _journal_entries(d)
    finally:
        d.stop()

    # A restart re-signs nothing: same serial, same signatures, no new journal entry.
    d.start(wait_zones=[ZONE])
    try:
        time.sleep(0.5)  # the start-up reload has run by the time hpctl answers
        assert d.hpctl("reload").returncode == 0
        assert serial_of(d, ZONE) == 3
        after = axfr(d)
        changed = {k for k in rrsigs(before_restart).keys() | rrsigs(after).keys()
                   if rrsigs(before_restart).get(k) != rrsigs(after).get(k)}
        assert changed == set()
        assert _journal_entries(d) == entries
    finally:
        d.stop()


def _journal_entries(d: Daemon) -> int:
    return status_of(d, ZONE)["journal"]["entries"]


def test_resign_timer_bumps_the_serial_before_expiry(tmp_path):
    """Signatures valid 40 s, refreshed 20 s before expiry: the timer re-signs by itself, the
    serial goes up by one, the IXFR carries the new signatures, and the zone still verifies."""
    # Secondaries are on loopback (propagation_delay 5 s) and TTLs 10 s: 10 + 5 <= refresh 20.
    d = signed_daemon(tmp_path, "{signature_validity: 40, refresh: 20, propagation_delay: 5}", ttl=10)
    d.start(wait_zones=[ZONE])
    try:
        first = axfr(d)
        earliest = min(r.expiration for rds in first.iterate_rdatasets() if rds[1].rdtype == T.RRSIG
                       for r in rds[1])
        wait_for(lambda: serial_of(d, ZONE), timeout=40, interval=0.5, until=lambda serial: serial != 1,
                 explain=lambda: d.log()[-3000:])
        assert serial_of(d, ZONE) == 2
        assert time.time() < earliest  # before anything expired
        changes = ixfr_changes(d, 1)
        assert sum(1 for c in changes if c[1] == "RRSIG") >= 2 * 5  # many signatures out and in
        assert {c[1] for c in changes} == {"SOA", "RRSIG"}  # a re-sign changes signatures only
        assert "resign.ok" in d.log()
        verify(axfr(d), tmp_path / "resigned.zone")
    finally:
        d.stop()


def test_dnssec_key_problem_is_reported_and_nothing_is_served_unsigned(tmp_path):
    """A key directory that lists a key whose file is gone: the zone is not served unsigned
    (that would break validation at every secondary); the error says which file."""
    d = signed_daemon(tmp_path, "{algorithm: ECDSAP256SHA256}")
    d.start(wait_zones=[ZONE])
    d.stop()
    keydir = next((d.dir / "var" / "keys").iterdir())
    victims = [p for p in keydir.iterdir() if p.suffix in (".private", ".key", ".pem")]
    assert victims, list(keydir.iterdir())
    for p in victims:
        p.unlink()
    d.start()
    try:
        time.sleep(1)
        r = d.query("www.example.com", "A", want_dnssec=True)
        # The journal's signed version is still served (restored), and stays signed.
        assert any(rrset.rdtype == T.RRSIG for rrset in r.answer)
        out = d.hpctl("reload")
        assert out.returncode != 0
        assert str(keydir) in out.stderr, out.stderr
        assert "NO KEYS" in d.hpctl("status").stdout
    finally:
        d.stop()


def test_dnspython_validates_answers_with_our_dnskey(tmp_path):
    d = signed_daemon(tmp_path, "{algorithm: ED25519}")
    d.start(wait_zones=[ZONE])
    try:
        name = dns.name.from_text(ZONE)
        keys = d.query(ZONE, "DNSKEY", want_dnssec=True)
        dnskey = keys.find_rrset(keys.answer, name, dns.rdataclass.IN, T.DNSKEY)
        sig = keys.find_rrset(keys.answer, name, dns.rdataclass.IN, T.RRSIG, T.DNSKEY)
        dns.dnssec.validate(dnskey, sig, {name: dnskey})
        for qname, rdtype in (("www.example.com", "A"), ("example.com", "MX"), ("x.wild.example.com", "TXT")):
            r = d.query(qname, rdtype, want_dnssec=True)
            rrset = r.find_rrset(r.answer, dns.name.from_text(qname), dns.rdataclass.IN, T.from_text(rdtype))
            sigs = r.find_rrset(r.answer, dns.name.from_text(qname), dns.rdataclass.IN, T.RRSIG,
                                T.from_text(rdtype))
            dns.dnssec.validate(rrset, sigs, {name: dnskey})
    finally:
        d.stop()


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_delv_validates_what_we_sign_and_serve(tmp_path, denial):
    """BIND's delv, with our KSK as its only trust anchor and only our daemon to ask, validates
    answers of every kind from the zone we signed ourselves."""
    import re

    d = signed_daemon(tmp_path, f"{{algorithm: ECDSAP256SHA256, denial: {denial}}}")
    d.start(wait_zones=[ZONE])
    try:
        r = d.query(ZONE, "DNSKEY")
        anchors = tmp_path / "anchors.conf"
        anchors.write_text("trust-anchors {\n" + "".join(
            f'  {ZONE}. static-key {k.flags} {k.protocol} {k.algorithm} "{dns.rdata._base64ify(k.key, 0)}";\n'
            for k in r.answer[0] if k.flags & 1) + "};\n")

        def delv(qname, qtype):
            done = subprocess.run([require_tool("delv"), "@127.0.0.1", "-p", str(d.port), "-a", str(anchors),
                                   f"+root={ZONE}", "+mtrace", qname, qtype], capture_output=True, text=True, timeout=30)
            out = done.stdout + done.stderr
            assert set(re.findall(r"received packet from (\S+)", out)) == {f"127.0.0.1#{d.port}"}, out
            return out

        assert "; fully validated" in delv("www.example.com", "A")
        assert "; fully validated" in delv("x.wild.example.com", "TXT")
        for qname, qtype, what in (("nothere.example.com", "A", "NXDOMAIN"), ("www.example.com", "TXT", "NXRRSET"),
                                   ("deep.ent.example.com", "A", "NXRRSET"), ("sub.example.com", "DS", "")):
            out = delv(qname, qtype)
            if what:
                assert "; negative response, fully validated" in out and what in out, out
            else:
                assert "fully validated" in out, out
    finally:
        d.stop()


def test_queries_are_answered_while_a_whole_zone_is_re_signed(tmp_path):
    """Checklist J4: a reload that changes every RRset (a new $TTL) re-signs the whole zone in
    the worker thread while the reactor keeps answering the same zone from the served version."""
    import threading

    records = "".join(f"h{i} A 10.0.{i // 256}.{i % 256}\n" for i in range(8000))
    d = Daemon(tmp_path / "big", {ZONE: dnssec_zone_text(1, extra=records)},
               extra_zone_config={ZONE: {"dnssec": "{algorithm: ECDSAP256SHA256}"}})
    d.start(wait_zones=[ZONE], timeout=120)
    try:
        d.write_zone(ZONE, dnssec_zone_text(2, extra=records).replace("$TTL 300", "$TTL 600"))
        latencies, serials, done = [], set(), threading.Event()

        def reload():
            d.hpctl("reload", timeout=300)
            done.set()

        worker = threading.Thread(target=reload)
        worker.start()
        deadline = time.monotonic() + 300
        while not done.is_set() and time.monotonic() < deadline:
            start = time.perf_counter()
            r = d.query("h77.example.com", "A", want_dnssec=True, timeout=5)
            latencies.append(time.perf_counter() - start)
            serials.add(serial_of(d, ZONE))
            time.sleep(0.02)
        worker.join(timeout=10)
        assert done.is_set()
        assert serial_of(d, ZONE) == 2 and r.rcode() == 0
        assert len(latencies) > 20  # the re-sign took a while, and queries went on meanwhile
        print(f"\n{len(latencies)} queries during the re-sign, slowest {max(latencies) * 1000:.0f} ms")
        assert max(latencies) < 3.0  # generous: a liveness bound, not a benchmark
        assert serials <= {1, 2}
    finally:
        d.stop()


def test_lost_key_directory_is_never_replaced_by_new_keys(tmp_path):
    """Review finding: the whole key directory is gone (a backup without it) while the journal
    holds the signed zone: no new keys (they would not match the DS at the parent); the error
    says to restore the directory, and the zone keeps serving with its old signatures."""
    import shutil

    d = signed_daemon(tmp_path, "{algorithm: ECDSAP256SHA256}")
    d.start(wait_zones=[ZONE])
    tags = {rd.key_tag for rrset in d.query("www.example.com", "A", want_dnssec=True).answer
            if rrset.rdtype == T.RRSIG for rd in rrset}
    d.stop()
    keydir = next((d.dir / "var" / "keys").iterdir())
    shutil.rmtree(keydir)
    d.start(wait_zones=[ZONE])
    try:
        out = d.hpctl("reload")
        assert out.returncode != 0 and "restore this directory" in out.stderr, out.stderr
        assert not keydir.exists() or not any(keydir.iterdir())  # nothing generated
        served = {rd.key_tag for rrset in d.query("www.example.com", "A", want_dnssec=True).answer
                  if rrset.rdtype == T.RRSIG for rd in rrset}
        assert served == tags
    finally:
        d.stop()


def test_a_ttl_the_resign_margin_cannot_cover_fails_the_reload(tmp_path):
    """refresh 2h minus propagation_delay 1h leaves room for TTLs up to 1h: a record cached for 2h
    could outlive its signatures, so the reload is refused at its line and the signed version
    keeps serving."""
    d = signed_daemon(tmp_path, "{signature_validity: 3d, refresh: 2h}")
    d.start(wait_zones=[ZONE])
    try:
        zone = dnssec_zone_text(2, extra='slow 7200 TXT "cached for two hours"')
        d.write_zone(ZONE, zone)
        out = d.hpctl("reload", ZONE)
        assert out.returncode == 1, out.stdout + out.stderr
        line = zone.splitlines().index('slow 7200 TXT "cached for two hours"') + 1
        assert f"{ZONE}.zone:{line}: slow.example.com. TXT: TTL 7200 is longer than " \
               "zones.example.com.dnssec.refresh (7200s) minus propagation_delay (3600s)" in out.stderr, out.stderr
        assert serial_of(d, ZONE) == 1
    finally:
        d.stop()
