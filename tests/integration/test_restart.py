"""The last published version survives a restart, even when the zone file is broken meanwhile;
a file edited while the daemon was down is picked up as a reload."""

from tests.helpers import wait_for
from tests.integration.harness import Daemon, serial_of, status_of
from tests.zones import NET_ZONE, example_com


def test_restart_serves_the_last_published_version(tmp_path):
    d = Daemon(tmp_path, {"example.com": example_com(), "example.net": NET_ZONE},
               extra_zone_config={"example.net": {"serial": "increment"}})
    d.start(wait_zones=["example.com", "example.net"])
    try:
        d.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.99"))
        d.write_zone("example.net", NET_ZONE.replace("203.0.113.7", "203.0.113.8"))
        assert d.hpctl("reload").returncode == 0
        assert serial_of(d, "example.net") == 2
        assert d.stop() == 0

        # Broken while we were down: the saved version is served, the failure is shown.
        d.write_zone("example.com", "this is not a zone file\n")
        d.start(wait_zones=["example.com", "example.net"])
        assert serial_of(d, "example.com") == 2026112702
        assert d.dig("+short", "www.example.com").stdout.strip() == "192.0.2.99"
        assert serial_of(d, "example.net") == 2  # increment's own serial is not lost either
        wait_for(lambda: status_of(d, "example.com")["last_reload_ok"] is not None)
        com = status_of(d, "example.com")
        assert com["last_reload_ok"] is False and "example.com.zone:1:" in com["last_error"]
        assert d.stop() == 0

        # Edited while we were down: handled as a reload on start, with a journal entry.
        d.write_zone("example.com", example_com(serial=2026112703, www="192.0.2.100"))
        d.start(wait_zones=["example.com"])
        # The restored version (…702) may answer first; the start-up reload follows it.
        wait_for(lambda: serial_of(d, "example.com") == 2026112703)
        journal = status_of(d, "example.com")["journal"]
        assert journal == {"first_serial": 2026112701, "last_serial": 2026112703, "entries": 2,
                           "bytes": journal["bytes"]} and journal["bytes"] > 0
    finally:
        d.stop()


def test_damaged_journal_is_moved_aside_and_the_zone_file_loads(tmp_path):
    d = Daemon(tmp_path, {"example.com": example_com()})
    d.start(wait_zones=["example.com"])
    d.stop()
    journal = tmp_path / "var" / "journal.sqlite"
    assert journal.exists()
    journal.write_bytes(b"\0garbage" * 1000)
    for side in ("-wal", "-shm"):
        (tmp_path / "var" / f"journal.sqlite{side}").unlink(missing_ok=True)
    d.start(wait_zones=["example.com"])
    try:
        # Served 2026112701 before: the file's own serial would go nowhere (issue 11 item 2).
        assert serial_of(d, "example.com") == 2026112702
        moved = list((tmp_path / "var").glob("journal.sqlite.corrupt-*"))
        assert moved, "the damaged journal was not kept"
        assert "journal.corrupt" in d.log()
    finally:
        d.stop()
