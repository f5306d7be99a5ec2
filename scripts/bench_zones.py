"""Many small zones: hiddenprimary side by side with BIND 9.18 and Knot 3.x, same zones, same run.

For each zone count N (`--zones 2000`, or several: `--zones 2000,10000`) the zones z00001.bench.
... are written as one file per zone, 52 records each (SOA, NS ns1 and ns2 with their in-zone
glue A records, `www` A, and 46 names of a deterministic mix of A/AAAA/MX/TXT/CNAME), the same
text for every server (each server gets its own copy of the files: a server's edits and journals
never reach the next one). Each server is started on its own, one after the other (its config,
state and run files in a temp dir, 127.0.0.1, free ports, `taskset -c` the server core as
scripts/bench does; this script, its polling thread and the control commands on the client
core), in a process group of its own (stopped by its PID, the group killed if anything of it is
left), and measured:

  start_s         process start -> every zone answers its SOA with the file's serial, NOERROR.
                  A client thread polls every zone over UDP from one non-blocking socket (queries
                  matched by DNS ID, at most --poll-window in flight, at most --poll-rate a
                  second in all): a zone not answered within 50 ms, or answered otherwise
                  (SERVFAIL, REFUSED, an old serial), is asked again 50 ms later; a zone once
                  right is not asked again. The time is when the last zone answered right.
  rss_mib         1 s after that: VmRSS (/proc/PID/status) of the server and its child processes,
                  summed (pages shared between them counted in each)
  pss_mib         the same moment: PSS (/proc/PID/smaps_rollup), summed (shared pages split)
  fds             the same moment: open file descriptors of the server and its children
  data_dir_mib    then: the server's state directory, allocated size (du: st_blocks * 512 of
  data_dir_files  every regular file) and its count of regular files. Zone files live elsewhere
                  and are never counted, nor are run files (pid file, control socket, rndc.conf).
                  hiddenprimary: its `data_dir` (per zone a sqlite journal with its -wal/-shm
                  files and the loaded text; activity and served-serial databases);
                  BIND: its `directory` (zone journals are pointed there with `journal`; at
                  start BIND has written little or nothing there);
                  Knot: its `storage` with journal-db, timer-db and kasp-db below it (LMDB)
  reload_none_s   every zone reloaded, none changed: the control command's own duration, start
                  to exit (exit status 0 required):
                    hiddenprimary `hpctl -c CONF reload` (re-reads the config and every zone
                      file; returns once every zone's reload is done; a file whose bytes did not
                      change is read and hashed, not parsed);
                    BIND `rndc reload` (config and every zone whose file's mtime changed; returns
                      once named has re-read its config and queued the zone loads, it does not
                      wait for them);
                    Knot `knotc -b zone-reload` (every zone, blocking: returns once every zone's
                      reload event is done; zone-reload re-reads each file, mtime or not)
  reload_one_s    one zone's file edited (its `www` A record changed, serial 1 -> 2, mtime a
                  second on) and every zone reloaded by the same command -> the edited zone
                  answers serial 2 (its SOA polled every 5 ms), from the trigger
  reload_one_cmd_s  that command's own return, from the same trigger (for BIND it may come
                  before the new serial is served, for the others not)
  stop_s          SIGTERM -> the process exited (bounded; then SIGKILL and `timeout`)
  restart_s       started again on the same files and state (journals, data_dir) -> every zone
                  answers its current serial (the edited one: 2), polled as start_s; then (JSON
                  only) data_dir_end_mib/_files, the state directory measured again
  catalog_add_s   a zone added to a catalog producer's config -> a BIND 9.18 secondary that
                  learns it from the catalog answers its SOA with its serial, NOERROR. Measured
                  after the figures above, for hiddenprimary and for Knot as producers (the
                  BIND column stays empty: BIND is the consumer), each started anew on fresh
                  copies of the zone files, state empty:
                    the producer: every zone a member of catalog.invalid (RFC 9432 version 2,
                      made by the producer from its config); the catalog's secondary is the
                      consumer, NOTIFY'd; the members only let it transfer; TSIG key
                      `bench-xfr` (hmac-sha256) between them for everything.
                      hiddenprimary: `catalogs: {catalog.invalid: {secondaries: [consumer]}}`
                        (consumer: allow, key, notify 127.0.0.1:PORT), each zone
                        `secondaries: [transfer], catalog: catalog.invalid` (transfer: allow,
                        key), `notify_source: 127.0.0.1`;
                      Knot: zone catalog.invalid `catalog-role: generate`, `notify:` the
                        consumer (a remote with the key), each zone `catalog-role: member`,
                        `catalog-zone: catalog.invalid.`, transfer ACL with the key.
                    the consumer: named with the catalog as its only zone (a secondary of the
                      producer, with the key) and `catalog-zones { zone "catalog.invalid"
                      default-primaries { 127.0.0.1 port PORT key "bench-xfr"; } zone-directory
                      ... min-update-interval 1; }`; also `server 127.0.0.1 { tcp-only yes; }`
                      (Knot 3.2 answers no UDP query for a generated catalog, REFUSED, and a
                      refresh that gets it fails: named asks either producer over TCP),
                      serial-query-rate 1000 and transfers-per-ns 10 (defaults 20 and 2: the
                      first sync of N zones in seconds). named runs on the client core.
                  Steps: the producer started -> every zone answers it (polled as start_s) and
                  an AXFR of its catalog lists the N members -> named started -> every zone
                  answers on named (polled as start_s) -> 2 s pause (named defers a catalog
                  update that comes within min-update-interval of the last) -> zone N+1's file
                  written (a zone like the others, serial 1), its block added to the config
                  (file replaced atomically), and the producer told, when the clock starts:
                    hiddenprimary `hpctl -c CONF reload` (re-reads the config and every zone
                      file: the new zone is loaded, then the catalog's new serial NOTIFY'd);
                    Knot `knotc reload` (re-reads knot.conf and changed zone files: the new
                      zone is loaded, the generated catalog updated and NOTIFY'd)
                  -> the new zone's SOA on named, polled every 5 ms, answers serial 1 (bounded:
                  60 s, else `timeout`). JSON also: catalog_add_cmd_s (the trigger command's
                  own return, from the same moment), catalog_producer_start_s, catalog_sync_s
                  (named started -> every zone answered there), catalog_elapsed_s,
                  catalog_other_cpu_s, and both servers' log problems. `--no-catalog` skips it.

Ratios: hiddenprimary / BIND and hiddenprimary / Knot (above 1: hiddenprimary takes longer or
more). The goal column holds the issue's goals: start_s and rss_mib <= 1.0x BIND; reload_one_s
<= 0.5 s at 2,000 zones; catalog_add_s <= 1.0x Knot as producer. Every wait is bounded: a figure
that does not come in time prints `timeout` (and the figures that need it are skipped).

Other processes of the machine compete for its cores: each server's run reports (stderr, and
`other_cpu_s` in the JSON) the CPU seconds used meanwhile by processes that are not this script
or its children (/proc/stat minus getrusage); the table's note names the largest.

Descriptors: hiddenprimary keeps a sqlite journal open per zone (3 descriptors each); when the
servers' RLIMIT_NOFILE (inherited from this script) is below 4 per zone + 4,096, the soft limit
(and, where allowed: root with CAP_SYS_RESOURCE, the hard one) is raised in each server's child
before exec (all servers alike), and the run says so; where the hard limit cannot be raised the
soft one goes up to it and the servers live with that."""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import heapq
import json
import os
import pathlib
import random
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.tsig  # noqa: E402

