"""Real DNS servers as peers of a primary on loopback: BIND `named` and Knot `knotd` as
SECONDARIES (to prove our AXFR/IXFR), and `knotd` as a reference PRIMARY (to check this harness).

Every peer runs in its own work directory (config, pid file, journal, control socket, log) on a
free high port of one loopback address, in the foreground, and is stopped by its PID. Nothing here
listens off 127.0.0.0/8 and nothing needs a fixed port.

    sec = BindSecondary(tmp / "bind", ["example.com"], primary_port, key=KEY, address="127.0.0.2")
    sec.start()
    sec.wait_serial("example.com", 2026112701)
    sec.transfers()          # ["AXFR"]
    sec.refresh("example.com"); sec.wait_serial("example.com", 2026112702)
    sec.transfers()          # ["AXFR", "IXFR"]
    sec.axfr("example.com")  # [(name, ttl, type, rdata), ...] sorted, to compare with records(text)
    sec.stop()
"""

from __future__ import annotations

import base64
import ctypes
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import textwrap
import time

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.zone

Key = tuple[str, str, str]          # (name, algorithm, secret in base64), e.g. ("xfr-key", "hmac-sha256", "...")
Record = tuple[str, int, str, str]  # (absolute owner name, ttl, type, rdata text with absolute names)

LOOPBACK = "127.0.0.1"


class PeerError(AssertionError):
    """A peer did not start, answer or converge in time; the message carries its log tail."""


def free_port(host: str = LOOPBACK) -> int:
    """A port free for both TCP and UDP on `host` (any 127.0.0.0/8 address works on Linux)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {host}")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (scripts/test installs it)")
    return path


def new_key(name: str = "xfr-key", algorithm: str = "hmac-sha256") -> Key:
    """A fresh random TSIG key."""
    return (name, algorithm, base64.b64encode(os.urandom(32)).decode())


def records(zone_text: str, origin: str) -> list[Record]:
    """The sorted (name, ttl, type, rdata) list of a zone file's text, in the same form as
    `axfr()` returns, so a transferred zone can be compared with the text it came from."""
    zone = dns.zone.from_text(textwrap.dedent(zone_text), origin=origin, relativize=False,
                              check_origin=False)
    return _zone_records(zone)


def _zone_records(zone: dns.zone.Zone) -> list[Record]:
    out = []
    for name, ttl, rdata in zone.iterate_rdatas():
        out.append((name.to_text(), ttl, dns.rdatatype.to_text(rdata.rdtype), rdata.to_text()))
    return sorted(out)


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") and socket.inet_aton(address) is not None


def local_addresses() -> set[str]:
    """The IPv4 addresses configured on this host's interfaces (Linux /proc/net/fib_trie).
    named only listens on such addresses; Knot and our server bind any 127.0.0.0/8 address."""
    found = set()
    try:
        lines = pathlib.Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        return {LOOPBACK}
    for prev, line in zip(lines, lines[1:]):
        if line.strip() == "/32 host LOCAL" and "|--" in prev:
            found.add(prev.split("|--")[1].strip())
    return found or {LOOPBACK}


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """If the test process dies without stopping us, the kernel sends the peer SIGTERM."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class _Peer:
    """What the secondaries (and the reference primary) share: a process, its log, queries."""

    kind = "peer"
    default_address = LOOPBACK

    def __init__(self, workdir: os.PathLike | str, zones: list[str], primary_port: int,
                 key: Key | None = None, address: str | None = None):
        self.dir = pathlib.Path(workdir).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.zones = [z.rstrip(".") for z in zones]
        self.primary_port = primary_port
        self.key = key
        self.address = address or self.default_address
        if not _is_loopback(self.address):
            raise ValueError(f"{self.address}: peers listen on 127.0.0.0/8 only")
        self.listen_address = self._listen_address()
        self.port = free_port(self.listen_address)
        self.log_path = self.dir / f"{self.kind}.log"
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    def _listen_address(self) -> str:
        return self.address

    @property
    def endpoint(self) -> str:
        """"host:port" where this peer answers queries, NOTIFY and transfers."""
        return f"{self.listen_address}:{self.port}"

    # -- life cycle -----------------------------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        raise NotImplementedError

    def _ready(self) -> bool:
        """True once the peer answers queries and its control channel works."""
        raise NotImplementedError

    def start(self, timeout: float = 15.0) -> None:
        self.write_config()
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, cwd=self.dir,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while not self._ready():
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise PeerError(f"{self.kind} on {self.endpoint} not ready in {timeout}s\n"
                                + self.log_tail())
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by PID, wait, SIGKILL if it does not exit. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.proc.returncode

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise PeerError(f"{self.kind} exited with status {self.proc.returncode}\n" + self.log_tail())

    # -- logs -------------------------------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        tail = self.log().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    def transfers(self, zone: str | None = None) -> list[str]:
        """The completed incoming transfers in the log, oldest first: ["AXFR", "IXFR", ...]."""
        raise NotImplementedError

    def wait_transfers(self, count: int, zone: str | None = None, timeout: float = 10.0) -> list[str]:
        """Wait until at least `count` transfers are logged (the log line may trail the serial)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.transfers(zone)
            if len(seen) >= count:
                return seen
            self._check_alive()
            if time.monotonic() > deadline:
                raise PeerError(f"{self.kind}: {len(seen)} transfers {seen}, wanted {count}, in {timeout}s\n"
                                + self.log_tail())
            time.sleep(0.05)

    # -- queries ----------------------------------------------------------------------------------

    def query(self, qname: str, rdtype: str = "SOA", *, tcp: bool = False,
              timeout: float = 1.0) -> dns.message.Message:
        q = dns.message.make_query(qname, rdtype)
        if tcp:
            return dns.query.tcp(q, self.listen_address, port=self.port, timeout=timeout)
        return dns.query.udp(q, self.listen_address, port=self.port, timeout=timeout)

    def serial(self, zone: str, timeout: float = 1.0) -> int | None:
        """The SOA serial this peer serves for `zone` over UDP; None if it does not answer or does
        not answer authoritatively with a SOA (SERVFAIL before the first transfer, REFUSED...)."""
        try:
            r = self.query(zone, "SOA", timeout=timeout)
        except (dns.exception.DNSException, OSError):
            return None
        if r.rcode() != dns.rcode.NOERROR:
            return None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.SOA and rrset.name == dns.name.from_text(zone):
                return rrset[0].serial
        return None

    def wait_serial(self, zone: str, serial: int, timeout: float = 10.0) -> None:
        """Poll until the peer serves `serial` for `zone`; raise PeerError with the log tail."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.serial(zone, timeout=0.5)
            if last == serial:
                return
            self._check_alive()
            if time.monotonic() > deadline:
                raise PeerError(f"{self.kind} {self.endpoint}: {zone} serial {last}, "
                                f"wanted {serial}, after {timeout}s\n" + self.log_tail())
            time.sleep(0.05)

    def axfr(self, zone: str, timeout: float = 5.0) -> list[Record]:
        """Transfer `zone` from this peer itself (unsigned; peers allow 127.0.0.0/8) and return its
        records as a sorted (name, ttl, type, rdata) list; see `records()`."""
        xfr = dns.query.xfr(self.listen_address, zone, port=self.port, timeout=timeout, lifetime=timeout,
                            relativize=False)
        return _zone_records(dns.zone.from_xfr(xfr, relativize=False, check_origin=False))

    # -- control ----------------------------------------------------------------------------------

    def refresh(self, zone: str) -> None:
        raise NotImplementedError

    def retransfer(self, zone: str) -> None:
        raise NotImplementedError

    def _run(self, argv: list[str], timeout: float = 10.0) -> str:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if r.returncode != 0:
            raise PeerError(f"{' '.join(argv)} -> {r.returncode}\n{r.stdout}{r.stderr}\n" + self.log_tail())
        return r.stdout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.endpoint} via {self.address} zones={self.zones} primary={self.primary_port}>"


