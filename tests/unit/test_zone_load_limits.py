"""zone.load on hostile input (issue 11 items 3, 8, 10): only regular files are read, never
blocking on a FIFO; $INCLUDE stays inside the zone's folder unless include_roots allow more; one
byte budget, one record count and one deadline per load, each stopping the load where crossed;
rdata over 65,535 octets and NUL bytes are file:line errors; messages repeat at most ~100
characters of a token."""

from __future__ import annotations

import os
import pathlib
import threading

import dns.name
import pytest

from hiddenprimary.errors import ZoneRejected
from hiddenprimary.zone import rdata_parser
from hiddenprimary.zone.load import load_zone
from hiddenprimary.zone.source import ReadLimits

EXAMPLE = dns.name.from_text("example.")
HEADER = "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n"
HEADER_LINES = 4


def load_in_thread(path: pathlib.Path, limits: ReadLimits | None = None, timeout: float = 10.0):
    """load_zone's result or exception, or fail if it has not returned within `timeout`
    (a load that blocks on a FIFO would hang the test run otherwise)."""
    outcome: list = []

    def run():
        try:
            outcome.append(load_zone(str(path), EXAMPLE, limits=limits) if limits else
                           load_zone(str(path), EXAMPLE))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"load_zone({path}) still running after {timeout}s (blocked?)"
    return outcome[0]


def errors_of(result) -> list[tuple[str, str, int, str]]:
    assert isinstance(result, ZoneRejected), f"expected a rejection, got {result!r}"
    return [(p.code, p.location.path if p.location else "", p.location.line if p.location else 0,
             p.message) for p in result.errors]


def write_zone(folder: pathlib.Path, body: str, name: str = "zone.db") -> pathlib.Path:
    path = folder / name
    path.write_text(HEADER + body)
    return path


# -- only regular files (item 3) --------------------------------------------------------------

def load_beside_fifo(path: pathlib.Path, fifo: pathlib.Path):
    """Load `path` (which reads the FIFO `fifo`), then release a reader blocked in open() (the
    bug): a writer's open unblocks it, so a failing test never hangs."""
    try:
        return load_in_thread(path)
    finally:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


def test_include_of_a_fifo_is_refused_at_once_with_its_line(tmp_path):
    fifo = tmp_path / "fifo.inc"
    os.mkfifo(fifo)
    path = write_zone(tmp_path, "$INCLUDE fifo.inc\n")
    result = load_beside_fifo(path, fifo)
    [(code, where, line, message)] = errors_of(result)
    assert (code, where, line) == ("include-unreadable", str(path), HEADER_LINES + 1)
    assert "not a regular file (a FIFO)" in message and str(fifo) in message


def test_zone_file_that_is_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "zone.db"
    os.mkfifo(fifo)
    result = load_beside_fifo(fifo, fifo)
    [(code, _, _, message)] = errors_of(result)
    assert code == "file-unreadable" and "not a regular file (a FIFO)" in message


def test_include_of_dev_zero_is_refused_before_reading(tmp_path):
    # Even where /dev is an allowed include root, a character device is never read.
    path = write_zone(tmp_path, "$INCLUDE /dev/zero\n")
    result = load_in_thread(path, ReadLimits(include_roots=("/dev",)))
    [(code, _, line, message)] = errors_of(result)
    assert (code, line) == ("include-unreadable", HEADER_LINES + 1)
    assert "not a regular file (a character device)" in message


# -- include roots (item 3) --------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/dev/zero", "/etc/passwd", "../outside.inc", "sub/../../outside.inc"])
def test_include_outside_the_zone_folder_is_refused(tmp_path, target):
    zones = tmp_path / "zones"
    (zones / "sub").mkdir(parents=True)
    (tmp_path / "outside.inc").write_text("x A 192.0.2.9\n")
    path = write_zone(zones, f"$INCLUDE {target}\n")
    result = load_in_thread(path)
    [(code, where, line, message)] = errors_of(result)
    assert (code, where, line) == ("include-outside-root", str(path), HEADER_LINES + 1)
    assert "outside the zone file's folder" in message and "include_roots" in message


