"""The text memo of a reload by difference lives in a file beside the journal, not in memory:
written after the commit, read back and checked by its digest by the next reload; a memo file
that is gone or changed costs one whole read, never a wrong version."""

from __future__ import annotations

import os

import pytest

from hiddenprimary import data_dir
from hiddenprimary.reload import runner
from hiddenprimary.reload import plan as plan_module
from hiddenprimary.zone.wire_load import TextMemo
from hiddenprimary.zone.wire_load import load_wire
from hiddenprimary.zone import wire_reload
from hiddenprimary.zone.wire_reload import reload_wire
from tests.unit.reloader_setup import ZONE, Setup, zone_file


@pytest.fixture(autouse=True)
def every_file_keeps_a_memo(monkeypatch):
    """These zones are small; a zone this small keeps no memo (runner.MEMO_MIN_BYTES)."""
    monkeypatch.setattr(runner, "MEMO_MIN_BYTES", 0)


def _count_reads(monkeypatch) -> list[str]:
    """'difference' for each reload by difference that made the version, 'whole' for a whole read."""
    made = []

    def by_difference(*args, **kwargs):
        loaded = reload_wire(*args, **kwargs)
        if loaded is not None:
            made.append("difference")
        return loaded

    def whole(*args, **kwargs):
        made.append("whole")
        return load_wire(*args, **kwargs)

    monkeypatch.setattr(plan_module, "reload_wire", by_difference)
    monkeypatch.setattr(plan_module, "load_wire", whole)
    return made


def _served(s: Setup) -> list:
    return sorted((n.to_text(), rds.to_text()) for n, rds in s.reloader.store.current(ZONE).iter_rdatasets())


def test_the_memo_is_a_file_and_the_next_reload_reads_only_the_difference(tmp_path, monkeypatch):
    s = Setup(tmp_path)
    made = _count_reads(monkeypatch)
    s.zone_path.write_text(zone_file(2024010101, hosts=50))
    s.start()
    memo = s.reloader.zones[ZONE].load_memo
    path = data_dir.text_memo_path(s.config.data_dir, ZONE)
    assert isinstance(memo, TextMemo) and memo.text is None and memo.pages.file == path
    assert open(path, "rb").read() == s.zone_path.read_bytes()
    s.zone_path.write_text(zone_file(2024010102, hosts=51))
    [result] = s.reload()
    assert result.ok and result.new_serial == 2024010102 and result.added == 1
    assert made == ["whole", "difference"]
    assert open(path, "rb").read() == s.zone_path.read_bytes()  # the new text, for the reload after


def test_a_memo_file_that_is_gone_or_changed_costs_a_whole_read_and_nothing_else(tmp_path, monkeypatch):
    s = Setup(tmp_path)
    made = _count_reads(monkeypatch)
    s.zone_path.write_text(zone_file(2024010101, hosts=20))
    s.start()
    path = data_dir.text_memo_path(s.config.data_dir, ZONE)
    def overwrite(memo_file):
        with open(memo_file, "r+b") as f:  # same size, other bytes
            f.write(b"; changed\n")

    for step, spoil in enumerate([os.remove, overwrite]):
        serial = 2024010102 + step
        s.zone_path.write_text(zone_file(serial, hosts=21 + step))
        spoil(path)
        [result] = s.reload()
        assert result.ok and result.new_serial == serial
        whole_read = load_wire(str(s.zone_path), ZONE).version  # the loader itself, not counted
        assert _served(s) == sorted((n.to_text(), rds.to_text()) for n, rds in whole_read.iter_rdatasets())
    assert made == ["whole", "whole", "whole"]  # the start, then each spoiled memo
    s.zone_path.write_text(zone_file(2024010104, hosts=25))
    s.reload()
    assert made[-1] == "difference"  # the memo written after the last whole read is good again


def test_a_memo_that_cannot_be_written_stays_in_memory(tmp_path, monkeypatch):
    s = Setup(tmp_path)
    made = _count_reads(monkeypatch)

    def cannot(memo, file):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wire_reload, "spill", cannot)
    s.start()
    memo = s.reloader.zones[ZONE].load_memo
    assert memo.text == s.zone_path.read_bytes() and memo.pages is None
    s.zone_path.write_text(zone_file(2024010102, hosts=3))
    [result] = s.reload()
    assert result.ok and made == ["whole", "difference"]


def test_after_a_restart_the_memo_file_is_taken_up_again_when_it_holds_what_was_loaded(tmp_path, monkeypatch):
    s = Setup(tmp_path)
    made = _count_reads(monkeypatch)
    s.zone_path.write_text(zone_file(2024010101, hosts=30))
    s.start()
    s.zone_path.write_text(zone_file(2024010102, hosts=31))
    s.reload()
    s.reloader = s.make()  # a restart on the same data_dir
    [started] = s.start()
    assert started.ok and not started.changed
    memo = s.reloader.zones[ZONE].load_memo
    assert isinstance(memo, TextMemo) and memo.text is None
    s.zone_path.write_text(zone_file(2024010103, hosts=32))
    [result] = s.reload()
    assert result.ok and result.new_serial == 2024010103 and result.added == 1
    assert made == ["whole", "difference", "difference"]
    # A memo file that is not what the restored version was loaded from is left alone.
    path = data_dir.text_memo_path(s.config.data_dir, ZONE)
    with open(path, "r+b") as f:
        f.write(b"; other\n")
    s.reloader = s.make()
    s.start()
    assert s.reloader.zones[ZONE].load_memo is None
    s.zone_path.write_text(zone_file(2024010104, hosts=33))
    [result] = s.reload()
    assert result.ok and result.new_serial == 2024010104 and made[-1] == "whole"


def test_a_small_zone_keeps_no_memo_file_and_still_reloads_what_changed(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "MEMO_MIN_BYTES", 256 * 1024)
    s = Setup(tmp_path)
    s.start()
    s.zone_path.write_text(zone_file(2024010102, hosts=3))
    [r] = s.reload()
    assert r.ok and r.changed and r.new_serial == 2024010102
    assert s.reloader.zones[ZONE].load_memo is None
    assert not os.path.exists(data_dir.text_memo_path(s.config.data_dir, ZONE))
    [r] = s.reload()
    assert r.ok and not r.changed
