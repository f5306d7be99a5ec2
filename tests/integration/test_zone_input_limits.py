"""Hostile zone-file input against the real daemon (issue 11 items 3, 8, 10): an $INCLUDE of a
FIFO or of /dev/zero, a huge file, too many records, an $INCLUDE outside the zone's folder, a NUL
byte, an oversized record, and a load slower than limits.reload_timeout_s. Each one: `hpctl
reload` exits 1 quickly with file:line and what is wrong, the daemon keeps serving the old
serial with flat memory, and the next good reload goes through."""

import os
import time

import pytest

from tests.integration.harness import Daemon, serial_of
from tests.zones import example_com

ZONE = "example.com"
OLD = 2026112701
NEW = OLD + 1


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def reload_fails(d: Daemon, text: str, *phrases: str, within_s: float = 15.0) -> str:
    """Write `text` as the zone, reload, and check the reload was refused fast with `phrases`
    in hpctl's stderr while the old serial keeps answering. Returns stderr."""
    d.write_zone(ZONE, text)
    started = time.monotonic()
    out = d.hpctl("--timeout", "60", "reload", ZONE, timeout=within_s + 30)
    took = time.monotonic() - started
    assert out.returncode == 1, out.stdout + out.stderr
    assert took < within_s, f"reload took {took:.1f}s"
    assert f"{ZONE}: rejected, still serving serial {OLD}" in out.stderr, out.stderr
    for phrase in phrases:
        assert phrase in out.stderr, out.stderr
    assert serial_of(d, ZONE) == OLD
    return out.stderr


def good_reload_still_works(d: Daemon) -> None:
    d.write_zone(ZONE, example_com(serial=NEW))
    out = d.hpctl("--timeout", "60", "reload", ZONE)
    assert out.returncode == 0, out.stderr
    assert serial_of(d, ZONE) == NEW


@pytest.fixture
def daemon(tmp_path):
    # /dev is an include root here only so that /dev/zero gets past the folder rule and meets the
    # regular-file rule (without it, it is refused as outside the zone's folder: tested below).
    d = Daemon(tmp_path, {ZONE: example_com()},
               extra_config="include_roots: [/dev]\n"
                            "limits: {max_zone_file_bytes: 1000000, max_zone_records: 1000}\n")
    d.start(wait_zones=[ZONE])
    yield d
    d.stop()


def test_include_of_a_fifo_fails_at_once_and_the_old_version_keeps_serving(daemon):
    fifo = daemon.dir / "zones" / "pipe.inc"
    os.mkfifo(fifo)
    text = example_com(serial=NEW) + "$INCLUDE pipe.inc\n"
    line = len(text.splitlines())
    try:
        reload_fails(daemon, text, f"{ZONE}.zone:{line}:", "not a regular file (a FIFO)")
    finally:
        try:  # a daemon blocked in open() (the bug) is released by a writer
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    good_reload_still_works(daemon)


def test_include_of_dev_zero_is_refused_without_reading_it(daemon):
    before = rss_kib(daemon.proc.pid)
    text = example_com(serial=NEW) + "$INCLUDE /dev/zero\n"
    reload_fails(daemon, text, f"{ZONE}.zone:{len(text.splitlines())}:",
                 "not a regular file (a character device)")
    assert rss_kib(daemon.proc.pid) < before + 20 * 1024  # not a byte of it was read
    good_reload_still_works(daemon)


def test_include_outside_the_zone_folder_is_refused(daemon):
    secret = daemon.dir / "secret.txt"
    secret.write_text("leaked TXT \"do not serve\"\n")
    (daemon.dir / "zones" / "link.inc").symlink_to(secret)
    for target in ("/etc/passwd", "../secret.txt", "link.inc"):
        text = example_com(serial=NEW) + f"$INCLUDE {target}\n"
        stderr = reload_fails(daemon, text, f"{ZONE}.zone:{len(text.splitlines())}:",
                              "outside the zone file's folder", "include_roots")
        assert "root:" not in stderr and "do not serve" not in stderr
    assert daemon.query(f"leaked.{ZONE}", "TXT").answer == []
    good_reload_still_works(daemon)


def test_a_huge_file_and_too_many_records_stop_the_load(daemon):
    big = daemon.dir / "zones" / "big.inc"
    with open(big, "wb") as f:
        f.truncate(4 * 1024**3)  # sparse: 4 GiB that use no disk, over the 1,000,000-byte limit
    text = example_com(serial=NEW) + "$INCLUDE big.inc\n"
    before = rss_kib(daemon.proc.pid)
    reload_fails(daemon, text, f"{ZONE}.zone:{len(text.splitlines())}:",
                 "larger than limits.max_zone_file_bytes (1000000 bytes)")
    assert rss_kib(daemon.proc.pid) < before + 20 * 1024
    big.write_text("".join(f"h{i} A 192.0.2.1\n" for i in range(2000)))
    reload_fails(daemon, text, "big.inc:", "more than limits.max_zone_records (1000)")
    good_reload_still_works(daemon)


def test_nul_byte_and_oversized_record_are_file_line_errors(daemon):
    text = example_com(serial=NEW) + "nul\0name A 192.0.2.1\n"
    reload_fails(daemon, text, f"{ZONE}.zone:{len(text.splitlines())}:", "NUL byte")
    strings = " ".join('"' + "x" * 250 + '"' for _ in range(300))  # 75,300 octets of rdata
    text = example_com(serial=NEW) + f"huge TXT {strings}\n"
    reload_fails(daemon, text, f"{ZONE}.zone:{len(text.splitlines())}:",
                 "TXT rdata is 75300 octets on the wire, more than 65535")
    assert "Traceback" not in daemon.log() and "internal error" not in daemon.log()
    good_reload_still_works(daemon)


def test_reload_timeout_really_ends_a_slow_load(tmp_path):
    d = Daemon(tmp_path, {ZONE: example_com()}, extra_config="limits: {reload_timeout_s: 1}\n")
    d.start(wait_zones=[ZONE])
    try:
        # ~300,000 records: several seconds of parsing, far past the 1 s timeout.
        slow = example_com(serial=NEW) + "".join(f"h{i} A 192.0.2.{i % 250}\n" for i in range(300_000))
        d.write_zone(ZONE, slow)
        started = time.monotonic()
        out = d.hpctl("--timeout", "120", "reload", ZONE, timeout=150)
        took = time.monotonic() - started
        assert out.returncode == 1, out.stdout + out.stderr
        assert "limits.reload_timeout_s (1s)" in out.stderr and f"{ZONE}.zone:" in out.stderr, out.stderr
        assert took < 30, f"the reload went on for {took:.0f}s"
        assert serial_of(d, ZONE) == OLD
        good_reload_still_works(d)
    finally:
        d.stop()