from bench import Cores, pick_cores, show, versions  # noqa: E402
from bench_measure import Timeout  # noqa: E402
from bench_servers import (LOOPBACK, Bind, HiddenPrimary, Knot, ServerProcess, _die_with_parent,  # noqa: E402
                           descendants, free_port, pss_mib, tool)

USAGE = """\
  scripts/bench zones                      2,000 zones of 52 records: ~1.5 min (--no-catalog: ~1 min)
  scripts/bench zones --zones 2000,10000   each size in turn (start timeout: 0.15 s a zone, at least 300 s)
  scripts/bench zones --json out.json      also write the figures as JSON
  scripts/bench zones --servers hiddenprimary,BIND --keep   some servers; keep the temp dir
"""

SETTLE_S = 1.0          # after every zone answered, before reading RSS/PSS
RETRY_S = 0.05          # a zone not answered right is asked again after this
EDIT_POLL_S = 0.005     # the edited zone's SOA, during reload_one
STOP_TIMEOUT_S = 60.0   # SIGTERM -> exit, then SIGKILL
INTERRUPTED_STOP_S = 5.0   # the same when this script is interrupted (Ctrl-C, SIGTERM)
RECORDS = 52
SERIAL = 1


# -- the zones ----------------------------------------------------------------------------------------

def zone_name(i: int) -> str:
    return f"z{i:05d}.bench."


def zone_text(i: int, serial: int = SERIAL, edited: bool = False) -> str:
    """Zone number `i` (from 1): 52 records, the same for every server; `edited` changes `www`."""
    rng = random.Random(i * 7919 + 13)
    lines = [f"$ORIGIN {zone_name(i)}", "$TTL 3600",
             f"@ IN SOA ns1 hostmaster {serial} 3600 600 1209600 300",
             "@ IN NS ns1", "@ IN NS ns2",
             f"ns1 IN A 10.{i >> 8 & 255}.{i & 255}.1", f"ns2 IN A 10.{i >> 8 & 255}.{i & 255}.2",
             f"www IN A 192.0.2.{2 if edited else 1}"]
    kinds = ("A", "AAAA", "MX", "TXT", "CNAME")
    for j in range(RECORDS - 6):
        kind = rng.choices(kinds, (40, 20, 10, 15, 15))[0]
        data = {"A": f"10.{i >> 8 & 255}.{i & 255}.{10 + j}",
                "AAAA": f"2001:db8:{i:x}::{j + 1:x}",
                "MX": "10 www",
                "TXT": f'"bench zone {i} record {j} {rng.getrandbits(64):016x}"',
                "CNAME": "www"}[kind]
        lines.append(f"h{j} IN {kind} {data}")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class ZoneSet:
    count: int

    @property
    def names(self) -> list[str]:
        return [zone_name(i) for i in range(1, self.count + 1)]

    @property
    def edited(self) -> int:
        """The zone edited for reload_one: the middle one."""
        return (self.count + 1) // 2

    def file_name(self, i: int) -> str:
        return zone_name(i)[:-1] + ".zone"   # Knot's template names it %s.zone, %s without the dot


# -- the servers --------------------------------------------------------------------------------------

def nofile_needed(zones: int) -> int:
    return 4 * zones + 4096


