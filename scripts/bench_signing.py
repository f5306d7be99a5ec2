"""DNSSEC signing benchmark: the real daemon against BIND's dnssec-signzone (and named) on the
same zone, in the same run, as ratios.

  - full sign: daemon start (empty data dir) to the signed zone answering, i.e. parse + keys +
    sign everything + journal write; dnssec-signzone signing the same unsigned file;
  - incremental: `hpctl reload` after 10 records changed in the file (the reload's own duration:
    parse, diff, re-sign what changed, journal commit; the median of three such edits);
    dnssec-signzone re-signing its own signed
    output with the same 10 records changed (it keeps signatures that are still valid);
  - incremental re-sign overhead: that reload minus the same edit's reload in an unsigned copy
    of the zone (same daemon build, same run);
  - restart: the daemon stopped and started again on its data dir, to the first answer whose
    RRSIG validates under the zone's DNSKEY; named started on dnssec-signzone's output, likewise;
  - while the full sign runs, a small zone of the same daemon is queried every 10 ms: p99 and
    the slowest answer (and how many got none) show whether the server kept answering;
  - with --resign: the re-sign timer of a zone whose signatures all come due at once, in
    slices, with the same probe.

Both sign with ECDSAP256SHA256 and NSEC, one CSK (dnssec-signzone: one thread per CPU;
hiddenprimary: its reload thread and a worker process per other CPU). Bounded: fixed record
count, every wait has a timeout.

  scripts/bench signing [--records N] [--full] [--denial nsec3] [--resign [--resign-validity S]] [--resign-only]
  (--full: 100k and 1M records)"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dns.dnssec  # noqa: E402
import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402

from scripts.bench_servers import Bind  # noqa: E402
from tests.integration.harness import Daemon  # noqa: E402

ZONE = "example.com"
HEAD = ("$ORIGIN example.com.\n$TTL 300\n@ SOA ns1.example.com. hostmaster.example.com. {serial} 3600 600 86400 300\n"
        "  NS ns1.example.com.\nns1 A 192.0.2.1\nwww A 192.0.2.10\n")


def body(records: int, changed: set[int]) -> list[str]:
    """`records` A records, one name each (so one RRSIG and one NSEC per name, as in most zones)."""
    return [f"h{i} A {'198.51.100.' + str(i % 250) if i in changed else f'10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}'}\n"
            for i in range(records)]


def run(cmd: list[str], **kw) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, **kw)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {done.stderr or done.stdout}")
    return took


def probe(port: int, stop: threading.Event, times: list[float], lost: list[int], starts: list | None = None) -> None:
    """Query the small zone every 10 ms until told to stop; record each answer's time (a query
    with no answer within 2 s counts as lost, and as 2 s), and with `starts` when it was sent."""
    q = dns.message.make_query("www.probe.test", "A")
    while not stop.is_set():
        start = time.perf_counter()
        try:
            dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        except (dns.exception.Timeout, OSError):
            lost[0] += 1
        times.append(time.perf_counter() - start)
        if starts is not None:
            starts.append(start)
        time.sleep(0.01)


def validating_answer(port: int, dnskey, deadline: float) -> float:
    """Poll SOA with DO=1 until its RRSIG validates under `dnskey`; the time it did."""
    q = dns.message.make_query(ZONE, "SOA", want_dnssec=True)
    while True:
        assert time.monotonic() < deadline, "no validating answer"
        try:
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.1)  # a port not yet open: silence
            soa = r.get_rrset(r.answer, dns.name.from_text(ZONE), dns.rdataclass.IN, dns.rdatatype.SOA)
            sig = r.get_rrset(r.answer, dns.name.from_text(ZONE), dns.rdataclass.IN, dns.rdatatype.RRSIG,
                              dns.rdatatype.SOA)
            if soa is not None and sig is not None:
                dns.dnssec.validate(soa, sig, {dns.name.from_text(ZONE): dnskey})
                return time.perf_counter()
        except (dns.exception.Timeout, OSError, dns.dnssec.ValidationFailure):
            pass
        time.sleep(0.01)


def dnskey_of(port: int, timeout: float = 5.0):
    r = dns.query.udp(dns.message.make_query(ZONE, "DNSKEY", want_dnssec=True), "127.0.0.1", port=port, timeout=timeout)
    return r.get_rrset(r.answer, dns.name.from_text(ZONE), dns.rdataclass.IN, dns.rdatatype.DNSKEY)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def reload_ms(d: Daemon, records: int, changed: set[int], rounds: int = 3) -> float:
    """`hpctl reload` of the edit (serial 1 -> 2), then of `rounds - 1` more edits of as many
    records; the median of the daemon's own reload.ok ms (one reload on this machine varies
    by tens of ms)."""
    took, edit = [], set()
    for round_ in range(rounds):  # each round changes as many more records (the earlier stay)
        more = changed if round_ == 0 else set(random.Random(round_ + 1).sample(range(records), len(changed)))
        edit |= more
        serial = 2 + round_
        d.write_zone(ZONE, HEAD.format(serial=serial) + "".join(body(records, edit)))
        out = d.hpctl("--timeout", "1800", "reload", ZONE, timeout=1900)
        assert out.returncode == 0, out.stderr
        lines = [line for line in d.log().splitlines() if "reload.ok" in line and f"{serial - 1}->{serial}" in line]
        assert lines, d.log()[-2000:]
        took.append(float(lines[-1].split(" ms=")[1].split()[0]))
    return sorted(took)[len(took) // 2]


def bench_ours(work: pathlib.Path, records: int, changed: set[int], denial: str) -> dict:
    probe_zone = "$ORIGIN probe.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 300\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\n"
    d = Daemon(work / "ours", {"probe.test": probe_zone, ZONE: HEAD.format(serial=1) + "".join(body(records, set()))},
               extra_zone_config={ZONE: {"dnssec": f"{{algorithm: ECDSAP256SHA256, denial: {denial}}}"}})
    stop, times, lost = threading.Event(), [], [0]
    started = time.perf_counter()
    d.start(wait_zones=["probe.test"], timeout=60)
    prober = threading.Thread(target=probe, args=(d.port, stop, times, lost))
    prober.start()
    try:
        deadline = time.monotonic() + 1800
        while True:
            r = d.query(ZONE, "SOA", timeout=5)
            if r.rcode() == 0:
                break
            assert time.monotonic() < deadline, "the signed zone never came up"
            time.sleep(0.2)
        full = time.perf_counter() - started
        stop.set()
        prober.join()
        incr_ms = reload_ms(d, records, changed)
        status = json.loads(d.hpctl("status", "--json", ZONE).stdout)["zones"][0]
        rrs = status["records"]
        dnskey = dnskey_of(d.port)
        d.stop()
        restarted = time.perf_counter()
        d.start(timeout=600)
        restart = validating_answer(d.port, dnskey, time.monotonic() + 600) - restarted
    finally:
        stop.set()
        d.stop()
    return {"full_s": full, "incr_s": incr_ms / 1000, "records": rrs, "restart_s": restart,
            "probe_p99_ms": percentile(times, 0.99) * 1000, "probe_max_ms": max(times, default=0) * 1000,
            "probe_answered": len(times) - lost[0], "probe_lost": lost[0]}


def bench_unsigned(work: pathlib.Path, records: int, changed: set[int]) -> float:
    """The same edit's reload, in seconds, in an unsigned copy of the zone."""
    d = Daemon(work / "unsigned", {ZONE: HEAD.format(serial=1) + "".join(body(records, set()))})
    try:
        d.start(wait_zones=[ZONE], timeout=600)
        return reload_ms(d, records, changed) / 1000
    finally:
        d.stop()