def test_symlink_inside_the_folder_to_a_file_outside_is_refused(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    (tmp_path / "secret").write_text("x A 192.0.2.9\n")
    (zones / "link.inc").symlink_to(tmp_path / "secret")
    path = write_zone(zones, "$INCLUDE link.inc\n")
    [(code, _, _, message)] = errors_of(load_in_thread(path))
    assert code == "include-outside-root" and str(tmp_path / "secret") in message


def test_include_roots_allow_another_folder_and_subfolders_stay_allowed(tmp_path):
    zones, common = tmp_path / "zones", tmp_path / "common"
    (zones / "parts").mkdir(parents=True)
    common.mkdir()
    (common / "shared.inc").write_text("shared A 192.0.2.7\n")
    (zones / "parts" / "p.inc").write_text("part A 192.0.2.8\n$INCLUDE ../../common/shared.inc\n")
    path = write_zone(zones, "$INCLUDE parts/p.inc\n")
    assert errors_of(load_in_thread(path))[0][0] == "include-outside-root"  # common/ not allowed yet
    zone = load_in_thread(path, ReadLimits(include_roots=(str(common),)))
    names = {n.to_text() for n in zone.rdatasets}
    assert {"part.example.", "shared.example."} <= names


# -- size, record count and deadline (item 3) ---------------------------------------------------

def test_files_over_the_byte_budget_stop_the_load_at_the_include(tmp_path):
    path = write_zone(tmp_path, "$INCLUDE big.inc\nafter A 192.0.2.2\n")
    (tmp_path / "big.inc").write_text("x A 192.0.2.3\n" * 400)  # 5,600 bytes
    budget = path.stat().st_size + 1000
    result = load_in_thread(path, ReadLimits(max_bytes=budget))
    [(code, where, line, message)] = errors_of(result)
    assert (code, where, line) == ("too-large", str(path), HEADER_LINES + 1)
    assert f"limits.max_zone_file_bytes ({budget} bytes)" in message
    assert load_in_thread(path, ReadLimits(max_bytes=budget + 6000)).rdatasets  # fits: loads


def test_a_sparse_huge_file_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.inc"
    with open(big, "wb") as f:
        f.truncate(8 * 1024**3)  # 8 GiB of holes: reading it would take minutes and the memory
    path = write_zone(tmp_path, "$INCLUDE big.inc\n")
    [(code, _, line, _)] = errors_of(load_in_thread(path, timeout=5))
    assert (code, line) == ("too-large", HEADER_LINES + 1)  # over the 1 GiB default


def test_record_count_stops_the_load_at_the_first_record_over(tmp_path):
    body = "".join(f"h{i} A 192.0.2.{i}\n" for i in range(10))
    path = write_zone(tmp_path, body)
    result = load_in_thread(path, ReadLimits(max_records=8))  # header has 3 records
    [(code, _, line, message)] = errors_of(result)
    assert (code, line) == ("too-many-records", HEADER_LINES + 6)  # the 9th record
    assert "limits.max_zone_records (8)" in message


def test_generate_counts_its_records_before_expanding(tmp_path):
    path = write_zone(tmp_path, "$GENERATE 1-100000 h$ A 192.0.2.1\n")
    [(code, _, line, _)] = errors_of(load_in_thread(path, ReadLimits(max_records=1000)))
    assert (code, line) == ("too-many-records", HEADER_LINES + 1)


class TickingClock:
    """monotonic() moves one second per call: any loop that looks at the clock ends."""

    def __init__(self) -> None:
        self.now = 0.0

    def wall(self) -> float:
        return 1_700_000_000.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def test_deadline_stops_the_load_with_file_and_line(tmp_path):
    body = "".join(f"h{i} A 192.0.2.1\n" for i in range(5000))
    path = write_zone(tmp_path, body)
    limits = ReadLimits(deadline=2.5, timeout_s=30, clock=TickingClock())  # after the read
    [(code, where, line, message)] = errors_of(load_in_thread(path, limits))
    assert code == "reload-timeout" and where == str(path)
    assert HEADER_LINES < line < HEADER_LINES + 5000  # stopped part way, at a record
    assert "limits.reload_timeout_s (30s)" in message


def test_deadline_far_away_changes_nothing(tmp_path):
    path = write_zone(tmp_path, "".join(f"h{i} A 192.0.2.1\n" for i in range(3000)))
    zone = load_in_thread(path, ReadLimits(deadline=1e9, clock=TickingClock()))
    assert len(zone.rdatasets) == 3002


# -- rdata over 65,535 octets (item 8) ----------------------------------------------------------

def txt(octets: int) -> str:
    """TXT rdata of exactly `octets` on the wire, in strings of up to 250 characters."""
    parts, left = [], octets
    while left:
        n = min(251, left)
        parts.append('"' + "x" * (n - 1) + '"')
        left -= n
    return " ".join(parts)


def test_the_largest_transferable_txt_loads_and_one_octet_more_is_refused(tmp_path):
    """Rdata may be up to 65,535 octets (RDLENGTH), but a record must also fit in one transfer
    message with its owner and the question: the loader allows exactly what a secondary can get."""
    from hiddenprimary.zone.limits import max_transferable_rdata

    limit = max_transferable_rdata(dns.name.from_text("example."), dns.name.from_text("big.example."))
    assert 64_900 < limit < 65_535
    path = write_zone(tmp_path, f"big TXT {txt(limit)}\n")
    zone = load_in_thread(path)
    [rdataset] = zone.rdatasets[dns.name.from_text("big.example.")].values()
    assert len(rdataset[0].to_wire()) == limit
    path = write_zone(tmp_path, f"big TXT {txt(limit + 1)}\n")
    [(code, _, _, message)] = errors_of(load_in_thread(path))
    assert code == "rdata-too-long" and "too large for a zone-transfer message" in message


@pytest.mark.parametrize("rdtype,rdata", [("TXT", txt(65536)), ("TXT", txt(300 * 251)),
                                          ("TYPE65280", r"\# 65536 " + "00" * 65536)],
                         ids=["txt-65536", "txt-300x250", "generic-65536"])
def test_rdata_over_65535_octets_is_an_error_on_its_line(tmp_path, rdtype, rdata):
    path = write_zone(tmp_path, f"ok A 192.0.2.1\nbig {rdtype} {rdata}\n")
    [(code, where, line, message)] = errors_of(load_in_thread(path))
    assert (code, where, line) == ("rdata-too-long", str(path), HEADER_LINES + 2)
    assert "more than 65535" in message


def test_long_rdata_on_a_continuation_line_is_reported_where_its_rdata_starts(tmp_path):
    path = write_zone(tmp_path, f"big TXT (\n {txt(70000)}\n )\n")
    [(code, _, line, _)] = errors_of(load_in_thread(path))
    assert (code, line) == ("rdata-too-long", HEADER_LINES + 2)


# -- NUL bytes (item 10) ------------------------------------------------------------------------

@pytest.mark.parametrize("record", ["a\0b A 192.0.2.2", 'a TXT "x\0y"', "a A 192.0.2.2 ; \0",
                                    "$INCLUDE x\0y"])
def test_nul_byte_is_an_error_on_its_line(tmp_path, record):
    path = tmp_path / "zone.db"
    path.write_bytes((HEADER + "ok A 192.0.2.1\n" + record + "\n").encode())
    problems = errors_of(load_in_thread(path))
    assert ("nul-byte", str(path), HEADER_LINES + 2) in [p[:3] for p in problems]


# -- messages echo at most ~100 characters of a token (item 3) ----------------------------------

@pytest.mark.parametrize("record", [
    "o" * 5000 + ".. A 192.0.2.1",  # bad owner name
    "x " + "T" * 5000 + " 192.0.2.1",  # unknown type
    "x 9" + "z" * 5000 + " A 192.0.2.1",  # bad TTL
    "x A 192.0.2.1 " + "e" * 5000,  # something after the rdata
    "$ORIGIN " + "o" * 5000 + "..",
    "$INCLUDE " + "f" * 5000,
    "$" + "D" * 5000,
])
def test_messages_repeat_at_most_about_100_characters_of_a_token(tmp_path, record):
    path = write_zone(tmp_path, record + "\n")
    [(_, _, line, message)] = errors_of(load_in_thread(path))
    assert line == HEADER_LINES + 1
    longest = max(len(run) for run in message.replace("/", " ").split())
    assert longest <= 110 and len(message) < 400 + len(str(tmp_path)), message


def test_short_rdata_is_not_rendered_but_could_not_be_too_long_anyway(tmp_path):
    # The shortcut: rdata text this short cannot make 65,535 octets, even of names, each of
    # which (a 1-character relative name and its separator) grows to at most 255 octets.
    assert rdata_parser.SHORT_RDATA_TEXT * 255 // 2 <= rdata_parser.MAX_RDATA


# -- the reload as a whole (item 3) -------------------------------------------------------------

def test_a_plan_finished_past_the_deadline_is_dropped(tmp_path, monkeypatch):
    """Signing a big zone happens after the load: a plan ready past the deadline is not handed
    on to the commit (hpctl has stopped waiting; publishing it then would surprise)."""
    from hiddenprimary.reload import plan as reload
    from hiddenprimary.clock import FixedClock
    from hiddenprimary.config import ZoneConfig

    path = write_zone(tmp_path, "www A 192.0.2.1\n")
    cfg = ZoneConfig(EXAMPLE, str(path), (), "keep", None)
    clock = FixedClock()
    limits = ReadLimits(deadline=clock.monotonic() + 10, timeout_s=10, clock=clock)
    assert reload.plan_reload(None, cfg, clock, limits=limits).new is not None  # in time: planned

    planned = reload._plan_reload

    def slow_plan(*args, **kwargs):
        clock.advance(11)  # as if signing took 11 s
        return planned(*args, **kwargs)

    monkeypatch.setattr(reload, "_plan_reload", slow_plan)
    with pytest.raises(reload.ReloadTimeout, match=r"limits.reload_timeout_s \(10s\); nothing published"):
        reload.plan_reload(None, cfg, clock, limits=limits)


def test_a_paren_never_closed_does_not_make_one_record_of_the_whole_file(tmp_path):
    """Review finding: one unclosed "(" made every later token part of one record, held in memory
    and parsed at the end. Past MAX_RECORD_ITEMS tokens the record is an error and its tokens go."""
    from hiddenprimary.zone.scan import MAX_RECORD_ITEMS, scan

    body = "broken TXT (\n" + "".join(f"h{i} A 192.0.2.{i % 250}\n" for i in range(MAX_RECORD_ITEMS // 3 + 10))
    records = list(scan(body))
    assert len(records) == 1 and records[0].items == [] and "more than" in records[0].error[1]
    assert "never closed" in records[0].error[1]
    path = write_zone(tmp_path, body)
    [(code, _, line, message)] = errors_of(load_in_thread(path))
    assert line == HEADER_LINES + 1 and "never closed" in message


def test_the_deadline_is_checked_inside_one_long_record(tmp_path):
    from hiddenprimary.zone.scan import TICK_EVERY

    path = write_zone(tmp_path, "broken TXT (\n" + '"a"\n' * (TICK_EVERY + 10))
    limits = ReadLimits(deadline=2.5, timeout_s=30, clock=TickingClock())  # past it once the text is read
    [(code, _, line, _)] = errors_of(load_in_thread(path, limits))
    assert code == "reload-timeout" and line == TICK_EVERY  # not after the whole record
