"""Benchmark of issue 13: hiddenprimary side by side with BIND, Knot and NSD, same zone, same run.

For each zone size (a deterministic mix of A/AAAA/CNAME/MX/TXT, scripts/bench_zone.py), each
server is started on its own (config and zone file in a temp dir, 127.0.0.1, a free port,
`taskset -c 1`; dnsperf, the probe and the BIND secondary on core 0) and measured:

  start_s       process start -> the zone's SOA answers NOERROR with its serial
  pss_mib       PSS after load (/proc/PID/smaps_rollup, children summed), 1 s after that answer
  axfr_*        first AXFR after start, then a repeat (one raw TCP reader for every server)
  qps           dnsperf, UDP, every owner name of the zone (shuffled), the same seconds per server
  reload_s      10 records changed + serial bumped in the file, reload triggered (SIGHUP; Knot:
                knotc zone-reload ZONE) -> the new serial answered (SOA polled every 5 ms)
  probe_*       a second such reload while a thread sends 2,000 UDP queries/s (names of the zone,
                1 s timeout each): p99 and max latency (ms) and the queries lost, from the trigger
                until the new serial is served (at least 1 s)
  secondary_s   a BIND secondary (loopback, NOTIFYed by the primary) in sync, then a reload
                triggered -> the secondary answers the new serial (not NSD: it is no primary here)
  restart_s     last: the server stopped (SIGTERM) and started again on the same files and state
                (data_dir, journals) -> the zone's SOA answers its current serial

Ratios in the tables: hiddenprimary / the other server (for qps: the other / hiddenprimary), so
above 1 means hiddenprimary is behind; "vs best" against the best of the others, "vs goal"
against the server issue 13's goal names. Every wait is bounded: a figure that does not come in
time prints `timeout`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_measure import Probe, Timeout, axfr_seconds, dnsperf, wait_serial  # noqa: E402
from bench_servers import SERVERS, BindSecondary, Nsd, ServerProcess, free_port, tool  # noqa: E402
from bench_zone import BenchZone  # noqa: E402

USAGE = """\
  scripts/bench --quick              100k records (+ the reload -> secondary figure at 10k): ~1 min
  scripts/bench                      100k and 1M records (+ reload -> secondary at 10k and 1M): ~4 min
  scripts/bench --sizes 20000        every figure at the sizes given
  scripts/bench --json out.json      also write the figures as JSON
  scripts/bench signing [--records N] [--full] [--denial nsec3]   DNSSEC signing vs dnssec-signzone (scripts/bench_signing.py)
  scripts/bench zones [--zones 2000,10000]   many small zones vs BIND and Knot (scripts/bench_zones.py)