def nofile_plan(zones: int) -> tuple[tuple[int, int] | None, str]:
    """RLIMIT_NOFILE for the servers' children, or None to leave it; and a line saying what."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = nofile_needed(zones)
    inf = resource.RLIM_INFINITY
    if soft == inf or soft >= need:
        return None, ""
    if hard == inf or hard >= need:
        return (need, hard), f"servers' RLIMIT_NOFILE soft limit raised {soft} -> {need} (hard {hard})"
    try:
        cap = int(pathlib.Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        cap = need
    target = min(need, cap)
    probe = subprocess.run([sys.executable, "-c", "import resource, sys; "
                            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({target}, {target}))"],
                           capture_output=True, timeout=30)
    if probe.returncode == 0:   # root with CAP_SYS_RESOURCE
        return (target, target), f"servers' RLIMIT_NOFILE raised {soft}/{hard} -> {target}/{target}"
    return ((hard, hard) if soft < hard else None), (
        f"servers' RLIMIT_NOFILE: {need} wanted, the hard limit {hard} cannot be raised here (no CAP_SYS_RESOURCE); "
        + (f"soft limit {soft} -> {hard}" if soft < hard else f"left at {hard}"))


class ZonesServer(ServerProcess):
    """What the three servers share here: N zone files in `zones/`, state in `state/`, run files
    (pid file, control socket) in `run/`; started in a process group of its own with its
    RLIMIT_NOFILE set before exec; stopped by PID, then anything left in its group killed."""

    def __init__(self, work: pathlib.Path, zones: ZoneSet, texts: list[str], *, cpu: int | None,
                 nofile: tuple[int, int] | None):
        super().__init__(work, None, cpu=cpu)
        self.zones = zones
        self.nofile = nofile
        self.zone_dir, self.state_dir, self.run_dir = self.dir / "zones", self.dir / "state", self.dir / "run"
        for d in (self.zone_dir, self.state_dir, self.run_dir):
            d.mkdir()
        for i, text in enumerate(texts, 1):
            (self.zone_dir / zones.file_name(i)).write_text(text)

    def zone_path_of(self, i: int) -> pathlib.Path:
        return self.zone_dir / self.zones.file_name(i)

    def edit(self, i: int, text: str) -> None:
        """Replace zone `i`'s file atomically, its mtime at least a second after the old one's
        (BIND reloads only files whose mtime changed)."""
        path = self.zone_path_of(i)
        old = path.stat().st_mtime
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        mtime = max(time.time(), old + 1.0)
        os.utime(tmp, (mtime, mtime))
        tmp.rename(path)

    def reload_command(self, timeout: float) -> list[str]:
        raise NotImplementedError

    # -- life cycle: a process group of its own -------------------------------------------------

    def _child_setup(self) -> None:  # pragma: no cover - runs in the child between fork and exec
        _die_with_parent()
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)

    def start(self) -> None:
        self.write_config()
        self._log = open(self.log_path, "ab")
        pin = ["taskset", "-c", str(self.cpu)] if self.cpu is not None else []
        self.proc = subprocess.Popen(pin + self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.dir, env=self.env(),
                                     start_new_session=True, preexec_fn=self._child_setup)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> float | None:
        """SIGTERM by PID and wait (then SIGKILL); then SIGKILL to whatever is left in its process
        group. Returns the seconds SIGTERM -> exit, None if it had to be killed or was not running."""
        if self.proc is None:
            return None
        took = None
        if self.proc.poll() is None:
            began = time.monotonic()
            super().stop(timeout)
            took = time.monotonic() - began if self.proc.returncode != -signal.SIGKILL else None
        else:
            super().stop(timeout)
        group = self.proc.pid   # start_new_session: the group's id is the server's PID
        if any(_pgid(p) == group for p in _pids()):
            try:
                os.killpg(group, signal.SIGKILL)
            except OSError:
                pass
        return took

    def usage(self) -> dict[str, float]:
        rss_kb, fds = 0, 0
        for p in descendants(self.proc.pid):
            try:
                for line in pathlib.Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss_kb += int(line.split()[1])
                        break
                fds += len(os.listdir(f"/proc/{p}/fd"))
            except OSError:
                pass   # exited meanwhile
        return {"rss_mib": rss_kb / 1024, "pss_mib": pss_mib(self.proc.pid), "fds": fds}

    def state_usage(self) -> dict[str, float]:
        size, files = 0, 0
        for dirpath, _dirs, names in os.walk(self.state_dir):
            for name in names:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if (st.st_mode & 0o170000) == 0o100000:   # regular files only (not sockets, links)
                    size += st.st_blocks * 512
                    files += 1
        return {"data_dir_mib": size / 2**20, "data_dir_files": files}


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


class HpZones(ZonesServer, HiddenPrimary):
    def write_config(self) -> None:
        zones = "".join(f"  {zone_name(i)[:-1]}: {{file: {self.zone_path_of(i)}, secondaries: [all]}}\n"
                        for i in range(1, self.zones.count + 1))
        (self.dir / "hiddenprimary.yaml").write_text(textwrap.dedent(f"""\
            listen: ["{LOOPBACK}:{self.port}"]
            control: {self.run_dir}/hpctl.sock
            data_dir: {self.state_dir}
            log_level: info
            limits: {{reload_timeout_s: 3600}}
            secondaries:
              all: {{allow: [127.0.0.0/8]}}
            zones:
            """) + zones)

    def reload_command(self, timeout: float) -> list[str]:
        hpctl = pathlib.Path(sys.executable).parent / "hpctl"
        return [str(hpctl), "-c", str(self.dir / "hiddenprimary.yaml"), "--timeout", str(int(timeout)), "reload"]


def _named_files(state: pathlib.Path, run: pathlib.Path, port: int) -> str:
    """The options every named of this benchmark has: its files in its state and run folders,
    loopback only, no recursion or validation (indented for the options block)."""
    return (f'    directory "{state}";\n'
            f'    pid-file "{run}/named.pid";\n'
            f'    session-keyfile "{run}/session.key";\n'
            f'    managed-keys-directory "{state}";\n'
            f'    dump-file "{run}/named_dump.db";\n'
            f'    statistics-file "{run}/named.stats";\n'
            f"    listen-on port {port} {{ {LOOPBACK}; }};\n"
            "    listen-on-v6 { none; };\n"
            "    recursion no; dnssec-validation no;\n")


class BindZones(ZonesServer, Bind):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.control_port = free_port()
        self.rndc_secret = base64.b64encode(hashlib.sha256(os.urandom(32)).digest()).decode()

    def write_config(self) -> None:
        d, s, r = self.dir, self.state_dir, self.run_dir
        key = f'key "bench-rndc" {{ algorithm hmac-sha256; secret "{self.rndc_secret}"; }};\n'
        zones = "".join(f'zone "{zone_name(i)[:-1]}" {{ type primary; file "{self.zone_path_of(i)}"; '
                        f'journal "{s}/{zone_name(i)[:-1]}.jnl"; }};\n' for i in range(1, self.zones.count + 1))
        (d / "named.conf").write_text(
            "options {\n" + _named_files(s, r, self.port)
            + "    allow-transfer { 127.0.0.0/8; };\n    ixfr-from-differences yes; notify no;\n};\n" + key + f'controls {{ inet {LOOPBACK} port {self.control_port} allow {{ {LOOPBACK}; }} '
            f'keys {{ "bench-rndc"; }}; }};\n' + zones)
        (r / "rndc.conf").write_text(key + f'options {{ default-key "bench-rndc"; default-server {LOOPBACK}; '
                                     f'default-port {self.control_port}; }};\n')

    def reload_command(self, timeout: float) -> list[str]:
        return [tool("rndc"), "-c", str(self.run_dir / "rndc.conf"), "reload"]


class KnotZones(ZonesServer, Knot):
    def write_config(self) -> None:
        s, r = self.state_dir, self.run_dir
        zones = "".join(f"  - domain: {zone_name(i)}\n" for i in range(1, self.zones.count + 1))
        (self.dir / "knot.conf").write_text(
            f"server:\n    rundir: {r}\n    pidfile: {r}/knot.pid\n    listen: {LOOPBACK}@{self.port}\n\n"
            f"control:\n    listen: {r}/knot.sock\n    timeout: 3600\n\n"
            "log:\n  - target: stderr\n    any: info\n\n"
            f"database:\n    storage: {s}\n    journal-db: {s}/journal\n    timer-db: {s}/timers\n"
            f"    kasp-db: {s}/keys\n\n"
            "acl:\n  - id: transfer\n    address: 127.0.0.0/8\n    action: transfer\n\n"
            f"template:\n  - id: default\n    file: {self.zone_dir}/%s.zone\n    acl: [transfer]\n"
            "    zonefile-sync: -1\n    zonefile-load: difference\n    journal-content: changes\n\n"
            "zone:\n" + zones)

    def reload_command(self, timeout: float) -> list[str]:
        return [tool("knotc"), "-s", str(self.run_dir / "knot.sock"), "-t", str(int(timeout)), "-b", "zone-reload"]


SERVERS: tuple[type[ZonesServer], ...] = (BindZones, KnotZones, HpZones)


# -- catalog_add_s: catalog producers and their BIND consumer ---------------------------------------

CATALOG = "catalog.invalid"
CATALOG_KEY = "bench-xfr"           # TSIG between the BIND consumer and either producer
CATALOG_ADD_TIMEOUT_S = 60.0        # the trigger -> BIND serves the new zone
CATALOG_READY_TIMEOUT_S = 30.0      # the producer's catalog lists every member (after they answer)
CATALOG_QUIET_S = 2.0               # consumer synced -> the trigger: past BIND's min-update-interval 1


def _write_atomically(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.rename(path)


class CatalogProducer(ZonesServer):
    """A producer of the catalog zone CATALOG whose members are zones 1..`members` (the zone
    files of the other figures, copies of its own); the catalog's secondary is the BIND consumer
    on 127.0.0.1:`consumer_port` (NOTIFY, TSIG `key`), the members only allow it to transfer (with
    the key). `add_member` writes the next zone's file and config block; `add_command` tells the
    producer."""

    def __init__(self, *a, key: tuple[str, str], consumer_port: int, **kw):
        super().__init__(*a, **kw)
        self.key, self.consumer_port = key, consumer_port
        self.members = self.zones.count

    def add_member(self) -> int:
        i = self.members + 1
        _write_atomically(self.zone_path_of(i), zone_text(i))
        self.members = i
        self.write_config()
        return i

    def add_command(self, timeout: float) -> list[str]:
        raise NotImplementedError


class HpCatalog(CatalogProducer, HpZones):
    def write_config(self) -> None:
        name, secret = self.key
        zones = "".join(f"  {zone_name(i)[:-1]}: {{file: {self.zone_path_of(i)}, secondaries: [transfer], "
                        f"catalog: {CATALOG}}}\n" for i in range(1, self.members + 1))
        _write_atomically(self.dir / "hiddenprimary.yaml", textwrap.dedent(f"""\
            listen: ["{LOOPBACK}:{self.port}"]
            control: {self.run_dir}/hpctl.sock
            data_dir: {self.state_dir}
            log_level: info
            limits: {{reload_timeout_s: 3600}}
            notify_source: {LOOPBACK}
            tsig:
              {name}: {{algorithm: hmac-sha256, secret: "{secret}"}}
            secondaries:
              consumer: {{allow: [127.0.0.0/8], key: {name}, notify: ["{LOOPBACK}:{self.consumer_port}"]}}
              transfer: {{allow: [127.0.0.0/8], key: {name}}}
            catalogs:
              {CATALOG}: {{secondaries: [consumer]}}
            zones:
            """) + zones)

    def add_command(self, timeout: float) -> list[str]:
        return self.reload_command(timeout)   # hpctl -c CONF reload: re-reads the config


class KnotCatalog(CatalogProducer, KnotZones):
    def write_config(self) -> None:
        s, r = self.state_dir, self.run_dir
        name, secret = self.key
        zones = "".join(f"  - domain: {zone_name(i)}\n    catalog-role: member\n    catalog-zone: {CATALOG}.\n"
                        for i in range(1, self.members + 1))
        _write_atomically(self.dir / "knot.conf",
            f"server:\n    rundir: {r}\n    pidfile: {r}/knot.pid\n    listen: {LOOPBACK}@{self.port}\n\n"
            f"control:\n    listen: {r}/knot.sock\n    timeout: 3600\n\n"
            "log:\n  - target: stderr\n    any: info\n\n"
            f"database:\n    storage: {s}\n    journal-db: {s}/journal\n    timer-db: {s}/timers\n"
            f"    kasp-db: {s}/keys\n    catalog-db: {s}/catalog\n\n"
            f"key:\n  - id: {name}\n    algorithm: hmac-sha256\n    secret: {secret}\n\n"
            f"remote:\n  - id: consumer\n    address: {LOOPBACK}@{self.consumer_port}\n    key: {name}\n\n"
            f"acl:\n  - id: transfer\n    address: 127.0.0.0/8\n    key: {name}\n    action: transfer\n\n"
            f"template:\n  - id: default\n    file: {self.zone_dir}/%s.zone\n    acl: [transfer]\n"
            "    zonefile-sync: -1\n    zonefile-load: difference\n    journal-content: changes\n\n"
            f"zone:\n  - domain: {CATALOG}.\n    catalog-role: generate\n    notify: [consumer]\n" + zones)

    def add_command(self, timeout: float) -> list[str]:
        # reload: the config file again (the new zone is loaded, the catalog regenerated)
        return [tool("knotc"), "-s", str(self.run_dir / "knot.sock"), "-t", str(int(timeout)), "reload"]


CATALOG_PRODUCERS: tuple[type[CatalogProducer], ...] = (KnotCatalog, HpCatalog)


class BindCatalogConsumer(ZonesServer, Bind):
    """named (9.18) with the catalog zone as its only configured zone, a secondary of the producer
    on 127.0.0.1:`producer_port` (TSIG), and `catalog-zones` naming it: every member zone comes
    from the catalog, its primary the same producer (default-primaries). The member zones are
    kept in state/catz (zone-directory). Refresh rates raised for N zones at once (the same for
    either producer): serial-query-rate 1000 (default 20 SOA queries a second), transfers-per-ns
    10 (default 2; hiddenprimary answers SERVFAIL past limits.transfers_out, 20)."""

    label = "BIND consumer"
    slug = "bind-consumer"

    def __init__(self, work: pathlib.Path, *, key: tuple[str, str], cpu: int | None,
                 nofile: tuple[int, int] | None):
        super().__init__(work, ZoneSet(0), [], cpu=cpu, nofile=nofile)
        self.key = key
        self.producer_port: int | None = None

    def write_config(self) -> None:
        s, r = self.state_dir, self.run_dir
        name, secret = self.key
        (s / "catz").mkdir(exist_ok=True)
        primary = f'{LOOPBACK} port {self.producer_port} key "{name}"'
        (self.dir / "named.conf").write_text(
            f'key "{name}" {{ algorithm hmac-sha256; secret "{secret}"; }};\noptions {{\n'
            + _named_files(s, r, self.port) + textwrap.dedent(f"""\
                notify no;
                serial-query-rate 1000; transfers-in 10; transfers-per-ns 10;
                catalog-zones {{
                    zone "{CATALOG}" default-primaries {{ {primary}; }}
                        zone-directory "{s}/catz" min-update-interval 1;
                }};
            }};
            controls {{ }};
            server {LOOPBACK} {{ tcp-only yes; }};
            zone "{CATALOG}" {{ type secondary; file "{CATALOG}.db"; primaries {{ {primary}; }}; }};
            """))


# -- polling every zone's SOA -------------------------------------------------------------------------

def _serial_of(wire: bytes, name: dns.name.Name) -> int | None:
    """The SOA serial of an answer about `name` (NOERROR), else None."""
    try:
        answer = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    if answer.rcode() != dns.rcode.NOERROR or not answer.question or answer.question[0].name != name:
        return None
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == name:
            return rrset[0].serial
    return None


def wait_zones(port: int, names: list[str], serials: list[int], timeout: float, *, since: float,
               alive: Callable[[], bool], retry: float = RETRY_S, window: int = 64, rate: float = 20000.0,
               stop: threading.Event | None = None, stats: dict | None = None) -> float:
    """Seconds from `since` until every zone in `names` has answered its SOA with its serial in
    `serials` (NOERROR). One connected, non-blocking UDP socket (a port nobody listens on yet
    answers with ICMP, which is ignored); at most `window` queries unanswered and `rate` sent a
    second; a zone unanswered after `retry` s, or answered wrong, is asked again after `retry` s
    (a late answer still counts). Raises Timeout after `timeout` s."""
    deadline = since + timeout
    qnames = [dns.name.from_text(n) for n in names]
    wires = [dns.message.make_query(n, "SOA").to_wire() for n in names]
    done = [False] * len(names)
    left = len(names)
    queued = [True] * len(names)
    ready = [(0.0, i) for i in range(len(names))]    # heap of (not before, zone index)
    owner: dict[int, int] = {}                         # DNS id -> zone index (the latest query with it)
    inflight: dict[int, float] = {}                    # DNS id -> sent at, until answered or `retry` old
    order: deque[tuple[float, int]] = deque()          # (sent at, id), oldest first
    qid, sent, gap, next_send = 0, 0, 1.0 / rate, 0.0
    last_alive = 0.0

    def later(i: int, at: float) -> None:
        if not done[i] and not queued[i]:
            queued[i] = True
            heapq.heappush(ready, (at, i))

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            s.connect((LOOPBACK, port))
            s.setblocking(False)
            while left:
                now = time.monotonic()
                if now >= deadline or (stop is not None and stop.is_set()):
                    missing = [names[i] for i in range(len(names)) if not done[i]]
                    raise Timeout(f"{left} of {len(names)} zones not answering their serial within {timeout:.0f}s "
                                  f"(e.g. {', '.join(missing[:3])})")
                if now - last_alive > 0.1:
                    last_alive = now
                    if not alive():
                        raise RuntimeError(f"server exited ({left} of {len(names)} zones not answering yet)")
                while order and order[0][0] + retry <= now:        # unanswered for `retry`: ask again
                    at, q = order.popleft()
                    if inflight.get(q) == at:
                        del inflight[q]
                        later(owner[q], now)
                while ready and ready[0][0] <= now and len(inflight) < window and next_send <= now:
                    _, i = heapq.heappop(ready)
                    queued[i] = False
                    if done[i]:
                        continue
                    while True:
                        qid = (qid + 1) & 0xFFFF
                        if qid not in inflight:
                            break
                    try:
                        s.send(struct.pack("!H", qid) + wires[i][2:])
                    except BlockingIOError:
                        later(i, now)
                        break
                    except OSError:
                        pass   # ECONNREFUSED of an earlier query: this one counts as unanswered
                    owner[qid], inflight[qid] = i, now
                    order.append((now, qid))
                    sent += 1
                    next_send = max(next_send + gap, now - 0.01)
                wake = deadline
                if order:
                    wake = min(wake, order[0][0] + retry)
                if ready and len(inflight) < window:
                    wake = min(wake, max(ready[0][0], next_send))
                wait = max(0.0, min(wake, now + 0.1) - time.monotonic())
                if wait > 0:
                    select.select([s], [], [], wait)
                while True:
                    try:
                        data = s.recv(4096)
                    except BlockingIOError:
                        break
                    except OSError:
                        continue   # ECONNREFUSED: nothing listens on the port yet
                    if len(data) < 12:
                        continue
                    q = struct.unpack_from("!H", data)[0]
                    i = owner.get(q)
                    if i is None or done[i]:
                        inflight.pop(q, None)
                        continue
                    inflight.pop(q, None)
                    if _serial_of(data, qnames[i]) == serials[i]:
                        done[i] = True
                        left -= 1
                    else:
                        later(i, time.monotonic() + retry)
    finally:
        if stats is not None:
            stats["queries"] = stats.get("queries", 0) + sent
    return time.monotonic() - since


def in_thread(measure: Callable[[threading.Event], float], limit: float, stop: threading.Event | None = None) -> float:
    """Run `measure` on a client thread; this thread waits (Ctrl-C works), at most `limit` s.
    `measure` is handed an event that is set to make it give up (also by whoever holds `stop`)."""
    out: dict[str, object] = {}
    stop = stop or threading.Event()

    def body() -> None:
        try:
            out["value"] = measure(stop)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            out["error"] = e

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    ends = time.monotonic() + limit
    try:
        while thread.is_alive() and time.monotonic() < ends:
            thread.join(0.2)
    finally:
        stop.set()
    thread.join(5)
    if "error" in out:
        raise out["error"]
    if "value" not in out:
        raise Timeout(f"no result within {limit:.0f}s")
    return out["value"]


def run_command(argv: list[str], timeout: float) -> float:
    """Seconds the command took; RuntimeError unless it exits 0, Timeout after `timeout`."""
    began = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Timeout(f"{os.path.basename(argv[0])} did not return within {timeout:.0f}s") from None
    took = time.monotonic() - began
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{os.path.basename(argv[0])} exited {done.returncode}: " + " | ".join(tail))
    return took


def trigger_and_wait(argv: list[str], port: int, name: str, serial: int, timeout: float,
                     alive: Callable[[], bool], command_timeout: float) -> tuple[float, float]:
    """Run `argv` (the trigger; the clock starts just before it) on a thread of its own while
    this one polls `name`'s SOA on 127.0.0.1:`port` every EDIT_POLL_S until it answers `serial`
    (NOERROR). Returns (seconds to that answer, seconds to the command's exit 0), both from the
    trigger. Timeout after `timeout` s (or when the command returned and the answer never came);
    the command's error if it failed (polling goes on 5 s more, then stops)."""
    ended: dict[str, object] = {}
    give_up = threading.Event()   # the command failed: poll 5 s more, then stop

    def command() -> None:
        try:
            run_command(argv, command_timeout)
            ended["at"] = time.monotonic()
        except Exception as e:  # noqa: BLE001 - reported below
            ended["error"] = e
            timer = threading.Timer(5.0, give_up.set)
            timer.daemon = True
            timer.start()

    trigger = time.monotonic()
    thread = threading.Thread(target=command, daemon=True)
    thread.start()
    seen: float | Exception
    try:
        seen = in_thread(lambda stop: wait_zones(port, [name], [serial], timeout, since=trigger, alive=alive,
                                                 retry=EDIT_POLL_S, window=1, stop=stop),
                         timeout + 10, stop=give_up)
    except Timeout as e:
        seen = e
    finally:
        limit = trigger + command_timeout + 10
        while thread.is_alive() and time.monotonic() < limit:
            thread.join(0.2)
    if "error" in ended:
        raise ended["error"]
    if isinstance(seen, Exception):
        raise seen
    if "at" not in ended:
        raise Timeout("the trigger command did not return")
    return seen, ended["at"] - trigger


# -- one server, one size -------------------------------------------------------------------------------

GROUP_KEYS = {"start": ("start_s",), "usage": ("rss_mib", "pss_mib", "fds"),
              "data_dir": ("data_dir_mib", "data_dir_files"), "reload_none": ("reload_none_s",),
              "reload_one": ("reload_one_s", "reload_one_cmd_s"), "restart": ("stop_s", "restart_s")}


class ZonesBench:
    def __init__(self, cls: type[ZonesServer], zones: ZoneSet, texts: list[str], args: argparse.Namespace,
                 work: pathlib.Path, cores: Cores, nofile: tuple[int, int] | None):
        self.zones, self.args = zones, args
        self.server = cls(work, zones, texts, cpu=cores.server, nofile=nofile)
        self.names = zones.names
        self.serials = [SERIAL] * zones.count
        self.start_timeout = args.start_timeout or max(300.0, 0.15 * zones.count)
        self.reload_timeout = args.reload_timeout or max(300.0, 0.15 * zones.count)
        self.out: dict[str, object] = {}
        self.poll: dict[str, int] = {}

    def run(self) -> dict[str, object]:
        try:
            if not self._figure("start", lambda: {"start_s": self._start()}):
                return self._skip_rest("not started")
            time.sleep(SETTLE_S)
            self._figure("usage", self.server.usage)
            self._figure("data_dir", self.server.state_usage)
            if not self._figure("reload_none", lambda: {"reload_none_s": run_command(
                    self.server.reload_command(self.reload_timeout), self.reload_timeout + 30)}):
                return self._skip_rest("reload failed")
            if not self._figure("reload_one", self._reload_one):
                return self._skip_rest("reload failed")
            self._figure("restart", self._restart)
            return self.out
        except (KeyboardInterrupt, SystemExit):
            self.server.stop(INTERRUPTED_STOP_S)   # interrupted: do not wait long for it
            raise
        finally:
            self.server.stop()
            self.out["poll_queries"] = self.poll.get("queries", 0)
            self.out["log_problems"] = log_problems(self.server)

    def _figure(self, group: str, measure) -> bool:
        try:
            self.out.update(measure())
            return True
        except Timeout as e:
            failed, why = "timeout", str(e)
        except Exception as e:  # noqa: BLE001 - one figure failing must not stop the others
            failed, why = "error", f"{type(e).__name__}: {e}"
        print(f"  {self.server.label}: {group}: {why}\n    " + self.server.log_tail(8).replace("\n", "\n    "),
              file=sys.stderr)
        for key in GROUP_KEYS[group]:
            self.out.setdefault(key, failed)
        self.out.setdefault("errors", []).append(f"{group}: {why}")
        return False

    def _skip_rest(self, why: str) -> dict[str, object]:
        for keys in GROUP_KEYS.values():
            for key in keys:
                self.out.setdefault(key, why)
        return self.out

    def _all_zones(self, since: float) -> float:
        a = self.args
        return in_thread(lambda stop: wait_zones(self.server.port, self.names, self.serials, self.start_timeout,
                                                 since=since, alive=self.server.alive, window=a.poll_window,
                                                 rate=a.poll_rate, stop=stop, stats=self.poll),
                         self.start_timeout + 10)

    def _start(self) -> float:
        started = time.monotonic()
        self.server.start()
        return self._all_zones(started)

    def _reload_one(self) -> dict[str, float]:
        i = self.zones.edited
        self.server.edit(i, zone_text(i, SERIAL + 1, edited=True))
        self.serials[i - 1] = SERIAL + 1
        seen, cmd = trigger_and_wait(self.server.reload_command(self.reload_timeout), self.server.port,
                                     self.names[i - 1], SERIAL + 1, self.reload_timeout, self.server.alive,
                                     self.reload_timeout + 30)
        return {"reload_one_s": seen, "reload_one_cmd_s": cmd}

    def _restart(self) -> dict[str, object]:
        stop_s = self.server.stop()
        self.out["stop_s"] = "timeout" if stop_s is None else stop_s
        restart_s = self._start()
        end = self.server.state_usage()   # JSON only: the state dir after the reloads and restart
        return {"restart_s": restart_s, "data_dir_end_mib": end["data_dir_mib"],
                "data_dir_end_files": end["data_dir_files"]}


def catalog_members(port: int, key: tuple[str, str], timeout: float = 10.0) -> int | None:
    """How many members the catalog on 127.0.0.1:`port` lists (AXFR, TSIG-signed with `key`: Knot
    answers no plain query for a catalog zone), None if it does not transfer it (yet)."""
    keyring = dns.tsig.Key(key[0], key[1], "hmac-sha256")
    members = 0
    try:
        for message in dns.query.xfr(LOOPBACK, CATALOG + ".", port=port, keyring={keyring.name: keyring},
                                     keyname=keyring.name, lifetime=timeout):
            members += sum(len(rrset) for rrset in message.answer if rrset.rdtype == dns.rdatatype.PTR)
    except (dns.exception.DNSException, OSError, EOFError):
        return None
    return members


def catalog_add(cls: type[CatalogProducer], zones: ZoneSet, texts: list[str], args: argparse.Namespace,
                work: pathlib.Path, cores: Cores, nofile: tuple[int, int] | None) -> dict[str, object]:
    """catalog_add_s for one producer: the producer (every zone a member of CATALOG) started and
    serving every zone and the catalog; then the BIND consumer started and serving every member;
    then one zone added to the producer's config and the producer told -> BIND serves it."""
    key = (CATALOG_KEY, base64.b64encode(os.urandom(32)).decode())
    consumer = BindCatalogConsumer(work, key=key, cpu=cores.client, nofile=nofile)
    producer = cls(work, zones, texts, cpu=cores.server, nofile=nofile, key=key, consumer_port=consumer.port)
    consumer.producer_port = producer.port
    start_timeout = args.start_timeout or max(300.0, 0.15 * zones.count)
    sync_timeout = max(120.0, 0.05 * zones.count)
    command_timeout = args.reload_timeout or max(300.0, 0.15 * zones.count)
    out: dict[str, object] = {}
    poll: dict[str, int] = {}
    names, serials = zones.names, [SERIAL] * zones.count

    def both_alive() -> bool:
        return producer.alive() and consumer.alive()

    def every_zone(port: int, timeout: float, since: float, alive: Callable[[], bool]) -> float:
        return in_thread(lambda stop: wait_zones(port, names, serials, timeout, since=since, alive=alive,
                                                 window=args.poll_window, rate=args.poll_rate, stop=stop,
                                                 stats=poll), timeout + 10)

    step = "start"
    try:
        began = time.monotonic()
        producer.start()
        out["catalog_producer_start_s"] = every_zone(producer.port, start_timeout, began, producer.alive)
        ends = time.monotonic() + CATALOG_READY_TIMEOUT_S
        while catalog_members(producer.port, key) != zones.count:
            if not producer.alive():
                raise RuntimeError("the producer exited")
            if time.monotonic() > ends:
                raise Timeout(f"the producer's {CATALOG} does not list the {zones.count} members "
                              f"within {CATALOG_READY_TIMEOUT_S:.0f}s")
            time.sleep(0.1)
        step = "sync"
        began = time.monotonic()
        consumer.start()
        out["catalog_sync_s"] = every_zone(consumer.port, sync_timeout, began, both_alive)
        time.sleep(CATALOG_QUIET_S)   # else BIND defers the catalog's next update ("came too soon")
        step = "add"
        i = producer.add_member()
        seen, cmd = trigger_and_wait(producer.add_command(command_timeout), consumer.port, zone_name(i), SERIAL,
                                     CATALOG_ADD_TIMEOUT_S, both_alive, command_timeout)
        out["catalog_add_s"], out["catalog_add_cmd_s"] = seen, cmd
    except (KeyboardInterrupt, SystemExit):
        consumer.stop(INTERRUPTED_STOP_S)
        producer.stop(INTERRUPTED_STOP_S)
        raise
    except Exception as e:  # noqa: BLE001 - reported; the other producer still runs
        failed = "timeout" if isinstance(e, Timeout) else "error"
        why = str(e) if isinstance(e, Timeout) else f"{type(e).__name__}: {e}"
        print(f"  {producer.label} -> BIND (catalog): {step}: {why}", file=sys.stderr)
        for server in (producer, consumer):
            print(f"    {server.label}:\n      " + server.log_tail(8).replace("\n", "\n      "), file=sys.stderr)
        out.setdefault("catalog_add_s", failed if step == "add" else f"{step} {failed}")
        out["catalog_error"] = f"{step}: {why}"
    finally:
        consumer.stop()
        producer.stop()
        out["catalog_poll_queries"] = poll.get("queries", 0)
        out["catalog_log_problems"] = log_problems(producer)
        out["catalog_consumer_log_problems"] = log_problems(consumer)
    return out


def log_problems(server: ZonesServer, limit: int = 5) -> dict[str, object]:
    """Log lines that look like warnings or errors: how many, and the first few distinct ones."""
    try:
        lines = server.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return {"count": 0, "first": []}
    words = ("error", "warning", "failed", "traceback", "exception", "fd_limit", "too many open files")
    bad = [line for line in lines if any(w in line.lower() for w in words) and "built with" not in line]
    first: list[str] = []
    for line in bad:
        if line not in first and len(first) < limit:
            first.append(line[:300])
    return {"count": len(bad), "first": first}


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds every process of the machine has used, those this script and its waited-for
    children used): their growth over a run, subtracted, is what other processes took meanwhile."""
    fields = pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    machine = (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        ours += r.ru_utime + r.ru_stime
    return machine, ours


# -- the table -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Row:
    key: str
    label: str
    goal: Callable[[dict, int], tuple[str, bool] | None] | None = None


def _goal_vs_bind(key: str):
    def goal(cells: dict, zones: int) -> tuple[str, bool] | None:
        ours, bind = cells.get("hiddenprimary"), cells.get("BIND")
        if not isinstance(ours, (int, float)) or not isinstance(bind, (int, float)) or not bind:
            return None
        return "<= 1.0x BIND", ours / bind <= 1.0
    return goal


def _goal_reload(cells: dict, zones: int) -> tuple[str, bool] | None:
    ours = cells.get("hiddenprimary")
    if zones != 2000 or not isinstance(ours, (int, float)):
        return None
    return "<= 0.5 s", ours <= 0.5


def _goal_vs_knot_producer(cells: dict, zones: int) -> tuple[str, bool] | None:
    ours, knot = cells.get("hiddenprimary"), cells.get("Knot")
    if not isinstance(ours, (int, float)) or not isinstance(knot, (int, float)) or not knot:
        return None
    return "<= 1.0x Knot-as-producer", ours / knot <= 1.0


ROWS = (
    Row("start_s", "start -> every zone's SOA, s", _goal_vs_bind("start_s")),
    Row("rss_mib", "RSS 1 s after, MiB", _goal_vs_bind("rss_mib")),
    Row("pss_mib", "PSS 1 s after, MiB"),
    Row("fds", "open file descriptors"),
    Row("data_dir_mib", "state dir after start, MiB (du)"),
    Row("data_dir_files", "state dir after start, files"),
    Row("reload_none_s", "reload all, none changed (command), s"),
    Row("reload_one_s", "reload all, 1 changed -> new serial, s", _goal_reload),
    Row("reload_one_cmd_s", "  that reload's command returned, s"),
    Row("stop_s", "stop: SIGTERM -> exit, s"),
    Row("restart_s", "restart -> every zone's SOA, s"),
    Row("catalog_add_s", "catalog: zone added -> BIND serves it, s", _goal_vs_knot_producer),
)


def table(zones: int, results: dict[str, dict], columns: list[str]) -> str:
    others = [c for c in ("BIND", "Knot") if c in columns and "hiddenprimary" in columns]
    width = 14
    head = f"{zones:,} zones of {RECORDS} records"
    lines = [head.ljust(40) + "".join(c.rjust(width) for c in columns)
             + "".join(f"hp/{c}".rjust(10) for c in others) + "   goal"]
    for row in ROWS:
        cells = {c: results.get(c, {}).get(row.key) for c in columns}
        if all(v is None for v in cells.values()):
            continue
        text = "".join(show(cells[c]).rjust(width) for c in columns)
        ours = cells.get("hiddenprimary")
        for c in others:
            other = cells.get(c)
            ok = isinstance(ours, (int, float)) and isinstance(other, (int, float)) and other
            text += (f"{ours / other:.2f}x" if ok else "-").rjust(10)
        goal = row.goal(cells, zones) if row.goal else None
        if goal is not None:
            text += f"   {goal[0]}: {'met' if goal[1] else 'MISSED'}"
        lines.append((row.label.ljust(40) + text).rstrip())
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench zones", description=__doc__.splitlines()[0], usage=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--zones", default="2000", help="zone counts, comma-separated (default: %(default)s)")
    parser.add_argument("--servers", default=",".join(c.label for c in SERVERS),
                        help="which columns (default: %(default)s)")
    parser.add_argument("--start-timeout", type=float, default=None,
                        help="s, start -> every zone answers (default: 300, or 0.15 s per zone if more)")
    parser.add_argument("--reload-timeout", type=float, default=None,
                        help="s, one reload command / new serial (default as --start-timeout)")
    parser.add_argument("--poll-window", type=int, default=64, help="SOA queries in flight at most")
    parser.add_argument("--poll-rate", type=float, default=20000.0, help="SOA queries a second at most")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and clients to cores")
    parser.add_argument("--no-catalog", action="store_true",
                        help="skip catalog_add_s (hiddenprimary and Knot as catalog producers, BIND consuming)")
    parser.add_argument("--json", type=pathlib.Path, help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs, state)")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.zones.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--zones takes zone counts, e.g. 2000,10000, not {args.zones!r}")
    if not args.sizes or min(args.sizes) < 1 or max(args.sizes) > 99_999:
        parser.error("--zones: each count 1..99999")
    return args


def _terminate(signum, frame):  # SIGTERM/SIGHUP: unwind through the `finally`s that stop servers
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    wanted = args.servers.split(",")
    classes = [c for c in SERVERS if c.label in wanted]
    if len(classes) != len(wanted):
        print(f"bench zones: --servers takes {', '.join(c.label for c in SERVERS)}", file=sys.stderr)
        return 2
    try:
        for name in ("taskset", "named", "rndc", "knotd", "knotc"):
            tool(name)
    except RuntimeError as e:
        print(f"bench zones: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    cores = pick_cores(not args.no_pin)
    found = versions()
    meta_versions = {k: found[k] for k in ("BIND", "Knot", "hiddenprimary")}
    package = subprocess.run([sys.executable, "-c", "import hiddenprimary; print(hiddenprimary.__file__)"],
                             capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout.strip()
    if pathlib.Path(package).parent != ROOT / "hiddenprimary":   # e.g. PYTHONPATH=another checkout
        meta_versions["hiddenprimary"] = f"from {pathlib.Path(package).parent}"
    elif subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "hiddenprimary"],
                        capture_output=True, text=True).stdout.strip():
        meta_versions["hiddenprimary"] += " + uncommitted changes in hiddenprimary/"
    report = {"meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cores": dataclasses.asdict(cores),
                       "poll_window": args.poll_window, "poll_rate": args.poll_rate, "versions": meta_versions,
                       "nofile": {}},
              "sizes": {}}
    work = pathlib.Path(tempfile.mkdtemp(prefix="hp-bench-zones-"))
    began = time.monotonic()
    notes: list[str] = []
    try:
        for count in args.sizes:
            zones = ZoneSet(count)
            texts = [zone_text(i) for i in range(1, count + 1)]
            nofile, note = nofile_plan(count)
            report["meta"]["nofile"][str(count)] = list(nofile) if nofile else None
            if note:
                notes.append(f"{count:,} zones: {note}")
                print(f"  {note}", file=sys.stderr)
            print(f"\n{count:,} zones: " + ", ".join(c.label for c in classes), file=sys.stderr)
            results = report["sizes"][str(count)] = {}
            for cls in classes:
                t, (machine, ours) = time.monotonic(), cpu_seconds()
                bench = ZonesBench(cls, zones, texts, args, work / f"{count}-{cls.slug}", cores, nofile)
                out = results[cls.label] = bench.run()
                machine_now, ours_now = cpu_seconds()
                out["elapsed_s"] = time.monotonic() - t
                out["other_cpu_s"] = max(0.0, (machine_now - machine) - (ours_now - ours))
                problems = out["log_problems"]
                print(f"  {cls.label}: {out['elapsed_s']:.0f}s, other processes used {out['other_cpu_s']:.1f} "
                      "CPU s meanwhile" + (f"; {problems['count']} warning/error log lines, e.g. {problems['first'][0]}"
                                           if problems["count"] else ""), file=sys.stderr)
            producers = [] if args.no_catalog else [c for c in CATALOG_PRODUCERS if c.label in wanted]
            if producers:
                print(f"\n{count:,} zones, catalog {CATALOG} -> BIND consumer: "
                      + ", ".join(c.label for c in producers), file=sys.stderr)
            for cls in producers:
                t, (machine, ours) = time.monotonic(), cpu_seconds()
                out = catalog_add(cls, zones, texts, args, work / f"{count}-catalog-{cls.slug}", cores, nofile)
                machine_now, ours_now = cpu_seconds()
                out["catalog_elapsed_s"] = time.monotonic() - t
                out["catalog_other_cpu_s"] = max(0.0, (machine_now - machine) - (ours_now - ours))
                results.setdefault(cls.label, {}).update(out)
                problems = [line for key in ("catalog_log_problems", "catalog_consumer_log_problems")
                            for line in out[key]["first"][:1]]
                print(f"  {cls.label} -> BIND: {out['catalog_elapsed_s']:.0f}s, other processes used "
                      f"{out['catalog_other_cpu_s']:.1f} CPU s meanwhile"
                      + (f"; warning/error log lines, e.g. {' | '.join(problems)}" if problems else ""),
                      file=sys.stderr)
            print("\n" + table(count, results, [c.label for c in classes]), flush=True)
            report["meta"]["elapsed_s"] = round(time.monotonic() - began)
            if args.json:
                args.json.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    for note in notes:
        print(note)
    busy = [(out.get(f"{pre}other_cpu_s", 0.0), out.get(f"{pre}elapsed_s", 0.0), f"{size} zones {label}{what}")
            for size, results in report["sizes"].items() for label, out in results.items()
            for pre, what in (("", ""), ("catalog_", " as catalog producer")) if f"{pre}elapsed_s" in out]
    if busy:
        cpu, elapsed, where = max(busy)
        print(f"other processes: at most {cpu:.1f} CPU s during one server's run ({where}, {elapsed:.0f} s)")
    print(f"\nratios: hiddenprimary / server, above 1 = hiddenprimary takes longer or more; servers on core "
          f"{cores.server}, clients on core {cores.client}; SOA polling <= {args.poll_window} in flight, "
          f"<= {args.poll_rate:.0f}/s; {meta_versions['BIND']}; {meta_versions['Knot']}; hiddenprimary "
          f"{meta_versions['hiddenprimary']}; took {time.monotonic() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