# ------------------------------------------------------------------------------------------------
# BIND 9.18
# ------------------------------------------------------------------------------------------------

class BindSecondary(_Peer):
    """`named -g` (foreground, every log line to stderr -> bind.log) as a secondary of
    127.0.0.1@primary_port, listening on address@port, with rndc on address@control_port."""

    kind = "bind"
    default_address = "127.0.0.2"

    def __init__(self, workdir, zones, primary_port, key=None, address=None):
        super().__init__(workdir, zones, primary_port, key, address)
        require_tool("named")
        require_tool("rndc")
        self.control_port = free_port(self.address)
        while self.control_port == self.port and self.address == self.listen_address:
            self.control_port = free_port(self.address)
        self.conf = self.dir / "named.conf"
        self.rndc_conf = self.dir / "rndc.conf"
        self._rndc_secret = base64.b64encode(os.urandom(32)).decode()

    def _listen_address(self) -> str:
        # named listens only on addresses it finds on an interface (no IP_FREEBIND): 127.0.0.2
        # usually is not one (lo has 127.0.0.1/8), so it then answers on 127.0.0.1, a port of
        # its own. Its refresh queries and transfers still come from `address` (transfer-source).
        return self.address if self.address in local_addresses() else LOOPBACK

    def command(self) -> list[str]:
        # -g: foreground, logging forced to stderr (the logging{} statement is ignored), no -u.
        # -n 2: two worker threads are plenty on loopback and start faster on big machines.
        return [require_tool("named"), "-g", "-4", "-n", "2", "-c", str(self.conf)]

    def write_config(self) -> None:
        d = self.dir
        keys = ""
        key_clause = ""
        if self.key is not None:
            name, alg, secret = self.key
            keys = f'key "{name}" {{ algorithm {alg}; secret "{secret}"; }};\n'
            key_clause = f' key "{name}"'
        zones = "".join(
            f'zone "{z}" {{\n'
            f"    type secondary;\n"
            f'    file "{z}.db";\n'
            f"    masterfile-format text;\n"
            f"    primaries {{ {LOOPBACK} port {self.primary_port}{key_clause}; }};\n"
            f"    transfer-source {self.address};\n"
            f"    request-ixfr yes;\n"
            f"}};\n"
            for z in self.zones)
        self.conf.write_text(
            f"options {{\n"
            f'    directory "{d}";\n'
            f'    pid-file "{d}/named.pid";\n'
            f'    session-keyfile "{d}/session.key";\n'
            f'    managed-keys-directory "{d}";\n'
            f'    dump-file "{d}/named_dump.db";\n'
            f'    statistics-file "{d}/named.stats";\n'
            f'    memstatistics-file "{d}/named.memstats";\n'
            f'    bindkeys-file "{d}/bind.keys";\n'
            f"    listen-on port {self.port} {{ {self.listen_address}; }};\n"
            f"    listen-on-v6 {{ none; }};\n"
            f"    recursion no;\n"
            f"    notify no;\n"
            f"    dnssec-validation no;\n"
            f"    allow-query {{ 127.0.0.0/8; }};\n"
            f"    allow-transfer {{ 127.0.0.0/8; }};\n"
            f"    allow-notify {{ {LOOPBACK}; }};\n"
            f"    transfer-source {self.address};\n"
            f"    notify-source {self.address};\n"
            f"    request-ixfr yes;\n"
            f"}};\n"
            + keys +
            f'key "rndc-key" {{ algorithm hmac-sha256; secret "{self._rndc_secret}"; }};\n'
            f"controls {{\n"
            f'    inet {self.address} port {self.control_port} allow {{ 127.0.0.0/8; }} keys {{ "rndc-key"; }};\n'
            f"}};\n"
            + zones)
        self.rndc_conf.write_text(
            f'key "rndc-key" {{ algorithm hmac-sha256; secret "{self._rndc_secret}"; }};\n'
            f"options {{\n"
            f'    default-key "rndc-key";\n'
            f"    default-server {self.address};\n"
            f"    default-port {self.control_port};\n"
            f"}};\n")

    def rndc(self, *args: str, timeout: float = 10.0) -> str:
        return self._run([require_tool("rndc"), "-c", str(self.rndc_conf), *args], timeout=timeout)

    def _ready(self) -> bool:
        if "running" not in self.log():
            return False
        try:
            self.query(".", "SOA", timeout=0.3)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    def refresh(self, zone: str) -> None:
        self.rndc("refresh", zone)

    def retransfer(self, zone: str) -> None:
        self.rndc("retransfer", zone)

    def transfers(self, zone: str | None = None) -> list[str]:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------