"""

PSS_SETTLE_S = 1.0  # after the first answer, before reading PSS
PROBE_MIN_S = 1.0   # the latency window: trigger -> new serial served, at least this long
MAIN = ("axfr", "qps", "reload", "probe", "restart")
PLANS = {   # zone size -> figure groups (start-up and PSS always)
    "quick": {10_000: ("secondary",), 100_000: MAIN},
    "full": {10_000: ("secondary",), 100_000: MAIN, 1_000_000: (*MAIN, "secondary")},
}


@dataclasses.dataclass(frozen=True)
class Figure:
    key: str
    label: str
    goal: str | None = None           # the server the goal compares with
    higher_is_better: bool = False
    ratio: bool = True


FIGURES = (
    Figure("start_s", "start -> first answer, s", "BIND"),
    Figure("restart_s", "restart (state kept) -> first answer, s", "BIND"),
    Figure("pss_mib", "memory PSS after load, MiB", "BIND"),
    Figure("reload_s", "reload 10 changed -> new serial, s", "Knot"),   # BIND at 1M: goal_of()
    Figure("secondary_s", "reload -> BIND secondary serves it, s", "Knot"),
    Figure("qps", "UDP queries/s (dnsperf, all names)", "BIND", higher_is_better=True),
    Figure("axfr_first_s", "first AXFR after start, s", "Knot"),
    Figure("axfr_repeat_s", "repeat AXFR, s"),
    Figure("probe_p99_ms", "p99 UDP latency during reload, ms"),
    Figure("probe_max_ms", "max UDP latency during reload, ms"),
    Figure("probe_lost", "queries lost during reload (of sent)", ratio=False),
)
GROUP_KEYS = {"start": ("start_s",), "pss": ("pss_mib",), "axfr": ("axfr_first_s", "axfr_repeat_s"),
              "qps": ("qps",), "reload": ("reload_s",), "probe": ("probe_p99_ms", "probe_max_ms", "probe_lost"),
              "secondary": ("secondary_s",), "restart": ("restart_s",)}


def goal_of(figure: Figure, size: int) -> str | None:
    if figure.key == "reload_s" and size >= 1_000_000:
        return "BIND"
    return figure.goal


@dataclasses.dataclass
class Cores:
    server: int | None   # taskset -c for every server
    client: int | None   # dnsperf, the BIND secondary, this script (probe, polling)


class ServerBench:
    """The figures of one server at one zone size, in order; a figure that fails or times out
    is recorded as such and the ones that need it are skipped."""

    def __init__(self, cls: type[ServerProcess], zone: BenchZone, groups: tuple[str, ...],
                 args: argparse.Namespace, work: pathlib.Path, cores: Cores, queries: pathlib.Path):
        self.zone, self.groups, self.args, self.cores, self.queries = zone, groups, args, cores, queries
        self.work = work
        notifies = "secondary" in groups and cls is not Nsd
        self.secondary_port = free_port() if notifies else None
        self.server = cls(work, zone.text(0), cpu=cores.server, notify_port=self.secondary_port)
        self.version = 0
        self.trigger = 0.0   # monotonic time of the last reload trigger
        self.out: dict[str, object] = {}

    def run(self) -> dict[str, object]:
        try:
            started = time.monotonic()
            self.server.start()
            ok = self._figure("start", lambda: {"start_s": self._wait(self.server.port, self.args.start_timeout,
                                                                     since=started)})
            if not ok:
                return self._skip_rest("not started")
            time.sleep(PSS_SETTLE_S)
            self.out["pss_mib"] = self.server.pss_mib()
            if "axfr" in self.groups:
                self._figure("axfr", self._axfr)
            if "qps" in self.groups:
                self._figure("qps", lambda: dnsperf(self.server.port, str(self.queries), self.args.seconds,
                                                    self.cores.client))
            if "reload" in self.groups and not self._figure("reload", lambda: {"reload_s": self._reload()}):
                return self._skip_rest("reload failed")
            if "probe" in self.groups and not self._figure("probe", self._probe):
                return self._skip_rest("reload failed")
            if "secondary" in self.groups:
                if self.secondary_port is None:
                    self.out["secondary_s"] = "n/a"
                else:
                    self._figure("secondary", self._secondary)
            if "restart" in self.groups:
                self._figure("restart", self._restart)
            return self.out
        finally:
            self.server.stop()

    # -- figures ----------------------------------------------------------------------------------

    def _figure(self, group: str, measure) -> bool:
        """Run one measurement; on timeout or error record that for its figures. True if it worked."""
        try:
            self.out.update(measure())
            return True
        except Timeout as e:
            failed, why = "timeout", str(e)
        except Exception as e:  # noqa: BLE001 - one figure failing must not stop the others
            failed, why = "error", f"{type(e).__name__}: {e}"
        print(f"  {self.server.label}: {group}: {why}\n    " + self.server.log_tail(8).replace("\n", "\n    "),
              file=sys.stderr)
        self.out.update({k: failed for k in GROUP_KEYS[group]})
        self.out.setdefault("errors", []).append(f"{group}: {why}")
        return False

    def _skip_rest(self, why: str) -> dict[str, object]:
        for group in ("pss", *self.groups):
            for key in GROUP_KEYS[group]:
                self.out.setdefault(key, why)
        return self.out

    def _wait(self, port: int, timeout: float, since: float | None = None,
              server: ServerProcess | None = None) -> float:
        """Seconds until `server` (default: the one measured) on `port` answers the current serial."""
        return wait_serial(port, self.zone.serial(self.version), timeout, since=since,
                           alive=(server or self.server).alive)

    def _restart(self) -> dict[str, float]:
        self.server.stop()
        started = time.monotonic()
        self.server.start()
        return {"restart_s": self._wait(self.server.port, self.args.start_timeout, since=started)}

    def _axfr(self) -> dict[str, float]:
        expected, timeout = self.zone.record_count(), self.args.axfr_timeout
        first = axfr_seconds(self.server.port, expected, timeout)
        return {"axfr_first_s": first, "axfr_repeat_s": axfr_seconds(self.server.port, expected, timeout)}

    def _reload(self, watch: ServerProcess | None = None, before_trigger=None) -> float:
        """Next version of the zone file, reload triggered: seconds until `watch` (default: the
        server measured) answers its serial."""
        self.version += 1
        text = self.zone.text(self.version)
        if before_trigger is not None:
            before_trigger()
        self.server.set_zone(text)
        self.trigger = time.monotonic()
        self.server.reload()
        self.out["trigger_s"] = max(self.out.get("trigger_s", 0.0), time.monotonic() - self.trigger)
        watch = watch or self.server
        return self._wait(watch.port, self.args.reload_timeout, since=self.trigger, server=watch)

    def _probe(self) -> dict[str, object]:
        probe = Probe(self.server.port, self.zone.probe_names(), rate=self.args.probe_rate)
        try:
            seconds = self._reload(before_trigger=lambda: (probe.start(), time.sleep(1.0)))
            time.sleep(max(0.0, self.trigger + PROBE_MIN_S - time.monotonic()))
        finally:
            if probe.sent:
                probe.stop()
        window = probe.window(self.trigger, self.trigger + max(seconds, PROBE_MIN_S))
        return {**window, "probe_reload_s": seconds}

    def _secondary(self) -> dict[str, float]:
        secondary = BindSecondary(self.work, self.server.port, cpu=self.cores.client, port=self.secondary_port)
        try:
            started = time.monotonic()
            secondary.start()
            sync = self._wait(secondary.port, self.args.reload_timeout, since=started, server=secondary)
            return {"secondary_sync_s": sync, "secondary_s": self._reload(watch=secondary)}
        finally:
            secondary.stop()


# -- the tables -------------------------------------------------------------------------------------

def show(value: object) -> str:
    if isinstance(value, str) or value is None:
        return value or "-"
    if isinstance(value, int):
        return str(value)
    v = float(value)
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def ratio(figure: Figure, ours: object, other: object) -> float | None:
    if not figure.ratio or not isinstance(ours, (int, float)) or not isinstance(other, (int, float)):
        return None
    num, den = (other, ours) if figure.higher_is_better else (ours, other)
    return num / den if den else None


def table(size: int, results: dict[str, dict], columns: list[str]) -> str:
    others = [c for c in columns if c != "hiddenprimary"]
    width = 14
    lines = [f"zone of {size:,} records".ljust(40) + "".join(c.rjust(width) for c in columns)
             + "vs best".rjust(16) + "vs goal".rjust(16)]
    for figure in FIGURES:
        cells = {c: results.get(c, {}).get(figure.key) for c in columns}
        if all(v is None for v in cells.values()):
            continue
        if figure.key == "probe_lost":
            text = {c: f"{v}/{results[c].get('probe_sent', '?')}" if isinstance(v, int) else show(v)
                    for c, v in cells.items()}
        else:
            text = {c: show(v) for c, v in cells.items()}
        ours = cells.get("hiddenprimary")
        numeric = [(c, cells[c]) for c in others if isinstance(cells[c], (int, float))]
        best = ""
        if numeric and figure.ratio:
            pick = max if figure.higher_is_better else min
            name, value = pick(numeric, key=lambda cv: cv[1])
            r = ratio(figure, ours, value)
            best = f"{r:.2f}x {name}" if r is not None else ""
        goal, goal_text = goal_of(figure, size), ""
        if goal:
            r = ratio(figure, ours, cells.get(goal))
            goal_text = f"{r:.2f}x {goal}" if r is not None else ""
        lines.append((figure.label.ljust(40) + "".join(text[c].rjust(width) for c in columns)
                      + best.rjust(16) + goal_text.rjust(16)).rstrip())
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------------

def versions() -> dict[str, str]:
    found = {}
    for name, argv in (("BIND", ["named", "-v"]), ("Knot", ["knotd", "-V"]), ("NSD", ["nsd", "-v"]),
                       ("dnsperf", ["dnsperf", "-h"])):
        try:
            out = subprocess.run([tool(argv[0]), *argv[1:]], capture_output=True, text=True, timeout=10)
            text = (out.stdout + out.stderr).strip().splitlines()
            found[name] = next((line for line in text if "ersion" in line or "BIND" in line), text[0])
        except (RuntimeError, OSError, subprocess.SubprocessError, IndexError):
            found[name] = "missing"
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    found["hiddenprimary"] = f"git {git.stdout.strip() or '?'}"
    return found


def pick_cores(pin: bool) -> Cores:
    cores = sorted(os.sched_getaffinity(0))
    if not pin or len(cores) < 2:
        return Cores(None, None)
    os.sched_setaffinity(0, {cores[0]})   # this script: probe, polling, AXFR reader
    return Cores(server=cores[1], client=cores[0])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0], usage=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="100k records (+ reload -> secondary at 10k)")
    parser.add_argument("--sizes", help="comma-separated record counts: every figure at each")
    parser.add_argument("--servers", default=",".join(c.label for c in SERVERS),
                        help="which columns (default: %(default)s)")
    parser.add_argument("--seconds", type=int, default=None, help="dnsperf run per server (default 5 quick, 10)")
    parser.add_argument("--probe-rate", type=float, default=2000.0, help="probe queries per second")
    parser.add_argument("--start-timeout", type=float, default=1800.0, help="s, start -> first answer")
    parser.add_argument("--reload-timeout", type=float, default=1800.0, help="s, reload -> new serial")
    parser.add_argument("--axfr-timeout", type=float, default=900.0, help="s, one AXFR")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and clients to cores")
    parser.add_argument("--json", type=pathlib.Path, help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 5 if args.quick else 10
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.sizes:
        plan = {int(s): (*MAIN, "secondary") for s in args.sizes.split(",")}
    else:
        plan = PLANS["quick" if args.quick else "full"]
    wanted = args.servers.split(",")
    classes = [c for c in SERVERS if c.label in wanted]
    if len(classes) != len(wanted):
        print(f"bench: --servers takes {', '.join(c.label for c in SERVERS)}", file=sys.stderr)
        return 2
    try:
        for name in ("dnsperf", "taskset", "named", "knotd", "knotc", "nsd"):
            tool(name)
    except RuntimeError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    cores = pick_cores(not args.no_pin)
    report = {"meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": dataclasses.asdict(cores),
                       "dnsperf_seconds": args.seconds, "probe_rate": args.probe_rate, "versions": versions()},
              "sizes": {}}
    work = pathlib.Path(tempfile.mkdtemp(prefix="hp-bench-"))
    began = time.monotonic()
    try:
        for size, groups in sorted(plan.items()):
            print(f"\n{size:,} records: {', '.join(('start', 'pss', *groups))}", file=sys.stderr)
            zone = BenchZone(size)
            queries = work / f"queries-{size}.txt"
            queries.write_text(zone.queries())
            results = report["sizes"][str(size)] = {}
            for cls in classes:
                t = time.monotonic()
                bench = ServerBench(cls, zone, groups, args, work / f"{size}-{cls.slug}", cores, queries)
                results[cls.label] = bench.run()
                print(f"  {cls.label}: {time.monotonic() - t:.0f}s", file=sys.stderr)
            print("\n" + table(size, results, [c.label for c in classes]), flush=True)
            report["meta"]["elapsed_s"] = round(time.monotonic() - began)
            if args.json:
                args.json.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nratios: hiddenprimary / server (qps: server / hiddenprimary), above 1 = hiddenprimary behind; "
          f"servers on core {cores.server}, clients on core {cores.client}; dnsperf {args.seconds}s per server; "
          f"probe {args.probe_rate:.0f} q/s; took {time.monotonic() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
