"""RFC 1982 serial arithmetic and the serial policies."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hiddenprimary.errors import SerialError
from hiddenprimary.zone.serial import (HALF, MOD, Order, add, compare, dateserial_base, first_serial, lag,
                                       next_serial)

serials = st.integers(0, MOD - 1)


def reference_less(s1: int, s2: int) -> bool:
    """RFC 1982 3.2, written as the RFC states it."""
    return (s1 < s2 and s2 - s1 < HALF) or (s1 > s2 and s1 - s2 > HALF)


@given(serials, serials)
def test_compare_matches_the_rfc_formula(s1, s2):
    order = compare(s1, s2)
    if s1 == s2:
        assert order is Order.EQUAL
    elif reference_less(s1, s2):
        assert order is Order.LESS
    elif reference_less(s2, s1):
        assert order is Order.GREATER
    else:
        assert order is Order.INCOMPARABLE


@given(serials, st.integers(1, HALF - 1))
def test_adding_less_than_2_31_is_always_greater(s, n):
    assert compare(add(s, n), s) is Order.GREATER
    assert compare(s, add(s, n)) is Order.LESS


@given(serials)
def test_distance_2_31_is_incomparable_both_ways(s):
    other = (s + HALF) % MOD
    assert compare(s, other) is Order.INCOMPARABLE
    assert compare(other, s) is Order.INCOMPARABLE


@given(serials, serials)
def test_compare_is_antisymmetric(s1, s2):
    flipped = {Order.LESS: Order.GREATER, Order.GREATER: Order.LESS,
               Order.EQUAL: Order.EQUAL, Order.INCOMPARABLE: Order.INCOMPARABLE}
    assert compare(s2, s1) is flipped[compare(s1, s2)]


def test_add_refuses_increments_of_2_31_or_more():
    with pytest.raises(ValueError):
        add(1, HALF)


def test_increment_wraps_at_2_32():
    assert next_serial("z", "increment", MOD - 1, 0, 0) == 0
    assert compare(0, MOD - 1) is Order.GREATER


def test_keep_takes_a_greater_file_serial_across_the_wrap():
    assert next_serial("z", "keep", MOD - 5, 3, 0) == 3


@pytest.mark.parametrize("old,new,kind", [
    (100, 100, SerialError.UNCHANGED),
    (100, 50, SerialError.BACKWARDS),
    (0, HALF, SerialError.INCOMPARABLE),
])
def test_keep_refuses_a_serial_that_did_not_go_up_and_names_the_case(old, new, kind):
    with pytest.raises(SerialError) as err:
        next_serial("example.com", "keep", old, new, 0)
    assert err.value.kind == kind
    assert "example.com" in str(err.value)


def test_unixtime_uses_the_clock_and_never_goes_back():
    now = 1_800_000_000
    assert next_serial("z", "unixtime", 5, 5, now) == now
    # The clock went back a day: the serial still moves forward by one.
    assert next_serial("z", "unixtime", now, now, now - 86400) == now + 1


def test_dateserial_counts_within_a_day_and_moves_to_the_next_day():
    day = datetime.datetime(2026, 11, 27, 12, tzinfo=datetime.timezone.utc).timestamp()
    assert dateserial_base(day) == 2026112700
    assert next_serial("z", "dateserial", 1, 1, day) == 2026112700
    assert next_serial("z", "dateserial", 2026112700, 1, day) == 2026112701
    assert next_serial("z", "dateserial", 2026112799, 1, day) == 2026112800  # ran out of nn: still up
    assert next_serial("z", "dateserial", 2026112701, 1, day + 86400) == 2026112800


def test_first_serial_never_goes_below_the_file():
    assert first_serial("keep", 42, 1_800_000_000) == 42
    assert first_serial("increment", 42, 1_800_000_000) == 42
    assert first_serial("unixtime", 42, 1_800_000_000) == 1_800_000_000
    assert first_serial("unixtime", 1_900_000_000, 1_800_000_000) == 1_900_000_000
    assert first_serial("dateserial", 1, 1_800_000_000) == dateserial_base(1_800_000_000)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**31 - 1))
def test_lag_is_the_rfc1982_distance_behind(ours, behind):
    theirs = (ours - behind) % MOD
    assert lag(ours, theirs) == behind
    assert lag(theirs, ours) is None or behind == 0  # ahead: no lag
    assert lag(ours, (ours + HALF) % MOD) is None  # incomparable