# Knot DNS 3.x
# ------------------------------------------------------------------------------------------------

class _Knot(_Peer):
    """knotd in the foreground with all state (rundir, storage, journal, timers, control socket)
    in the work directory and its log on stderr -> knot.log."""

    kind = "knot"

    def __init__(self, workdir, zones, primary_port, key=None, address=None):
        super().__init__(workdir, zones, primary_port, key, address)
        require_tool("knotd")
        require_tool("knotc")
        self.conf = self.dir / "knot.conf"
        self.socket = self.dir / "knot.sock"

    def command(self) -> list[str]:
        return [require_tool("knotd"), "-c", str(self.conf)]

    def _key_section(self) -> str:
        if self.key is None:
            return ""
        name, alg, secret = self.key
        return f"key:\n  - id: {name}\n    algorithm: {alg}\n    secret: {secret}\n\n"

    def _common(self) -> str:
        d = self.dir
        return (
            f"server:\n"
            f"    rundir: {d}\n"
            f"    pidfile: {d}/knot.pid\n"
            f"    listen: {self.address}@{self.port}\n"
            f"    background-workers: 2\n"
            f"    udp-workers: 2\n"
            f"    tcp-workers: 2\n\n"
            f"control:\n"
            f"    listen: {self.socket}\n\n"
            f"log:\n"
            f"  - target: stderr\n"
            f"    any: info\n\n"
            f"database:\n"
            f"    storage: {d}\n"
            f"    journal-db: {d}/journal\n"
            f"    timer-db: {d}/timers\n"
            f"    kasp-db: {d}/keys\n\n")

    def knotc(self, *args: str, timeout: float = 10.0) -> str:
        return self._run([require_tool("knotc"), "-c", str(self.conf), "-t", "5", *args], timeout=timeout)

    def _ready(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            self.query(".", "SOA", timeout=0.3)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    def transfers(self, zone: str | None = None) -> list[str]:
        raise NotImplementedError


class KnotSecondary(_Knot):
    """knotd as a secondary of 127.0.0.1@primary_port, on address@port, transfers `via` address."""

    default_address = "127.0.0.3"

    def write_config(self) -> None:
        key_ref = f"    key: {self.key[0]}\n" if self.key else ""
        acl_key = f"    key: {self.key[0]}\n" if self.key else ""
        zones = "".join(
            f"  - domain: {z}\n"
            f"    master: primary\n"
            f"    acl: [notify_from_primary, transfer_to_loopback]\n"
            for z in self.zones)
        self.conf.write_text(
            self._common()
            + self._key_section()
            + f"remote:\n"
              f"  - id: primary\n"
              f"    address: {LOOPBACK}@{self.primary_port}\n"
              f"    via: {self.address}\n"
            + key_ref + "\n"
            + f"acl:\n"
              f"  - id: notify_from_primary\n"
              f"    address: {LOOPBACK}\n"
              f"    action: notify\n"
            + acl_key
            + f"  - id: transfer_to_loopback\n"
              f"    address: 127.0.0.0/8\n"
              f"    action: transfer\n\n"
            + f"template:\n"
              f"  - id: default\n"
              f"    storage: {self.dir}\n"
              f"    file: \"%s.zone\"\n"
              f"    zonefile-sync: -1\n"
              f"    zonefile-load: none\n"
              f"    journal-content: all\n\n"
            + "zone:\n" + zones)

    def refresh(self, zone: str) -> None:
        self.knotc("zone-refresh", zone)

    def retransfer(self, zone: str) -> None:
        self.knotc("zone-retransfer", zone)


class KnotPrimary(_Knot):
    """knotd as a reference PRIMARY on 127.0.0.1@port serving zone files from the work directory,
    with the TSIG key required for transfers and a journal so it serves IXFR after `set_zone`
    + `reload` (zonefile-load: difference). Used to check this harness without our server.

        p = KnotPrimary(tmp / "primary", {"example.com": text}, key=KEY)
        p.start(); ...; p.set_zone("example.com", new_text); p.reload()
    """

    kind = "knot-primary"
    default_address = LOOPBACK

    def __init__(self, workdir, zones: dict[str, str], key: Key | None = None, address: str | None = None,
                 notify: list[tuple[str, int]] | None = None):
        super().__init__(workdir, list(zones), 0, key, address)
        self.primary_port = self.port
        self.notify = list(notify or [])
        for name, text in zones.items():
            self.set_zone(name, text)

    def zone_file(self, zone: str) -> pathlib.Path:
        return self.dir / f"{zone.rstrip('.')}.zone"

    def set_zone(self, zone: str, text: str) -> None:
        """Replace the zone file (atomically); call `reload()` to serve it."""
        path = self.zone_file(zone)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(textwrap.dedent(text))
        tmp.rename(path)

    def reload(self, zone: str | None = None) -> None:
        """Reload one zone (or all) from its file; the difference goes to the journal as IXFR."""
        if zone is None:
            self.knotc("zone-reload")
        else:
            self.knotc("zone-reload", zone)

    def write_config(self) -> None:
        acl_key = f"    key: {self.key[0]}\n" if self.key else ""
        remotes = ""
        notify = ""
        if self.notify:
            remotes = "remote:\n" + "".join(
                f"  - id: notify{i}\n    address: {a}@{p}\n    via: {self.address}\n"
                + (f"    key: {self.key[0]}\n" if self.key else "")
                for i, (a, p) in enumerate(self.notify)) + "\n"
            notify = "    notify: [" + ", ".join(f"notify{i}" for i in range(len(self.notify))) + "]\n"
        zones = "".join(f"  - domain: {z}\n    acl: [transfer]\n" + notify for z in self.zones)
        self.conf.write_text(
            self._common()
            + self._key_section()
            + remotes
            + f"acl:\n"
              f"  - id: transfer\n"
              f"    address: 127.0.0.0/8\n"
              f"    action: transfer\n"
            + acl_key + "\n"
            + f"template:\n"
              f"  - id: default\n"
              f"    storage: {self.dir}\n"
              f"    file: \"%s.zone\"\n"
              f"    zonefile-sync: -1\n"
              f"    zonefile-load: difference\n"
              f"    journal-content: changes\n"
              f"    semantic-checks: off\n\n"
            + "zone:\n" + zones)

    def refresh(self, zone: str) -> None:
        raise NotImplementedError("a primary has nothing to refresh; use reload()")

    retransfer = refresh
