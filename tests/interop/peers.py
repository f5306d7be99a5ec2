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

Two addresses per peer: `address` is where its SOA queries and transfers come FROM (what our
server's `secondaries.<name>.allow` must list); `endpoint` ("host:port") is where it answers
queries, NOTIFY and transfers (what `notify:` must list). They differ for BIND: named only binds
addresses configured on an interface, so with 127.0.0.2 absent from `lo` it answers on 127.0.0.1.
Refresh SOA queries are TSIG-signed with the key too, and BIND rejects an unsigned answer.

The secondaries' configs are the operator examples conf/examples/named.conf and
conf/examples/knot.conf, rendered by `render_template` (their @PLACEHOLDERS@ filled in, the zone
block repeated per zone); only what an unprivileged run on loopback needs (pid files, control
channels, logging, work-directory paths) is added here. A test that passes here passes with the
configs the docs hand to operators.
"""

from __future__ import annotations

import base64
import ctypes
import ipaddress
import os
import pathlib
import re
import signal
import subprocess
import textwrap

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.zone

from tests.helpers import ROOT, free_port, require_tool, stop_process, wait_for
from tests.zones import Record, records_of_zone

Key = tuple[str, str, str]          # (name, algorithm, secret in base64), e.g. ("xfr-key", "hmac-sha256", "...")

LOOPBACK = "127.0.0.1"

EXAMPLES = ROOT / "conf" / "examples"
BIND_TEMPLATE = EXAMPLES / "named.conf"   # BIND 9.18 secondary of hiddenprimary
KNOT_TEMPLATE = EXAMPLES / "knot.conf"    # Knot 3.2 secondary of hiddenprimary

_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
# The per-zone block of each template, repeated once per zone by render_template().
BIND_ZONE_BLOCK = re.compile(r'^zone "@ZONE@" \{\n.*?^\};\n', re.MULTILINE | re.DOTALL)
KNOT_ZONE_BLOCK = re.compile(r"^  - domain: @ZONE@\n(?:    .*\n)*", re.MULTILINE)
# What goes when there is no TSIG key: the key definition and every reference to it.
BIND_KEYLESS = (re.compile(r'^key "@KEY_NAME@" \{\n.*?^\};\n\n?', re.MULTILINE | re.DOTALL),
                re.compile(r' key "@KEY_NAME@"'))
KNOT_KEYLESS = (re.compile(r"^key:\n(?:  .*\n)*\n?", re.MULTILINE),
                re.compile(r"^ +key: @KEY_NAME@\n", re.MULTILINE))


def render_template(text: str, values: dict[str, object], zones: list[str] = (),
                    zone_block: re.Pattern | None = None, keyless: tuple[re.Pattern, ...] = (),
                    source: str = "a template") -> str:
    """Fill in a config template (conf/examples/named.conf, knot.conf). Its leading comment (the
    legend of the placeholders, for operators) becomes one line naming `source`; the `zone_block`
    (holding @ZONE@) is repeated for each of `zones`; the `keyless` patterns are deleted (when
    there is no key); then every @NAME@ is replaced by values[NAME]. A placeholder without a
    value raises KeyError, so a template and its renderer cannot drift apart silently."""
    lines = text.splitlines(keepends=True)
    comment = "//" if text.startswith("//") else "#"
    while lines and lines[0].startswith(comment):
        lines.pop(0)
    text = f"{comment} Rendered from {source} by tests/interop/peers.py.\n" + "".join(lines)
    for pattern in keyless:
        text = pattern.sub("", text)
    if zone_block is not None:
        m = zone_block.search(text)
        if m is None:
            raise ValueError(f"{source}: no zone block matching {zone_block.pattern!r}")
        block = m.group(0)
        text = text[:m.start()] + "".join(block.replace("@ZONE@", z) for z in zones) + text[m.end():]

    def fill(m: re.Match) -> str:
        if m[1] not in values:
            raise KeyError(f"{source}: no value for @{m[1]}@")
        return str(values[m[1]])
    return _PLACEHOLDER.sub(fill, text)


def _insert_after(text: str, line: str, addition: str) -> str:
    """Insert `addition` after the first line equal to `line` (which must exist)."""
    marker = line + "\n"
    at = text.find(marker)
    if at < 0 or (at > 0 and text[at - 1] != "\n"):
        raise ValueError(f"template has no line {line!r}")
    at += len(marker)
    return text[:at] + addition + text[at:]


class PeerError(AssertionError):
    """A peer did not start, answer or converge in time; the message carries its log tail."""


def new_key(name: str = "xfr-key", algorithm: str = "hmac-sha256") -> Key:
    """A fresh random TSIG key."""
    return (name, algorithm, base64.b64encode(os.urandom(32)).decode())


def dnspython_key(key: Key) -> dns.tsig.Key:
    """The dnspython form of a (name, algorithm, secret) key, for `Message.use_tsig`."""
    name, algorithm, secret = key
    return dns.tsig.Key(name, secret, algorithm)


def _norm(zone: str) -> str:
    return zone.rstrip(".").lower() or "."


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        return False


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

    def template_values(self) -> dict[str, object]:
        """The values of the placeholders of a secondary's config template (conf/examples/named.conf,
        knot.conf) for this peer."""
        name, alg, secret = self.key or ("", "", "")
        return {"PRIMARY_ADDRESS": LOOPBACK, "PRIMARY_PORT": self.primary_port, "KEY_NAME": name,
                "KEY_ALGORITHM": alg, "KEY_SECRET": secret, "SOURCE": self.address,
                "LISTEN": self.listen_address, "PORT": self.port, "DIR": self.dir}

    # -- life cycle -----------------------------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        raise NotImplementedError

    def _ready(self) -> bool:
        """True once the peer answers queries and its control channel is up."""
        raise NotImplementedError

    def _answers(self) -> bool:
        """True if the peer answers a query at all (whatever the answer)."""
        try:
            self.query(".", "SOA", timeout=0.3)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    def start(self, timeout: float = 15.0) -> None:
        self.write_config()
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, cwd=self.dir,
                                     preexec_fn=_die_with_parent)
        try:
            self._wait(self._ready, timeout, lambda _: f"{self.kind} on {self.endpoint} not ready in {timeout}s")
        except PeerError:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by PID, wait, SIGKILL if it does not exit. Returns the exit status."""
        if self.proc is None:
            return None
        stop_process(self.proc, timeout)
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

    def _wait(self, probe, timeout: float, failure, until=bool):
        """tests.helpers.wait_for while the peer runs: the value of `probe` once `until` holds for
        it. PeerError with the log tail if the peer exits, or with `failure(last value)` if
        `timeout` passes first."""
        last = []

        def running_probe():
            value = probe()
            last[:] = [value]
            if not until(value):
                self._check_alive()
            return value
        try:
            return wait_for(running_probe, timeout, until=until)
        except PeerError:
            raise
        except AssertionError:
            raise PeerError(f"{failure(last[0] if last else None)}\n" + self.log_tail()) from None

    # -- logs -------------------------------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    _NOISE: re.Pattern | None = None   # debug chatter left out of log_tail() (log() keeps it)

    def log_tail(self, lines: int = 40) -> str:
        all_lines = self.log().splitlines()
        if self._NOISE is not None:
            all_lines = [line for line in all_lines if not self._NOISE.search(line)]
        tail = all_lines[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    def transfers(self, zone: str | None = None) -> list[str]:
        """The completed incoming transfers in the log, oldest first: ["AXFR", "IXFR", ...]."""
        raise NotImplementedError

    def wait_transfers(self, count: int, zone: str | None = None, timeout: float = 10.0) -> list[str]:
        """Wait until at least `count` transfers are logged (the log line may trail the serial)."""
        return self._wait(lambda: self.transfers(zone), timeout,
                          lambda seen: f"{self.kind}: {len(seen)} transfers {seen}, wanted {count}, in {timeout}s",
                          until=lambda seen: len(seen) >= count)

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
        self._wait(lambda: self.serial(zone, timeout=0.5), timeout,
                   lambda last: f"{self.kind} {self.endpoint}: {zone} serial {last}, wanted {serial}, after {timeout}s",
                   until=lambda last: last == serial)

    def axfr(self, zone: str, timeout: float = 5.0, key: Key | None = None) -> list[Record]:
        """Transfer `zone` from this peer itself (unsigned unless `key`; secondaries allow
        127.0.0.0/8) and return its records as a sorted (name, ttl, type, rdata) list, the same
        form as `records(text, origin)`."""
        q = dns.message.make_query(zone, "AXFR")
        if key is not None:
            q.use_tsig(dnspython_key(key))
        z = dns.zone.Zone(zone, relativize=False)
        dns.query.inbound_xfr(self.listen_address, z, q, port=self.port, timeout=timeout, lifetime=timeout)
        return records_of_zone(z)

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
    """`named -g -d 3` (foreground, every log line to stderr -> bind.log) as a secondary of
    127.0.0.1@primary_port. Its SOA queries and transfers leave from `address` (transfer-source),
    rndc listens on address@control_port, and it answers on listen_address@port: `address` when
    that is configured on an interface, else 127.0.0.1 (named cannot bind other addresses).
    NOTIFY is accepted from 127.0.0.1, signed or not. The zone is kept in <zone>.db (+ .jnl),
    so a restarted secondary asks for IXFR."""

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
        return [require_tool("named"), "-g", "-d", "3", "-4", "-n", "2", "-c", str(self.conf)]

    def write_config(self) -> None:
        d = self.dir
        text = render_template(BIND_TEMPLATE.read_text(), self.template_values(), self.zones,
                               BIND_ZONE_BLOCK, () if self.key else BIND_KEYLESS, source=str(BIND_TEMPLATE))
        # What an unprivileged named needs besides the example: its files in the work directory
        # (the defaults are under /run and /var) and an rndc channel for refresh/retransfer.
        text = _insert_after(text, "options {", (
            f"    // added by tests/interop/peers.py\n"
            f'    pid-file "{d}/named.pid";\n'
            f'    session-keyfile "{d}/session.key";\n'
            f'    managed-keys-directory "{d}";\n'
            f'    dump-file "{d}/named_dump.db";\n'
            f'    statistics-file "{d}/named.stats";\n'
            f'    memstatistics-file "{d}/named.memstats";\n'
            f'    bindkeys-file "{d}/bind.keys";\n'))
        text += (
            f"\n// added by tests/interop/peers.py\n"
            f'key "rndc-key" {{ algorithm hmac-sha256; secret "{self._rndc_secret}"; }};\n'
            f"controls {{\n"
            f'    inet {self.address} port {self.control_port} allow {{ 127.0.0.0/8; }} keys {{ "rndc-key"; }};\n'
            f"}};\n")
        self.conf.write_text(text)
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
        # "running" alone on its line, not "running on Linux ..."
        return bool(re.search(r"^\S+ \S+ running$", self.log(), re.M)) and self._answers()

    def refresh(self, zone: str) -> None:
        self.rndc("refresh", zone)

    def retransfer(self, zone: str) -> None:
        self.rndc("retransfer", zone)

    # named 9.18 says which kind it got only at debug level 3 (hence -d 3), then, at info, whether
    # the transfer succeeded. An IXFR request answered AXFR-style counts as AXFR.
    #   transfer of 'example.com/IN' from 127.0.0.1#5300: got incremental response      -> IXFR
    #   transfer of 'example.com/IN' from 127.0.0.1#5300: got nonincremental response   -> AXFR
    #   transfer of 'example.com/IN' from 127.0.0.1#5300: Transfer status: success      -> done
    _NOISE = re.compile(r" clientmgr @0x| client @0x(?!.*transfer of)|: enter$|: references = "
                        r"|^\S+ \S+ (req_|request_|dns_requestmgr|calling free_|done free_)")
    _XFR_LINE = re.compile(r"transfer of '(?P<zone>[^']+)/IN' from \S+: "
                           r"(?:got (?P<non>non)?incremental response|Transfer status: (?P<status>.+))$")

    def transfers(self, zone: str | None = None) -> list[str]:
        want = _norm(zone) if zone is not None else None
        pending: dict[str, str] = {}
        done = []
        for line in self.log().splitlines():
            m = self._XFR_LINE.search(line)
            if not m:
                continue
            z = _norm(m["zone"])
            if m["status"] is None:
                pending[z] = "AXFR" if m["non"] else "IXFR"
            else:
                kind = pending.pop(z, None)
                if m["status"] == "success" and kind and (want is None or z == want):
                    done.append(kind)
        return done


# ------------------------------------------------------------------------------------------------
# Knot DNS 3.x
# ------------------------------------------------------------------------------------------------

class _Knot(_Peer):
    """knotd in the foreground with all state (rundir, storage, journal, timers, control socket)
    in the work directory and its log on stderr -> knot.log."""

    kind = "knot"
    log_level = "debug"    # info + "ACL, allowed/denied" lines, handy when a NOTIFY or transfer is refused

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

    def _common(self, listen: bool = True) -> str:
        """Server (listen too unless the template has it), control, log and database sections:
        everything in the work directory, debug log on stderr, few workers."""
        d = self.dir
        return (
            f"server:\n"
            f"    rundir: {d}\n"
            f"    pidfile: {d}/knot.pid\n"
            + (f"    listen: {self.address}@{self.port}\n" if listen else "")
            + f"    background-workers: 2\n"
            f"    udp-workers: 2\n"
            f"    tcp-workers: 2\n\n"
            f"control:\n"
            f"    listen: {self.socket}\n\n"
            f"log:\n"
            f"  - target: stderr\n"
            f"    any: {self.log_level}\n\n"
            f"database:\n"
            f"    storage: {d}\n"
            f"    journal-db: {d}/journal\n"
            f"    timer-db: {d}/timers\n"
            f"    kasp-db: {d}/keys\n\n")

    def knotc(self, *args: str, timeout: float = 10.0) -> str:
        return self._run([require_tool("knotc"), "-c", str(self.conf), "-t", "5", *args], timeout=timeout)

    def _ready(self) -> bool:
        return self.socket.exists() and self._answers()

    # Knot 3.2 at info, one line per completed incoming transfer; an IXFR answered AXFR-style is
    # logged as AXFR ("IXFR, incoming, ..., receiving AXFR-style IXFR" then "AXFR, ... finished"):
    #   [example.com.] AXFR, incoming, remote 127.0.0.1@5300, finished, 0.00 seconds, 1 messages, 204 bytes
    #   [example.com.] IXFR, incoming, remote 127.0.0.1@5300, finished, 0.00 seconds, 1 messages, 312 bytes
    _XFR_LINE = re.compile(r"\[(?P<zone>[^\]]+)\] (?P<kind>AXFR|IXFR), incoming, remote \S+,? finished")

    def transfers(self, zone: str | None = None) -> list[str]:
        want = _norm(zone) if zone is not None else None
        return [m["kind"] for m in self._XFR_LINE.finditer(self.log())
                if want is None or _norm(m["zone"]) == want]


class KnotSecondary(_Knot):
    """knotd as a secondary of 127.0.0.1@primary_port, listening on address@port; its SOA queries
    and transfers leave from `address` (remote `via`). NOTIFY is accepted from 127.0.0.1 only,
    signed with the key when there is one (notify_key=False accepts unsigned NOTIFY too)."""

    default_address = "127.0.0.3"

    def __init__(self, workdir, zones, primary_port, key=None, address=None, *, notify_key: bool = True):
        super().__init__(workdir, zones, primary_port, key, address)
        self.notify_key = notify_key

    NOTIFY_ACLS = "acl: [notify_from_hiddenprimary, local_transfer]"

    def write_config(self) -> None:
        text = render_template(KNOT_TEMPLATE.read_text(), self.template_values(), self.zones,
                               KNOT_ZONE_BLOCK, () if self.key else KNOT_KEYLESS, source=str(KNOT_TEMPLATE))
        # Zones live in the journal only: never write or read zone files, so a restarted
        # secondary keeps its serial and asks for IXFR.
        text = _insert_after(text, '    file: "%s.zone"',
                             "    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: all\n")
        if self.key and not self.notify_key:
            # A keyed ACL rule matches signed requests only: this one takes unsigned NOTIFY too.
            text = _insert_after(text, "acl:", f"  - id: notify_unsigned\n    address: {LOOPBACK}\n"
                                               "    action: notify\n")
            if text.count(self.NOTIFY_ACLS) != len(self.zones):
                raise ValueError(f"{KNOT_TEMPLATE}: each zone should have {self.NOTIFY_ACLS!r}")
            text = text.replace(self.NOTIFY_ACLS, self.NOTIFY_ACLS[:-1] + ", notify_unsigned]")
        self.conf.write_text(text + "\n# added by tests/interop/peers.py\n" + self._common(listen=False))

    def refresh(self, zone: str) -> None:
        self.knotc("zone-refresh", zone)

    def retransfer(self, zone: str) -> None:
        self.knotc("zone-retransfer", zone)


class KnotPrimary(_Knot):
    """knotd as a reference PRIMARY on address@port (127.0.0.1) serving zone files from its work
    directory. With a key, transfers must be signed with it. With ixfr=True (default) a reload
    stores the difference in the journal (zonefile-load: difference), so it answers IXFR; with
    ixfr=False it keeps no journal and answers every IXFR AXFR-style. `notify` lists "host:port"
    (or (host, port)) targets it sends signed NOTIFY to after each change.

        p = KnotPrimary(tmp / "primary", {"example.com": text}, key=KEY)
        p.start(); ...; p.set_zone("example.com", new_text); p.reload("example.com")
    """

    kind = "knot-primary"
    default_address = LOOPBACK

    def __init__(self, workdir, zones: dict[str, str], key: Key | None = None, address: str | None = None,
                 *, ixfr: bool = True, notify: list[str | tuple[str, int]] | None = None):
        super().__init__(workdir, list(zones), 0, key, address)
        self.primary_port = self.port
        self.ixfr = ixfr
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
        """Reload one zone (or all) from its file and wait until it is done (knotc -b)."""
        self.knotc("-b", "zone-reload", *([zone] if zone else []))

    def axfr(self, zone: str, timeout: float = 5.0, key: Key | None = None) -> list[Record]:
        return super().axfr(zone, timeout, key or self.key)

    def write_config(self) -> None:
        key_line = f"    key: {self.key[0]}\n" if self.key else ""
        targets = [t if isinstance(t, tuple) else tuple(t.rsplit(":", 1)) for t in self.notify]
        remotes = notify = ""
        if targets:
            remotes = "remote:\n" + "".join(
                f"  - id: notify{i}\n    address: {host}@{port}\n    via: {self.address}\n" + key_line
                for i, (host, port) in enumerate(targets)) + "\n"
            notify = "    notify: [" + ", ".join(f"notify{i}" for i in range(len(targets))) + "]\n"
        zones = "".join(f"  - domain: {z}\n    acl: [transfer]\n" + notify for z in self.zones)
        self.conf.write_text(
            self._common()
            + self._key_section()
            + remotes
            + "acl:\n"
              "  - id: transfer\n"
              "    address: 127.0.0.0/8\n"
              "    action: transfer\n"
            + key_line + "\n"
            + "template:\n"
              "  - id: default\n"
            + f"    storage: {self.dir}\n"
              "    file: \"%s.zone\"\n"
              "    zonefile-sync: -1\n"
            + ("    zonefile-load: difference\n    journal-content: changes\n\n" if self.ixfr else
               "    zonefile-load: whole\n    journal-content: none\n\n")
            + "zone:\n" + zones)

    def refresh(self, zone: str) -> None:
        raise NotImplementedError("a primary has nothing to refresh; use reload()")

    retransfer = refresh
