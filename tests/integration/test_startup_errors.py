"""What the real binaries say when they cannot do their job (issue 11 item 9): one line on
stderr, no traceback, exit 1 (failed) or 2 (bad usage). A second daemon on the same config
leaves the first one and its control socket alone; a stale socket is replaced."""

import os
import socket
import subprocess

import pytest

from tests.helpers import BIN, free_port
from tests.integration.harness import Daemon
from tests.zones import example_com


def run(*argv: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60, cwd=cwd)


def one_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


@pytest.fixture
def configured(tmp_path):
    return Daemon(tmp_path, {"example.com": example_com()})


def _with_data_dir(d: Daemon, data_dir: str) -> None:
    d.config.write_text(d.config.read_text().replace("data_dir: var\n", f"data_dir: {data_dir}\n"))


def test_data_dir_under_a_regular_file(configured):
    (configured.dir / "afile").write_text("")
    _with_data_dir(configured, "afile/var")
    out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == f"hiddenprimary: cannot create data_dir {configured.dir}/afile/var: Not a directory"


def test_data_dir_that_is_a_regular_file(configured):
    (configured.dir / "afile").write_text("")
    _with_data_dir(configured, "afile")
    out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == f"hiddenprimary: data_dir {configured.dir}/afile exists and is not a directory"


def test_data_dir_not_permitted(configured):
    if os.geteuid() == 0:
        data_dir, reason = "/sys/hiddenprimary-test", "Operation not permitted"  # root may mkdir anywhere else
    else:
        (configured.dir / "locked").mkdir(mode=0o500)
        data_dir, reason = str(configured.dir / "locked" / "var"), "Permission denied"
    _with_data_dir(configured, data_dir)
    out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == f"hiddenprimary: cannot create data_dir {data_dir}: {reason}"


def test_activity_database_that_cannot_be_opened(configured):
    (configured.dir / "var").mkdir(mode=0o700)
    (configured.dir / "var" / "activity.sqlite").mkdir()
    out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == (f"hiddenprimary: cannot open {configured.dir}/var/activity.sqlite:"
                             " unable to open database file")


def test_dns_port_taken_by_another_process(configured):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", configured.port))
        taken.listen(1)
        out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == f"hiddenprimary: cannot listen on 127.0.0.1:{configured.port}: Address already in use"


@pytest.mark.parametrize("value", ["-1", "nan", "0", "inf", "abc"])
def test_hpctl_bad_timeout(configured, value):
    out = run("hpctl", "-c", str(configured.config), "--timeout", value, "status", cwd=configured.dir)
    assert out.returncode == 2
    assert one_line(out) == f"hpctl: --timeout must be a positive number of seconds, not {value!r}"


def test_second_daemon_leaves_the_first_and_its_control_socket_alone(configured):
    d = configured
    d.start(wait_zones=["example.com"])
    try:
        sock = d.dir / "var" / "hpctl.sock"
        inode = sock.stat().st_ino
        same = run("hiddenprimary", "-c", str(d.config), cwd=d.dir)  # same config: same ports too
        other = d.dir / "other-port.yaml"
        other.write_text(d.config.read_text().replace(f":{d.port}", f":{free_port()}"))
        other_port = run("hiddenprimary", "-c", str(other), cwd=d.dir)
        for out in (same, other_port):
            assert out.returncode == 1
            assert one_line(out) == f"hiddenprimary: control socket {sock} is in use by another daemon (pid {d.proc.pid})"
        assert sock.stat().st_ino == inode  # not unlinked and replaced
        assert d.proc.poll() is None
        status = d.hpctl("--timeout", "1e300", "status")  # huge but finite: waits, no overflow
        assert status.returncode == 0 and "serving" in status.stdout, status.stderr
        assert d.query("example.com", "SOA").rcode() == 0
    finally:
        d.stop()


def test_socket_held_by_a_process_without_a_lock_file_is_left_alone(configured):
    d = configured
    (d.dir / "var").mkdir(mode=0o700)
    path = str(d.dir / "var" / "hpctl.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(4)
        out = run("hiddenprimary", "-c", str(d.config), cwd=d.dir)
        assert out.returncode == 1
        assert one_line(out) == f"hiddenprimary: control socket {path} is in use by another process (it accepts connections)"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(path)  # still the listener's socket


@pytest.mark.parametrize("keep_lock", [True, False], ids=["with_its_lock", "without_its_lock"])
def test_stale_control_socket_is_replaced(configured, keep_lock):
    d = configured
    d.start(wait_zones=["example.com"])
    d.kill()  # SIGKILL: the socket (and its lock file, naming a dead PID) stay behind
    sock = d.dir / "var" / "hpctl.sock"
    assert sock.is_socket()
    if not keep_lock:
        os.unlink(f"{sock}.lock")
    d.start(wait_zones=["example.com"])
    try:
        status = d.hpctl("status")
        assert status.returncode == 0 and "serving" in status.stdout, status.stderr + d.log()
    finally:
        d.stop()


def test_control_path_that_is_a_regular_file_is_left_alone(configured):
    d = configured
    (d.dir / "var").mkdir(mode=0o700)
    (d.dir / "var" / "hpctl.sock").write_text("not a socket")
    out = run("hiddenprimary", "-c", str(d.config), cwd=d.dir)
    assert out.returncode == 1
    assert one_line(out) == (f"hiddenprimary: cannot create the control socket {d.dir}/var/hpctl.sock:"
                             " it exists and is not a socket")
    assert (d.dir / "var" / "hpctl.sock").read_text() == "not a socket"
