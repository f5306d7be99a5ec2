"""The servers scripts/bench.py compares, each a process it starts itself: its own config and
zone file in a temp dir, 127.0.0.1 on a free port, optionally pinned to one core with taskset,
stopped by its PID (SIGTERM, then SIGKILL after a bounded wait). Thread and process counts are
each server's defaults (under taskset: BIND 1 worker thread, Knot 2 UDP workers as it counts the
machine's cores, NSD 1 server process, hiddenprimary 1 process).

    server = Knot(work, zone_text, cpu=1, notify_port=secondary_port)
    server.start(); ...; server.set_zone(new_text); server.reload(); ...; server.stop()

One base class, `ServerProcess`, holds what every server shares; a subclass gives its command
line, its config and how it is told to reload."""

from __future__ import annotations

import ctypes
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap
import time


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tests.helpers import free_port, stop_process  # noqa: E402

ZONE = "example.com"
LOOPBACK = "127.0.0.1"


def tool(name: str) -> str:
    """Path of a program; named, knotd and nsd live in /usr/sbin, which a PATH may lack."""
    path = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if path is None:
        raise RuntimeError(f"{name} is not installed (scripts/bench installs it as root on Debian)")
    return path


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """If the benchmark dies without stopping it, the kernel sends the server SIGTERM."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (from /proc/PID/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in pathlib.Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except OSError:
                pass
    return found


def pss_mib(pid: int) -> float:
    """Proportional set size of `pid` and its children, MiB (/proc/PID/smaps_rollup)."""
    total_kb = 0
    for p in descendants(pid):
        try:
            for line in pathlib.Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            pass  # exited meanwhile
    return total_kb / 1024


class ServerProcess:
    """A DNS server process in its own directory under `work`, on 127.0.0.1:`port`, serving
    ZONE from `zone.db` (when given a zone text) and, with `notify_port`, sending NOTIFY to
    127.0.0.1:notify_port after a change."""

    label = "server"     # column name in the tables
    slug = "server"      # directory and log name

    def __init__(self, work: pathlib.Path, zone_text: str | None = None, *, cpu: int | None = None,
                 notify_port: int | None = None, port: int | None = None):
        self.dir = work / self.slug
        self.dir.mkdir(parents=True)
        self.port = port or free_port()
        self.cpu = cpu
        self.notify_port = notify_port
        self.zone_path = self.dir / "zone.db"
        if zone_text is not None:
            self.set_zone(zone_text)
        self.log_path = self.dir / f"{self.slug}.log"
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._pids: list[int] = []

    # -- what a subclass gives ----------------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        """Tell the server to re-read its zone file; returns once told (not once done)."""
        self.signal(signal.SIGHUP)

    def env(self) -> dict[str, str] | None:
        return None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.write_config()
        self._log = open(self.log_path, "ab")
        pin = ["taskset", "-c", str(self.cpu)] if self.cpu is not None else []
        self.proc = subprocess.Popen(pin + self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.dir, env=self.env(),
                                     preexec_fn=_die_with_parent)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)

    def pss_mib(self) -> float:
        self._pids = descendants(self.proc.pid)
        return pss_mib(self.proc.pid)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM by PID, wait, then SIGKILL; children seen earlier that outlive it get SIGKILL too."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            children = [p for p in descendants(self.proc.pid) if p != self.proc.pid]
            stop_process(self.proc, timeout)
            for pid in set(children + self._pids) - {self.proc.pid}:
                self._kill_orphan(pid)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _kill_orphan(self, pid: int) -> None:
        """SIGKILL a child of ours left behind, if that PID is still the same server program."""
        try:
            cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if os.path.basename(self.command()[0]).encode() in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    # -- zone and log -------------------------------------------------------------------------

    def set_zone(self, text: str) -> None:
        """Replace the zone file atomically, with an mtime at least a second after the old one's
        (BIND and NSD reload a file only when its mtime changed)."""
        old = self.zone_path.stat().st_mtime if self.zone_path.exists() else 0.0
        tmp = self.zone_path.with_suffix(".tmp")
        tmp.write_text(text)
        mtime = max(time.time(), old + 1.0)
        os.utime(tmp, (mtime, mtime))
        tmp.rename(self.zone_path)

    def log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n".join(tail)


class HiddenPrimary(ServerProcess):
    """The daemon, as tests/integration/harness.py starts it: `python -m hiddenprimary -c CONF`
    with this interpreter (and its PYTHONPATH); SIGHUP reloads every zone (as hpctl reload)."""

    label = "hiddenprimary"
    slug = "hiddenprimary"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "hiddenprimary", "-c", str(self.dir / "hiddenprimary.yaml")]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def write_config(self) -> None:
        notify = f', notify: ["{LOOPBACK}:{self.notify_port}"]' if self.notify_port else ""
        (self.dir / "hiddenprimary.yaml").write_text(textwrap.dedent(f"""\
            listen: ["{LOOPBACK}:{self.port}"]
            control: var/hpctl.sock
            data_dir: var
            log_level: info
            limits: {{reload_timeout_s: 3600}}
            secondaries:
              all: {{allow: [127.0.0.0/8]{notify}}}
            zones:
              {ZONE}: {{file: {self.zone_path}, secondaries: [all]}}
            """))


class Bind(ServerProcess):
    """named in the foreground (-g); primary with ixfr-from-differences (so a
    reload from the file gives its secondaries an IXFR, as hiddenprimary's journal and Knot's
    zonefile-load: difference do). Reloaded by SIGHUP: `rndc reload ZONE` took up to 40 s to
    return while named (one thread) answered 2,000 queries/s, SIGHUP never."""

    label = "BIND"
    slug = "bind"

    def command(self) -> list[str]:
        return [tool("named"), "-g", "-4", "-c", str(self.dir / "named.conf")]

    def zone_block(self) -> str:
        return f'zone "{ZONE}" {{ type primary; file "{self.zone_path}"; }};\n'

    def role_options(self) -> str:
        if self.notify_port is None:
            return "ixfr-from-differences yes; notify no;"
        # notify-delay 0: NOTIFY at once after each reload (the default waits 5 s after the last).
        return (f"ixfr-from-differences yes; notify explicit; notify-delay 0; "
                f"also-notify {{ {LOOPBACK} port {self.notify_port}; }};")

    def write_config(self) -> None:
        d = self.dir
        (d / "named.conf").write_text(textwrap.dedent(f"""\
            options {{
                directory "{d}";
                pid-file "{d}/named.pid";
                session-keyfile "{d}/session.key";
                managed-keys-directory "{d}";
                dump-file "{d}/named_dump.db";
                statistics-file "{d}/named.stats";
                listen-on port {self.port} {{ {LOOPBACK}; }};
                listen-on-v6 {{ none; }};
                recursion no; dnssec-validation no;
                allow-transfer {{ 127.0.0.0/8; }};
                allow-notify {{ 127.0.0.0/8; }};
                {self.role_options()}
            }};
            controls {{ }};
            """) + self.zone_block())


class BindSecondary(Bind):
    """named as a secondary of the primary on 127.0.0.1:`primary_port`, zone kept in memory only
    (no file): it answers the new serial once the IXFR (or AXFR) after a NOTIFY is in."""

    label = "BIND secondary"
    slug = "bind-secondary"

    def __init__(self, work: pathlib.Path, primary_port: int, *, cpu: int | None = None, port: int | None = None):
        super().__init__(work, None, cpu=cpu, port=port)
        self.primary_port = primary_port

    def role_options(self) -> str:
        return "notify no;"

    def zone_block(self) -> str:
        return f'zone "{ZONE}" {{ type secondary; primaries {{ {LOOPBACK} port {self.primary_port}; }}; }};\n'


class Knot(ServerProcess):
    """knotd; zonefile-load: difference (a reload
    keeps the change in the journal, for IXFR); `knotc zone-reload ZONE` (returns once queued)."""

    label = "Knot"
    slug = "knot"

    def command(self) -> list[str]:
        return [tool("knotd"), "-c", str(self.dir / "knot.conf")]

    def write_config(self) -> None:
        d = self.dir
        remote = notify = ""
        if self.notify_port is not None:
            remote = f"remote:\n  - id: secondary\n    address: {LOOPBACK}@{self.notify_port}\n\n"
            notify = "    notify: [secondary]\n"
        (d / "knot.conf").write_text(
            f"server:\n    rundir: {d}\n    pidfile: {d}/knot.pid\n    listen: {LOOPBACK}@{self.port}\n"
            "\n"
            f"control:\n    listen: {d}/knot.sock\n\n"
            "log:\n  - target: stderr\n    any: info\n\n"
            f"database:\n    storage: {d}\n    journal-db: {d}/journal\n    timer-db: {d}/timers\n"
            f"    kasp-db: {d}/keys\n\n"
            + remote
            + "acl:\n  - id: transfer\n    address: 127.0.0.0/8\n    action: transfer\n\n"
            f"zone:\n  - domain: {ZONE}\n    file: {self.zone_path}\n    acl: [transfer]\n"
            "    zonefile-sync: -1\n    zonefile-load: difference\n    journal-content: changes\n" + notify)

    def reload(self) -> None:
        subprocess.run([tool("knotc"), "-s", str(self.dir / "knot.sock"), "-t", "10", "zone-reload", ZONE],
                       capture_output=True, timeout=30, check=True)


class Nsd(ServerProcess):
    """nsd in the foreground (-d), zone files only (no database, no
    remote-control, so no nsd-control-setup); SIGHUP re-reads the zone files whose mtime changed."""

    label = "NSD"
    slug = "nsd"

    def command(self) -> list[str]:
        return [tool("nsd"), "-d", "-c", str(self.dir / "nsd.conf")]

    def write_config(self) -> None:
        d = self.dir
        (d / "nsd.conf").write_text(textwrap.dedent(f"""\
            server:
                ip-address: {LOOPBACK}@{self.port}
                port: {self.port}
                do-ip6: no
                username: ""
                chroot: ""
                zonesdir: "{d}"
                database: ""
                pidfile: "{d}/nsd.pid"
                xfrdfile: "{d}/xfrd.state"
                xfrdir: "{d}"
                zonelistfile: "{d}/zone.list"
                logfile: "{d}/nsd-file.log"
                verbosity: 1
            remote-control:
                control-enable: no
            zone:
                name: {ZONE}
                zonefile: "{self.zone_path}"
                provide-xfr: 127.0.0.0/8 NOKEY
            """))


SERVERS: tuple[type[ServerProcess], ...] = (Bind, Knot, Nsd, HiddenPrimary)
