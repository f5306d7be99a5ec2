"""RFC 1982 serial arithmetic and the serial policies (keep, increment, unixtime, dateserial)."""

from __future__ import annotations

import datetime
import enum

from hiddenprimary.errors import SerialError

MOD = 2**32
HALF = 2**31
POLICIES = ("keep", "increment", "unixtime", "dateserial")


class Order(enum.Enum):
    LESS = "less"
    EQUAL = "equal"
    GREATER = "greater"
    INCOMPARABLE = "incomparable"


def compare(s1: int, s2: int) -> Order:
    """RFC 1982 3.2: how s1 relates to s2. A distance of exactly 2^31 is INCOMPARABLE."""
    if s1 == s2:
        return Order.EQUAL
    d = (s2 - s1) % MOD
    if d == HALF:
        return Order.INCOMPARABLE
    return Order.LESS if d < HALF else Order.GREATER


def lag(ours: int, theirs: int) -> int | None:
    """How many serials `theirs` is behind `ours` (RFC 1982): 0 when equal, None when `theirs` is
    ahead or incomparable. The one definition of a secondary's lag (status, metrics, check)."""
    d = (ours - theirs) % MOD
    return d if d < HALF else None


def add(serial: int, n: int) -> int:
    """RFC 1982 3.1: n must be in 0..2^31-1."""
    if not 0 <= n < HALF:
        raise ValueError(f"serial increment {n} out of range")
    return (serial + n) % MOD


def dateserial_base(wall: float) -> int:
    """YYYYMMDD00 for the UTC day of `wall`."""
    day = datetime.datetime.fromtimestamp(wall, tz=datetime.timezone.utc)
    return int(day.strftime("%Y%m%d")) * 100


def at_least_next(candidate: int, old: int) -> int:
    """`candidate` if it is newer than `old`, else old+1: the served serial never goes backwards."""
    return candidate if compare(candidate, old) is Order.GREATER else add(old, 1)


def first_serial(policy: str, file_serial: int, wall: float) -> int:
    """The serial of a zone's first version (nothing served before)."""
    candidate = {"unixtime": int(wall) % MOD, "dateserial": dateserial_base(wall)}.get(policy)
    if candidate is not None and compare(candidate, file_serial) is Order.GREATER:
        return candidate
    return file_serial


def next_serial(zone: str, policy: str, old: int, file_serial: int, wall: float) -> int:
    """The serial for a changed version following one served with `old`.

    keep: the file's serial, which must be RFC 1982 greater than `old` (else SerialError naming the
    case). increment: old+1. unixtime / dateserial: the policy's value, or old+1 when that would
    not move forward (a clock that went back never makes the serial go back)."""
    if policy == "keep":
        order = compare(file_serial, old)
        if order is Order.GREATER:
            return file_serial
        kind = {
            Order.EQUAL: SerialError.UNCHANGED,
            Order.LESS: SerialError.BACKWARDS,
            Order.INCOMPARABLE: SerialError.INCOMPARABLE,
        }[order]
        raise SerialError(zone, kind, old, file_serial)
    if policy == "increment":
        return add(old, 1)
    if policy == "unixtime":
        return at_least_next(int(wall) % MOD, old)
    if policy == "dateserial":
        return at_least_next(dateserial_base(wall), old)
    raise ValueError(f"unknown serial policy {policy!r}")
