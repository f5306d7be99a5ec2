"""reload.gc_pause: automatic collection is off while any reload plans, and back on (if it was
on) when the last one ends, whatever order they end in and whether they fail."""

from __future__ import annotations

import gc
import threading

import pytest

from hiddenprimary.reload.gc_pause import gc_paused


def test_the_collector_is_off_inside_and_back_after():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_end_with_the_last():
    first_in, second_in, first_may_leave, first_left = (threading.Event() for _ in range(4))

    def first():
        with gc_paused():
            first_in.set()
            first_may_leave.wait(5)
        first_left.set()

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(5)
    with gc_paused():
        second_in.set()
        first_may_leave.set()
        first_left.wait(5)
        assert not gc.isenabled()  # the first ended, this one still plans
    t.join(5)
    assert gc.isenabled()


def test_an_error_inside_still_turns_it_back_on():
    with pytest.raises(RuntimeError):
        with gc_paused():
            raise RuntimeError("load failed")
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