def bench_bind(work: pathlib.Path, records: int, changed: set[int], denial: str) -> dict:
    keys = work / "bind-keys"
    keys.mkdir(parents=True)
    run(["dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", str(keys), ZONE])
    unsigned = work / "bind.zone"
    unsigned.write_text(HEAD.format(serial=1) + "".join(body(records, set())))
    signed = work / "bind.zone.signed"
    common = ["dnssec-signzone", "-z", "-S", "-K", str(keys), "-d", str(work), "-o", ZONE, "-N", "keep"]
    if denial == "nsec3":  # RFC 9276: no salt, no extra iterations (as ours)
        common += ["-3", "-", "-H", "0"]
    full = run(common + ["-f", str(signed), str(unsigned)])
    # The incremental case: its signed output with the same 10 records changed, signed again.
    lines = signed.read_text().splitlines(keepends=True)
    edited = work / "bind-edited.zone"
    old = {f"h{i}.example.com." for i in changed}
    kept = []
    skip = False
    for line in lines:  # drop the changed names' A records (and their RRSIGs), add the new ones
        first = line.split(None, 1)[0] if line.strip() and not line[0].isspace() else None
        if first is not None:
            skip = first in old
        if not skip:
            kept.append(line)
    kept += [f"h{i}.example.com. 300 IN A 198.51.100.{i % 250}\n" for i in sorted(changed)]
    edited.write_text("".join(kept))
    incr = run(common + ["-f", str(work / "bind-edited.zone.signed"), str(edited)])
    # named serving the signed zone: start to the first validating answer.
    named = Bind(work, signed.read_text())
    try:
        started = time.perf_counter()
        named.start()
        deadline = time.monotonic() + 600
        dnskey = None
        while dnskey is None:  # no answer yet, or an empty one while the zone loads
            try:
                dnskey = dnskey_of(named.port, timeout=0.1)
            except (dns.exception.Timeout, OSError):
                pass
            assert time.monotonic() < deadline and named.alive(), named.log_tail()
            time.sleep(0.01)
        restart = validating_answer(named.port, dnskey, deadline) - started
    finally:
        named.stop()
    return {"full_s": full, "incr_s": incr, "restart_s": restart}


