"""reload.runner.Reloader on Twisted's task.Clock: restore, reload and re-sign all go through one
path that publishes into the store, calls the listeners and returns a result; a failure publishes
nothing; events of one zone run one at a time. No threads, no sleeps: the worker step runs on the
test's thread (or when the test says)."""

from __future__ import annotations

import dns.rdatatype
import pytest
from twisted.internet import defer

from hiddenprimary.dnssec import zone_signer
from hiddenprimary.reload import runner
from hiddenprimary.reload.runner import RESIGN_CHECK_S
from tests.unit.reloader_setup import ZONE, Setup, zone_file


def test_a_first_start_loads_publishes_and_tells_the_listeners(tmp_path):
    s = Setup(tmp_path)
    [result] = s.start()
    assert result.ok and result.changed and result.old_serial is None and result.new_serial == 2024010101
    assert result.added == 5 and result.as_dict()["added"] == 5
    assert s.reloader.store.current(ZONE).serial == 2024010101
    assert s.published == [(ZONE, 2024010101)]
    assert s.timings == ["example.com"]
    assert s.reloader.zones[ZONE].last["ok"] is True


def test_an_edit_publishes_a_diff_and_an_unchanged_file_publishes_nothing(tmp_path):
    s = Setup(tmp_path)
    s.start()
    s.zone_path.write_text(zone_file(2024010102, hosts=3))
    [result] = s.reload()
    assert (result.changed, result.old_serial, result.new_serial) == (True, 2024010101, 2024010102)
    assert (result.added, result.removed) == (1, 0)  # h2 (the SOAs are counted apart)
    [diff] = s.reloader.store.history(ZONE)
    assert (diff.serial_from, diff.serial_to) == (2024010101, 2024010102)
    [again] = s.reload()
    assert again.ok and not again.changed and again.new_serial == 2024010102
    assert s.published == [(ZONE, 2024010101), (ZONE, 2024010102)]


def test_a_broken_file_is_rejected_and_the_served_version_stays(tmp_path):
    s = Setup(tmp_path)
    s.start()
    s.zone_path.write_text(zone_file(2024010102, bad=True))
    [result] = s.reload()
    assert not result.ok and result.new_serial == 2024010101
    assert any(f"{s.zone_path}:" in e and "300.1.2.3" in e for e in result.errors), result.errors
    assert s.reloader.store.current(ZONE).serial == 2024010101
    assert s.published == [(ZONE, 2024010101)]
    assert s.reloader.zones[ZONE].last["ok"] is False
    assert result.as_dict()["errors"] == list(result.errors)


def test_a_restart_restores_the_committed_version_and_its_history(tmp_path):
    s = Setup(tmp_path)
    s.start()
    s.zone_path.write_text(zone_file(2024010102, hosts=3))
    s.reload()
    s.published.clear()
    s.reloader = s.make()
    [result] = s.start()
    assert result.ok and not result.changed  # the file is what the journal holds
    # The restored version is published (NOTIFY at start), the reload that follows adds nothing.
    assert s.published == [(ZONE, 2024010102)]
    assert [d.serial_to for d in s.reloader.store.history(ZONE)] == [2024010102]


def test_events_of_a_zone_run_one_at_a_time(tmp_path, monkeypatch):
    """Two reloads asked for at once: the second plans only after the first has published, so it
    sees the first's version (and finds nothing new)."""
    monkeypatch.setattr(runner, "MEMO_MIN_BYTES", 0)  # a zone this small keeps no memo otherwise
    s = Setup(tmp_path)
    s.start()
    queued = []

    def later(work):
        d = defer.Deferred()
        queued.append((work, d))
        return d

    s.reloader._in_thread = later
    s.zone_path.write_text(zone_file(2024010102, hosts=3))
    first, second = s.reloader.reload([ZONE]), s.reloader.reload([ZONE])
    assert len(queued) == 1  # the second waits for the first
    work, d = queued.pop()
    d.callback(work())  # the first's plan; its commit comes next, still before the second
    [(commit_job, d)] = queued
    assert commit_job.__qualname__.startswith("Reloader.__init__")  # the group commit's job
    queued.clear()
    d.callback(commit_job())
    # Published: now the second runs; the files are as the first read them (a stat says so), so
    # it needs no worker; the first's text memo is written (after publishing, not in turn).
    assert sorted(w.__qualname__.split(".")[1] for w, _ in queued) == ["_spill"]
    for work, d in list(queued):
        queued.remove((work, d))
        d.callback(work())
    for work, d in queued:  # what the memo's write left: its pages given back
        assert work.__name__ == "give_back"
    [r1], [r2] = s.result(first), s.result(second)
    assert (r1.changed, r1.new_serial) == (True, 2024010102)
    assert (r2.changed, r2.old_serial) == (False, 2024010102)


def test_a_failed_worker_step_is_a_rejected_result_not_a_crash(tmp_path):
    s = Setup(tmp_path)
    s.start()

    def exploding(work):
        return defer.fail(RuntimeError("disk on fire"))

    s.reloader._in_thread = exploding
    s.zone_path.write_text(zone_file(2024010102, hosts=3))  # else a stat says nothing changed
    [result] = s.reload()
    assert not result.ok and result.errors == ("internal error: disk on fire",)
    assert "RuntimeError" in result.crash
    assert s.reloader.store.current(ZONE).serial == 2024010101


SIGNED = ("    dnssec:\n      algorithm: ECDSAP256SHA256\n      signature_validity: 3d\n"
          "      refresh: 1d\n      propagation_delay: 60\n")


def test_the_resign_timer_goes_through_the_same_path(tmp_path):
    s = Setup(tmp_path, dnssec=SIGNED)
    [result] = s.start()
    assert result.ok and result.signatures_made > 0 and result.as_dict()["signatures_kept"] == 0
    state = s.reloader.zones[ZONE]
    expires = zone_signer.earliest_expiration(s.reloader.store.current(ZONE))
    assert state.resign_at == expires - 86400
    [timer] = s.reactor.getDelayedCalls()
    assert timer.getTime() == pytest.approx(s.reactor.seconds() + min(state.resign_at - s.clock.wall(), RESIGN_CHECK_S))
    served = s.reloader.store.current(ZONE).serial
    first_due = state.resign_at
    # Two days on, the timer fires: same records, fresh signatures, a new serial, listeners told.
    s.clock.advance(2 * 86400 + 60)
    s.reactor.advance(2 * 86400 + 60)
    current = s.reloader.store.current(ZONE)
    assert current.serial == served + 1
    assert s.published[-1] == (ZONE, served + 1)
    sig = current.get(ZONE, dns.rdatatype.RRSIG, dns.rdatatype.SOA)
    assert all(r.inception >= s.clock.wall() - 3600 for r in sig)
    # Re-armed from the fresh signatures: due later than before, one timer.
    assert state.resign_at > first_due and len(s.reactor.getDelayedCalls()) == 1


def test_stop_cancels_the_resign_timer(tmp_path):
    s = Setup(tmp_path, dnssec=SIGNED)
    s.start()
    assert s.reactor.getDelayedCalls()
    s.reloader.stop()
    assert not s.reactor.getDelayedCalls()
