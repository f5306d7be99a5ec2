"""The disk fills up under the journal (checklist I3, issue 11): the reload fails with a clear
message, the old version keeps serving, nothing half-written is kept, and once space is freed the
next reload succeeds and IXFR from before the failure still works. The data dir is a small tmpfs
the test mounts (root only)."""

import os
import subprocess

import dns.query
import dns.rdatatype
import pytest

from tests.integration.harness import Daemon, serial_of, status_of
from tests.integration.secondaries import KEYRING, SECONDARY_CONFIG
from tests.zones import example_com

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "var"
    mount_point.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(directory) -> int:
    """Write until the filesystem is full (bounded: a 4 MiB tmpfs); the bytes written."""
    written = 0
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(2048):
            written += os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return written


def hosts(n: int) -> str:
    return "".join(f'h{i} TXT "{"x" * 200}"\n' for i in range(n))


def test_a_journal_commit_on_a_full_disk_fails_cleanly_and_the_next_one_succeeds(tmp_path, small_disk):
    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab]"}}, extra_config=SECONDARY_CONFIG)
    d.start(wait_zones=["example.com"])
    try:
        d.write_zone("example.com", example_com(serial=2026112702, extra=hosts(5)))
        assert d.hpctl("reload").returncode == 0
        written = fill(small_disk)
        # Leave room for a small write (the served-serial row) but not for the ~90 KB journal diff.
        os.truncate(small_disk / "filler", written - 48 * 1024)

        d.write_zone("example.com", example_com(serial=2026112703, extra=hosts(400)))  # ~90 KB of diff
        out = d.hpctl("reload")
        assert out.returncode != 0
        message = out.stdout + out.stderr
        assert "journal.sqlite" in message and "full" in message, message
        assert "Traceback" not in message and "Traceback" not in d.log()
        assert serial_of(d, "example.com") == 2026112702  # the old version keeps serving
        assert status_of(d, "example.com")["journal"]["last_serial"] == 2026112702  # nothing half-written
        assert "notify" not in d.log().split("reload.rejected")[-1].lower()

        (small_disk / "filler").unlink()
        out = d.hpctl("reload")
        assert out.returncode == 0, out.stdout + out.stderr
        assert serial_of(d, "example.com") == 2026112703
        # IXFR from the version before the failure: exactly the two steps, 01 -> 02 -> 03.
        msgs = list(dns.query.xfr("127.0.0.1", "example.com.", rdtype=dns.rdatatype.IXFR, serial=2026112701,
                                  port=d.port, keyring=KEYRING, keyname="xfr-key.", source="127.0.0.2",
                                  relativize=False))
        soas = [rrset[0].serial for m in msgs for rrset in m.answer if rrset.rdtype == dns.rdatatype.SOA]
        assert soas == [2026112703, 2026112701, 2026112702, 2026112702, 2026112703, 2026112703]
    finally:
        d.stop()
