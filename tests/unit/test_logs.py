"""logs.Throttle: one line per key per interval, the held-back lines counted, memory bounded."""

from hiddenprimary.clock import FixedClock
from hiddenprimary.logs import Throttle


def test_one_line_per_key_per_interval_with_the_count_held_back():
    clock = FixedClock()
    t = Throttle(10.0, clock.monotonic)
    assert t.admit("a") == 0
    assert [t.admit("a") for _ in range(5)] == [None] * 5
    assert t.admit("b") == 0  # keys are independent
    clock.advance(9.9)
    assert t.admit("a") is None
    clock.advance(0.1)
    assert t.admit("a") == 6
    assert t.admit("a") is None


def test_a_flood_of_new_keys_is_bounded():
    clock = FixedClock()
    t = Throttle(10.0, clock.monotonic, max_keys=100)
    admitted = sum(t.admit(f"198.51.{i // 256}.{i % 256}") is not None for i in range(10_000))
    assert admitted == 101  # 100 keys, then one shared overflow line
    assert len(t._entries) == 101
    clock.advance(10)
    admitted = sum(t.admit(f"203.0.{i // 256}.{i % 256}") is not None for i in range(10_000))
    assert admitted == 101 and len(t._entries) <= 101  # idle keys swept, the table reused