def bench_resign(work: pathlib.Path, records: int, denial: str, validity: int = 300) -> dict:
    """The re-sign timer on a signed zone whose signatures all come due at once (validity 300 s
    by default, refresh 2/5 of it: the timer fires 2.5-3 minutes after the sign, and a new
    signature is due again only 2 minutes after it was made, longer than the slices of 100k
    records take; 1M records need --resign-validity 1800): it re-signs the zone in slices of at
    most 10,000 names a second apart while another zone is queried every 10 ms. TTLs are 20 s
    (they must fit in refresh - propagation)."""
    probe_zone = "$ORIGIN probe.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 300\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\n"
    text = (HEAD.format(serial=1) + "".join(body(records, set()))).replace("$TTL 300", "$TTL 20").replace(
        " 3600 600 86400 300", " 3600 600 86400 20")
    refresh = validity * 2 // 5
    jitter = min(refresh, validity - refresh) // 4  # as SigningPolicy.from_config
    dnssec = (f"{{algorithm: ECDSAP256SHA256, denial: {denial}, signature_validity: {validity}, "
              f"refresh: {refresh}, propagation_delay: 5}}")
    d = Daemon(work / "resign", {"probe.test": probe_zone, ZONE: text}, extra_zone_config={ZONE: {"dnssec": dnssec}})
    stop, times, lost, starts = threading.Event(), [], [0], []
    prober = threading.Thread(target=probe, args=(d.port, stop, times, lost, starts))
    try:
        d.start(wait_zones=["probe.test"], timeout=60)
        deadline = time.monotonic() + 600 + 2 * validity  # the sign, the wait for the timer, the slices
        while d.query(ZONE, "SOA", timeout=5).rcode() != 0:
            assert time.monotonic() < deadline, "the signed zone never came up"
            time.sleep(0.2)
        time.sleep(max(0, validity - jitter - refresh - 30))  # the timer fires about 30 s after this
        prober.start()
        while "resign.ok" not in d.log():
            assert time.monotonic() < deadline, d.log()[-2000:]
            time.sleep(0.05)
        first_ms = float(next(line for line in d.log().splitlines() if "resign.ok" in line).split(" ms=")[1].split()[0])
        began = time.perf_counter() - first_ms / 1000 - 0.05
        while True:  # slices follow a second apart: done when none came for twice the last one's time
            lines = [line for line in d.log().splitlines() if "resign.ok" in line]
            quiet = max(3.0, 2 * float(lines[-1].split(" ms=")[1].split()[0]) / 1000 + 2)
            time.sleep(quiet)
            if d.log().count("resign.ok") == len(lines):
                break
            assert time.monotonic() < deadline, d.log()[-2000:]
        ended = time.perf_counter() - quiet
        stop.set()
        prober.join()
        slices = d.log().count("resign.ok")
    finally:
        stop.set()
        d.stop()
    during = [t for t, at in zip(times, starts) if began <= at <= ended]
    return {"slices": slices, "took_s": ended - began, "p99_ms": percentile(during, 0.99) * 1000,
            "max_ms": max(during, default=0) * 1000, "answered": len(during), "lost": lost[0]}


