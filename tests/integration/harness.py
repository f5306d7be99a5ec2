"""Start the real daemon as a subprocess on a free loopback port, and talk to it with dig,
dnspython and hpctl. Every process started here is stopped by its PID."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import textwrap
import time
import urllib.request

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
from prometheus_client.parser import text_string_to_metric_families

from hiddenprimary.control.client import call
from tests.helpers import BIN, free_port, wait_for


class Daemon:
    def __init__(self, workdir: pathlib.Path, zones: dict[str, str], extra_zone_config: dict | None = None,
                 extra_config: str = ""):
        self.dir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        (workdir / "zones").mkdir(parents=True, exist_ok=True)
        zone_lines = []
        for name, text in zones.items():
            self.zone_file(name).write_text(textwrap.dedent(text))
            options = (extra_zone_config or {}).get(name, {})
            zone_lines.append(f"  {name}:\n    file: zones/{name}.zone\n"
                              + "".join(f"    {k}: {v}\n" for k, v in options.items()))
        self.config = workdir / "hiddenprimary.yaml"
        self.config.write_text(
            f'listen: ["127.0.0.1:{self.port}"]\n'
            "control: var/hpctl.sock\n"
            "data_dir: var\n"
            "log_level: debug\n"
            + extra_config
            + "zones:\n" + "".join(zone_lines)
        )
        self.log_path = workdir / "daemon.log"

    def zone_file(self, name: str) -> pathlib.Path:
        return self.dir / "zones" / f"{name}.zone"

    def write_zone(self, name: str, text: str) -> None:
        # Write then rename: the daemon never reads a half-written file.
        tmp = self.zone_file(name).with_suffix(".tmp")
        tmp.write_text(textwrap.dedent(text))
        tmp.rename(self.zone_file(name))

    def start(self, wait_zones: list[str] | None = None, timeout: float = 20.0, env: dict | None = None,
              preexec_fn=None) -> None:
        """`preexec_fn` runs in the child before the daemon starts (e.g. to lower its rlimits)."""
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(BIN / "python"), "-m", "hiddenprimary", "-c", str(self.config)],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir,
                                     env={**os.environ, **(env or {})}, preexec_fn=preexec_fn)
        deadline = time.monotonic() + timeout
        for zone in wait_zones or []:
            wait_for(lambda: self._serves(zone), max(0.0, deadline - time.monotonic()),
                     explain=lambda: f"zone {zone} not served in {timeout}s: {self.log()}")
        socket_path = self.dir / "var" / "hpctl.sock"
        wait_for(socket_path.exists, max(0.0, deadline - time.monotonic()),
                 explain=lambda: f"no control socket: {self.log()}")

    def _serves(self, zone: str) -> bool:
        assert self.proc.poll() is None, f"daemon exited: {self.log()}"
        try:
            return self.query(zone, "SOA", timeout=0.5).rcode() == 0
        except (dns.exception.Timeout, OSError):
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- talking to it ----------------------------------------------------------------------

    def query(self, qname: str, rdtype: str = "A", *, tcp: bool = False, timeout: float = 2.0,
              **make_kw) -> dns.message.Message:
        q = dns.message.make_query(qname, rdtype, **make_kw)
        if tcp:
            return dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=timeout)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)

    def dig(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+time=2", "+tries=1", *args],
                              capture_output=True, text=True, timeout=20)

    def hpctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "hpctl"), "-c", str(self.config), *args],
                              capture_output=True, text=True, timeout=timeout)


def serial_of(d: Daemon, zone: str) -> int:
    """The SOA serial `d` answers for `zone`."""
    return d.query(zone, "SOA").answer[0][0].serial


def status_of(d: Daemon, zone: str) -> dict:
    """`hpctl status --json zone`: the zone's entry."""
    status = json.loads(d.hpctl("status", "--json", zone).stdout)
    return status["zones"][0]


def control(d: Daemon, command: str, zones=(), timeout: float = 60, **options) -> dict:
    """One command over the control socket (what hpctl sends); its result, which must be ok."""
    answer = call(str(d.dir / "var" / "hpctl.sock"), {"command": command, "zones": list(zones), "options": options},
                  timeout)
    assert answer["ok"], answer
    return answer["result"]


def scrape(port: int) -> dict:
    """The metrics endpoint on 127.0.0.1:`port`: {(sample name, sorted labels): value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


os.environ.setdefault("PYTHONUNBUFFERED", "1")
