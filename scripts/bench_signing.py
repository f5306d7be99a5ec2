"""DNSSEC signing benchmark: the real daemon against BIND's dnssec-signzone on the same zone, in
the same run, as ratios.

  - full sign: daemon start (empty data dir) to the signed zone answering, i.e. parse + keys +
    sign everything + journal write; dnssec-signzone signing the same unsigned file;
  - incremental: `hpctl reload` after 10 records changed in the file (the reload's own duration:
    parse, diff, re-sign what changed, journal commit); dnssec-signzone re-signing its own signed
    output with the same 10 records changed (it keeps signatures that are still valid);
  - while the full sign runs, a small zone of the same daemon is queried in a loop: the slowest
    answer shows whether the server kept answering.

Both sign with ECDSAP256SHA256 and NSEC, one CSK (dnssec-signzone: one thread per CPU;
hiddenprimary: worker processes from 4 CPUs up, else its reload thread). Bounded: fixed record
count, every wait has a timeout."""

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

import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402

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


def probe(port: int, stop: threading.Event, worst: list[float], answered: list[int]) -> None:
    """Query the small zone until told to stop; record the slowest answer and the count."""
    q = dns.message.make_query("www.probe.test", "A")
    while not stop.is_set():
        start = time.perf_counter()
        try:
            dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
            answered[0] += 1
        except (dns.exception.Timeout, OSError):
            pass
        worst[0] = max(worst[0], time.perf_counter() - start)
        time.sleep(0.01)


def bench_ours(work: pathlib.Path, records: int, changed: set[int]) -> dict:
    probe_zone = "$ORIGIN probe.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 300\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\n"
    d = Daemon(work / "ours", {"probe.test": probe_zone, ZONE: HEAD.format(serial=1) + "".join(body(records, set()))},
               extra_zone_config={ZONE: {"dnssec": "{algorithm: ECDSAP256SHA256}"}})
    stop, worst, answered = threading.Event(), [0.0], [0]
    started = time.perf_counter()
    d.start(wait_zones=["probe.test"], timeout=60)
    prober = threading.Thread(target=probe, args=(d.port, stop, worst, answered))
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
        d.write_zone(ZONE, HEAD.format(serial=2) + "".join(body(records, changed)))
        out = d.hpctl("--timeout", "1800", "reload", ZONE, timeout=1900)
        assert out.returncode == 0, out.stderr
        status = json.loads(d.hpctl("status", "--json", ZONE).stdout)["zones"][0]
        log = d.log()
        incr_ms = [line for line in log.splitlines() if "reload.ok" in line and "1->2" in line]
        assert incr_ms, log[-2000:]
        ms = float(incr_ms[-1].split(" ms=")[1].split()[0])
        rrs = status["records"]
    finally:
        stop.set()
        d.stop()
    return {"full_s": full, "incr_s": ms / 1000, "records": rrs, "probe_worst_ms": worst[0] * 1000,
            "probe_answered": answered[0]}


def bench_bind(work: pathlib.Path, records: int, changed: set[int]) -> dict:
    keys = work / "bind-keys"
    keys.mkdir(parents=True)
    run(["dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", str(keys), ZONE])
    unsigned = work / "bind.zone"
    unsigned.write_text(HEAD.format(serial=1) + "".join(body(records, set())))
    signed = work / "bind.zone.signed"
    common = ["dnssec-signzone", "-z", "-S", "-K", str(keys), "-d", str(work), "-o", ZONE, "-N", "keep"]
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
    return {"full_s": full, "incr_s": incr}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="A records in the zone (one name each)")
    parser.add_argument("--changed", type=int, default=10, help="records changed for the incremental reload")
    args = parser.parse_args()
    if shutil.which("dnssec-signzone") is None:
        print("bench: dnssec-signzone is missing (apt-get install bind9-utils)", file=sys.stderr)
        return 2
    changed = set(random.Random(1).sample(range(args.records), args.changed))
    work = pathlib.Path(tempfile.mkdtemp(prefix="hp-bench-sign-"))
    try:
        ours = bench_ours(work, args.records, changed)
        bind = bench_bind(work, args.records, changed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nzone: {args.records + 4} records, signed: {ours['records']} records (ECDSAP256SHA256, NSEC, CSK), "
          f"{os.cpu_count()} CPUs\n")
    print(f"{'':28}{'hiddenprimary':>15}{'dnssec-signzone':>17}{'ratio':>9}")
    print(f"{'full sign, s':28}{ours['full_s']:>15.2f}{bind['full_s']:>17.2f}{ours['full_s'] / bind['full_s']:>8.1f}x")
    print(f"{f'{args.changed} records changed, s':28}{ours['incr_s']:>15.2f}{bind['incr_s']:>17.2f}"
          f"{ours['incr_s'] / bind['incr_s']:>8.2f}x")
    print(f"\nduring the full sign another zone answered {ours['probe_answered']} queries, "
          f"the slowest in {ours['probe_worst_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
