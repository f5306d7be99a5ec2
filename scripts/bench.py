"""Side-by-side benchmark: hiddenprimary, BIND `named` and Knot `knotd` serving the same zone on
loopback, measured in the same run. Prints figures and ratios (ours / theirs).

  - UDP queries per second with dnsperf (existing names and NXDOMAIN mixed), each server for the
    same bounded time;
  - time of a full AXFR of the zone (dnspython reading it, the same client for every server);
  - time to load the zone at start.

Every server runs on 127.0.0.1 on a free port in a temp dir and is stopped by its PID."""

from __future__ import annotations

import argparse
import pathlib
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

from tests.integration.harness import Daemon, free_port  # noqa: E402
from tests.interop.peers import KnotPrimary  # noqa: E402

ZONE = "example.com"


def zone_text(hosts: int) -> str:
    body = "".join(f"h{i} A 10.{i // 65536}.{i // 256 % 256}.{i % 256}\n" for i in range(hosts))
    return ("$ORIGIN example.com.\n$TTL 300\n"
            "@ SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300\n"
            "  NS ns1.example.com.\nns1 A 192.0.2.1\nwww A 192.0.2.10\n" + body)


class BindPrimary:
    def __init__(self, workdir: pathlib.Path, text: str):
        self.dir = workdir
        self.dir.mkdir(parents=True)
        self.port = free_port()
        (self.dir / "zone.db").write_text(text)
        (self.dir / "named.conf").write_text(textwrap.dedent(f"""\
            options {{
                directory "{self.dir}";
                pid-file "{self.dir}/named.pid";
                listen-on port {self.port} {{ 127.0.0.1; }};
                listen-on-v6 {{ none; }};
                recursion no; notify no; dnssec-validation no;
                allow-transfer {{ 127.0.0.0/8; }};
            }};
            controls {{ }};
            zone "{ZONE}" {{ type primary; file "{self.dir}/zone.db"; }};
            """))
        self.proc = None

    def start(self) -> None:
        named = shutil.which("named") or "/usr/sbin/named"
        self.log = open(self.dir / "named.log", "wb")
        self.proc = subprocess.Popen([named, "-g", "-c", str(self.dir / "named.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_serving(port: int, timeout: float = 300.0) -> float:
    """Seconds until the zone's SOA answers NOERROR."""
    started = time.monotonic()
    q = dns.message.make_query(ZONE, "SOA")
    while time.monotonic() - started < timeout:
        try:
            if dns.query.udp(q, "127.0.0.1", port=port, timeout=0.3).rcode() == dns.rcode.NOERROR:
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.05)
    raise RuntimeError(f"port {port}: zone not served within {timeout}s")


def dnsperf_qps(port: int, queries_file: pathlib.Path, seconds: int) -> float:
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries_file),
                          "-l", str(seconds), "-c", "4", "-q", "200", "-t", "2"],
                         capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if "Queries per second" in line:
            return float(line.split(":")[1])
    raise RuntimeError(f"dnsperf printed no rate:\n{out.stdout}\n{out.stderr}")


def axfr_seconds(port: int, expected: int) -> tuple[float, int]:
    """Time to receive a whole AXFR, read raw (counting records from the message headers) so the
    client is never the bottleneck (Knot drops a reader that stalls for 500 ms)."""
    query = dns.message.make_query(ZONE, "AXFR").to_wire()
    started = time.monotonic()
    records = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(struct.pack("!H", len(query)) + query)
        stream = s.makefile("rb")
        while records < expected:
            head = stream.read(2)
            if len(head) < 2:
                raise EOFError(f"server closed after {records} records")
            (size,) = struct.unpack("!H", head)
            message = stream.read(size)
            if message[3] & 0x0F:
                raise RuntimeError(f"AXFR refused: rcode {message[3] & 0x0F}")
            records += struct.unpack_from("!H", message, 6)[0]
    return time.monotonic() - started, records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="A records in the zone")
    parser.add_argument("--seconds", type=int, default=5, help="dnsperf run per server")
    args = parser.parse_args()
    for tool in ("dnsperf", "named", "knotd"):
        if not (shutil.which(tool) or pathlib.Path(f"/usr/sbin/{tool}").exists()):
            print(f"bench: {tool} is missing (scripts/bench installs it as root on Debian)", file=sys.stderr)
            return 2

    text = zone_text(args.records)
    work = pathlib.Path(tempfile.mkdtemp(prefix="hp-bench-"))
    rng = random.Random(1)
    queries = work / "queries.txt"
    queries.write_text("".join(
        f"h{rng.randrange(args.records)}.example.com A\n" if rng.random() < 0.8 else
        f"nx{rng.randrange(10**6)}.example.com A\n" for _ in range(20_000)))

    ours = Daemon(work / "hiddenprimary", {ZONE: text},
                  extra_zone_config={ZONE: {"secondaries": "[all]"}},
                  extra_config="secondaries:\n  all: {allow: [127.0.0.0/8]}\n")
    bind = BindPrimary(work / "bind", text)
    knot = KnotPrimary(work / "knot", {ZONE: text})
    servers = [("hiddenprimary", ours, lambda: ours.port), ("BIND", bind, lambda: bind.port),
               ("Knot", knot, lambda: knot.port)]
    results: dict[str, dict[str, float]] = {}
    try:
        for name, server, port in servers:
            started = time.monotonic()
            if name == "hiddenprimary":
                server.start(timeout=300)
            else:
                server.start()
            wait_serving(port())
            load = time.monotonic() - started  # process start to the zone answering
            qps = dnsperf_qps(port(), queries, args.seconds)
            try:
                axfr_cold, records = axfr_seconds(port(), args.records + 5)
                axfr_warm, _ = axfr_seconds(port(), args.records + 5)
            except Exception as e:
                raise RuntimeError(f"{name}: AXFR failed: {e!r}") from e
            results[name] = {"load_s": load, "qps": qps, "axfr_cold_s": axfr_cold, "axfr_warm_s": axfr_warm,
                             "records": records}
            server.stop()
    finally:
        for _, server, _ in servers:
            try:
                server.stop()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nzone: {args.records + 4} records; dnsperf {args.seconds}s per server, 80% existing names, "
          f"20% NXDOMAIN; AXFR read raw by one client (cold = first after load, warm = second)\n")
    head = f"{'':16}{'load s':>10}{'UDP qps':>12}{'AXFR cold s':>13}{'AXFR warm s':>13}"
    print(head)
    for name, r in results.items():
        print(f"{name:16}{r['load_s']:>10.2f}{r['qps']:>12.0f}{r['axfr_cold_s']:>13.2f}{r['axfr_warm_s']:>13.2f}")
    ours_r = results["hiddenprimary"]
    for other in ("BIND", "Knot"):
        o = results[other]
        print(f"\nhiddenprimary / {other}: load time x{ours_r['load_s'] / o['load_s']:.1f}, "
              f"qps x{ours_r['qps'] / o['qps']:.2f}, AXFR time x{ours_r['axfr_cold_s'] / o['axfr_cold_s']:.2f} "
              f"(cold) x{ours_r['axfr_warm_s'] / o['axfr_warm_s']:.2f} (warm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
