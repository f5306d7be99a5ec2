"""A journal file that is locked or cannot be opened is not damage: nothing is moved aside, its
zones answer SERVFAIL and `hpctl status` says why, and a reload after the lock is released resumes
with all history. Even a genuinely damaged journal never sends the served serial backwards (issue
11, item 2). One file holds every zone's journal (issue 15): `data_dir/journal.sqlite`."""

import shutil
import subprocess

import dns.rcode
import pytest

from tests.helpers import wait_for
from tests.integration.harness import Daemon, serial_of, status_of
from tests.zones import NET_ZONE, example_com


def net_at_serial_4(tmp_path, extra_config: str = "") -> Daemon:
    """example.net (serial: increment) edited three times: served serial 4, journal 1..4."""
    d = Daemon(tmp_path, {"example.com": example_com(), "example.net": NET_ZONE},
               extra_zone_config={"example.net": {"serial": "increment"}}, extra_config=extra_config)
    d.start(wait_zones=["example.com", "example.net"])
    for i in range(3):
        d.write_zone("example.net", NET_ZONE.replace("203.0.113.7", f"203.0.113.{20 + i}"))
        assert d.hpctl("reload", "example.net").returncode == 0
    assert serial_of(d, "example.net") == 4
    return d


def state_dir(tmp_path):
    return tmp_path / "var"


def journal_file(tmp_path):
    return tmp_path / "var" / "journal.sqlite"


def _names(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".text" not in p.name)


def test_a_journal_locked_by_the_sqlite3_cli_is_waited_for_then_reported_and_never_moved(tmp_path):
    sqlite3_cli = shutil.which("sqlite3")
    if sqlite3_cli is None:
        pytest.skip("the sqlite3 command-line tool is not installed")
    d = net_at_serial_4(tmp_path, extra_config="limits:\n  journal_lock_wait_s: 1\n")
    assert d.stop() == 0
    journal = journal_file(tmp_path)
    # As a backup tool holding the file: an exclusive lock that keeps every other connection out.
    holder = subprocess.Popen([sqlite3_cli, str(journal)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        _locked_then_released(d, tmp_path, holder)
    finally:
        d.stop()


def _locked_then_released(d: Daemon, tmp_path, holder) -> None:
    try:
        holder.stdin.write("PRAGMA locking_mode=EXCLUSIVE;\nBEGIN EXCLUSIVE;\nSELECT 'held';\n")
        holder.stdin.flush()
        lines = [holder.stdout.readline().strip() for _ in range(2)]  # the pragma echoes "exclusive"
        assert lines == ["exclusive", "held"], lines
        before = _names(state_dir(tmp_path))
        d.start()
        wait_for(lambda: d.log().count("journal.unavailable") >= 2)
        for zone in ("example.net", "example.com"):  # never serial 1: the file holds both journals
            assert d.query(zone, "SOA").rcode() == dns.rcode.SERVFAIL
        net = status_of(d, "example.net")
        assert net["last_reload_ok"] is False and "locked" in net["last_error"], net
        out = d.hpctl("reload", "example.net")
        assert out.returncode != 0 and "locked" in out.stdout + out.stderr
        assert d.query("example.net", "SOA").rcode() == dns.rcode.SERVFAIL
        assert [n for n in _names(state_dir(tmp_path)) if n not in before and "hpctl.sock" not in n] == []  # nothing moved aside
        assert "journal.corrupt" not in d.log()
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    # Released: the next reload opens it, restores serial 4 and keeps the history for IXFR.
    out = d.hpctl("reload")
    assert out.returncode == 0, out.stdout + out.stderr
    assert serial_of(d, "example.net") == 4 and serial_of(d, "example.com") == 2026112701
    j = status_of(d, "example.net")["journal"]
    assert (j["first_serial"], j["last_serial"], j["entries"]) == (1, 4, 3)


def test_a_journal_that_cannot_be_opened_is_reported_and_left_as_is(tmp_path):
    d = net_at_serial_4(tmp_path)
    assert d.stop() == 0
    journal = journal_file(tmp_path)
    kept = tmp_path / "kept.journal"
    journal.rename(kept)  # the real file set aside by the test, a directory in its place:
    journal.mkdir()       # sqlite says "unable to open database file", as for a permission problem
    d.start()
    try:
        wait_for(lambda: d.log().count("journal.unavailable") >= 2)
        assert d.query("example.net", "SOA").rcode() == dns.rcode.SERVFAIL
        assert "unable to open" in status_of(d, "example.net")["last_error"]
        assert journal.is_dir() and not [n for n in _names(state_dir(tmp_path)) if "corrupt" in n]
        # Fixed by the operator: the reload restores it.
        journal.rmdir()
        kept.rename(journal)
        assert d.hpctl("reload").returncode == 0
        assert serial_of(d, "example.net") == 4
    finally:
        d.stop()


def test_a_damaged_journal_resumes_above_the_served_serial(tmp_path):
    d = net_at_serial_4(tmp_path)
    assert d.stop() == 0
    journal_file(tmp_path).write_bytes(b"\0garbage" * 1000)
    for side in ("-wal", "-shm"):
        (state_dir(tmp_path) / f"journal.sqlite{side}").unlink(missing_ok=True)
    d.start(wait_zones=["example.com", "example.net"])
    try:
        wait_for(lambda: serial_of(d, "example.net") is not None)
        # increment would restart at the file's 1; keep at the file's 2026112701: both go above.
        assert serial_of(d, "example.net") == 5
        assert serial_of(d, "example.com") == 2026112702
        assert d.log().count("ERROR journal.corrupt zone=") == 2
        assert "not above the last served serial 4" in d.log()
        # Reloading the unchanged files is a no-op, not "serial went backwards" (keep compares the
        # file with its own last serial now), and it all stays above across another restart.
        out = d.hpctl("reload")
        assert out.returncode == 0 and "rejected" not in out.stdout, out.stdout + out.stderr
        assert d.stop() == 0
        d.start(wait_zones=["example.com", "example.net"])
        assert serial_of(d, "example.net") == 5 and serial_of(d, "example.com") == 2026112702
        assert "reload.rejected" not in d.log()
    finally:
        d.stop()
