"""Idle-connection floods against the real daemon (issue 11 item 4, checklist B6): under a low file
descriptor limit, idle metrics connections must not take the descriptors DNS TCP (so AXFR) and the
control socket need; and a secondary must still get a TCP slot while strangers hold the rest."""

import resource
import selectors
import socket
import time

import dns.rdatatype

from tests.helpers import free_port, wait_for
from tests.integration.harness import Daemon
from tests.integration.secondaries import SECONDARY_CONFIG, axfr_zone
from tests.zones import example_com


def fd_limit_256() -> None:
    """Runs in the daemon's child process before exec."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def ensure_own_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def open_idle(port: int, source: str, count: int, seconds: float, batch: int = 50) -> list[socket.socket]:
    """`count` connections from `source` that send nothing, connected (or refused) within `seconds`;
    the caller closes them. Opened `batch` at a time with a pause between batches: a burst larger
    than the listen backlog loses connections in the kernel (a SYN cookie whose ACK meets a full
    accept queue is dropped, and an idle client never retries), which is not what is tested."""
    socks = []
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as sel:
        for start in range(0, count, batch):
            pending = set()
            for _ in range(min(batch, count - start)):
                s = socket.socket()
                socks.append(s)
                s.setblocking(False)
                s.bind((source, 0))
                s.connect_ex(("127.0.0.1", port))
                sel.register(s, selectors.EVENT_WRITE)
                pending.add(s)
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.1):
                    sel.unregister(key.fileobj)
                    pending.discard(key.fileobj)
            for s in pending:
                sel.unregister(s)
            time.sleep(0.05)  # let the server accept this batch
    return socks


def closed(socks: list[socket.socket]) -> int:
    """How many of `socks` the server closed."""
    count = 0
    for s in socks:
        try:
            if s.recv(1) == b"":
                count += 1
        except BlockingIOError:
            pass  # open and idle
        except OSError:
            count += 1  # reset: refused at once
    return count


def closed_by_server(socks: list[socket.socket], seconds: float = 5.0) -> int:
    """How many of `socks` the server closed, once it has closed any; fails if none in `seconds`."""
    return wait_for(lambda: closed(socks), timeout=seconds, interval=0.1)


def test_idle_metrics_connections_under_a_256_fd_limit_leave_axfr_and_hpctl_working(tmp_path):
    mport = free_port()
    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab, open]"}},
               extra_config=SECONDARY_CONFIG + f'metrics: "127.0.0.1:{mport}"\n')
    d.start(wait_zones=["example.com"], preexec_fn=fd_limit_256)
    socks = []
    try:
        socks = open_idle(mport, "127.0.0.7", 300, seconds=3.0)
        assert closed_by_server(socks) > 0  # over the metrics cap: closed at once
        zone = axfr_zone(d.port)  # from the secondary's address
        assert zone.get_rdataset("example.com.", "SOA") is not None
        assert zone.get_rdataset("www.example.com.", dns.rdatatype.A) is not None
        status = d.hpctl("status", timeout=10)
        assert status.returncode == 0, status.stderr
        assert "example.com" in status.stdout
    finally:
        for s in socks:
            s.close()
        d.stop()
    log = d.log()
    assert "fd_limit.short soft=256 hard=256" in log  # the limits need more than 256: said once, with numbers
    assert "metrics.refused_connection" in log


def test_a_secondary_gets_a_tcp_slot_while_1000_idle_connections_hold_the_rest(tmp_path):
    ensure_own_fd_limit(1200)
    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab, open]"}},
               extra_config=SECONDARY_CONFIG + "limits:\n  tcp_clients_per_ip: 1000\n")
    d.start(wait_zones=["example.com"])
    socks = []
    try:
        socks = open_idle(d.port, "127.0.0.9", 1000, seconds=20.0)  # returns once all connect
        assert closed_by_server(socks) > 0  # strangers cannot take the slots kept for secondaries
        zone = axfr_zone(d.port)  # 127.0.0.2: secondary "lab"
        assert zone.get_rdataset("www.example.com.", dns.rdatatype.A) is not None
        assert d.query("example.com", "SOA").rcode() == 0
    finally:
        for s in socks:
            s.close()
        d.stop()
    assert "tcp.refused_connection" in d.log()


def test_running_out_of_descriptors_is_logged_and_the_daemon_recovers(tmp_path):
    """The control socket has no cap (only its owner can connect): idle connections to it run the
    daemon out of descriptors for real; the accept failure must be logged, and it must recover."""
    d = Daemon(tmp_path, {"example.com": example_com()})
    d.start(wait_zones=["example.com"], preexec_fn=fd_limit_256)
    path = str(d.dir / "var" / "hpctl.sock")
    socks = []
    try:
        deadline = time.monotonic() + 10
        while "accept.failed listener=control" not in d.log() and time.monotonic() < deadline and len(socks) < 400:
            for _ in range(20):
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(1)
                try:
                    s.connect(path)
                except OSError:
                    s.close()
                    continue
                socks.append(s)
            time.sleep(0.05)
    finally:
        for s in socks:
            s.close()
    try:
        log = d.log()
        assert "accept.failed listener=control address=" in log and 'error=EMFILE reason="Too many open files"' in log
        # The daemon sees the closed connections and answers again.
        wait_for(lambda: d.hpctl("status", timeout=10), timeout=5, interval=0.2,
                 until=lambda status: status.returncode == 0)
    finally:
        d.stop()