def table(records: int, ours: dict, unsigned_s: float, bind: dict, changed: int, denial: str) -> None:
    print(f"\nzone: {records + 4} records, signed: {ours['records']} records (ECDSAP256SHA256, {denial.upper()}, CSK), "
          f"{os.cpu_count()} CPUs\n")
    print(f"{'':44}{'hiddenprimary':>15}{'BIND':>12}{'ratio':>9}")
    print(f"{'full sign, s':44}{ours['full_s']:>15.2f}{bind['full_s']:>12.2f}{ours['full_s'] / bind['full_s']:>8.2f}x")
    print(f"{f'{changed} records changed, s':44}{ours['incr_s']:>15.3f}{bind['incr_s']:>12.2f}"
          f"{ours['incr_s'] / bind['incr_s']:>8.3f}x")
    overhead = (ours['incr_s'] - unsigned_s) * 1000
    print(f"{'incremental re-sign overhead, ms':44}{overhead:>15.0f}{'-':>12}{'':>9}"
          f"   (unsigned reload of the edit: {unsigned_s * 1000:.0f} ms)")
    print(f"{'restart signed zone -> first validating answer, s':44}{ours['restart_s']:>15.2f}"
          f"{bind['restart_s']:>12.2f}{ours['restart_s'] / bind['restart_s']:>8.2f}x")
    print(f"{'p99 answer ms during full sign':44}{ours['probe_p99_ms']:>15.1f}{'-':>12}")
    print(f"{'max answer ms during full sign':44}{ours['probe_max_ms']:>15.1f}{'-':>12}"
          f"   ({ours['probe_answered']} answered, {ours['probe_lost']} lost)")
    print("BIND: dnssec-signzone for the signs, named for the restart")


def one_size(records: int, changed_count: int, denial: str, resign: bool = False, validity: int = 300,
             resign_only: bool = False) -> None:
    changed = set(random.Random(1).sample(range(records), changed_count))
    if not resign_only:
        work = pathlib.Path(tempfile.mkdtemp(prefix="hp-bench-sign-"))
        try:
            ours = bench_ours(work, records, changed, denial)
            unsigned_s = bench_unsigned(work, records, changed)
            bind = bench_bind(work, records, changed, denial)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        table(records, ours, unsigned_s, bind, changed_count, denial)
    if resign or resign_only:
        work = pathlib.Path(tempfile.mkdtemp(prefix="hp-bench-resign-"))
        try:
            r = bench_resign(work, records, denial, validity)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"\nre-sign timer, {records} records, every signature due: {r['slices']} serials "
              f"(slices of <= 10,000 names) in {r['took_s']:.1f} s")
        print(f"{'p99 answer ms during the re-sign':44}{r['p99_ms']:>15.1f}")
        print(f"{'max answer ms during the re-sign':44}{r['max_ms']:>15.1f}   ({r['answered']} answered, "
              f"{r['lost']} lost)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="A records in the zone (one name each)")
    parser.add_argument("--changed", type=int, default=10, help="records changed for the incremental reload")
    parser.add_argument("--full", action="store_true", help="100k and 1M records")
    parser.add_argument("--denial", choices=["nsec", "nsec3"], default="nsec")
    parser.add_argument("--resign", action="store_true",
                        help="also the re-sign timer with every signature due (about 4 minutes more)")
    parser.add_argument("--resign-validity", type=int, default=300,
                        help="signature validity, s, of the --resign zone (1M records: 1800)")
    parser.add_argument("--resign-only", action="store_true", help="only the --resign part")
    args = parser.parse_args()
    if shutil.which("dnssec-signzone") is None:
        print("bench: dnssec-signzone is missing (apt-get install bind9-utils)", file=sys.stderr)
        return 2
    for records in ([100_000, 1_000_000] if args.full else [args.records]):
        one_size(records, args.changed, args.denial, args.resign, args.resign_validity, args.resign_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
