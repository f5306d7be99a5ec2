"""The only place that reads the system time. Everything else takes a Clock."""

from __future__ import annotations

import datetime
import time
from typing import Protocol


class Clock(Protocol):
    def wall(self) -> float:
        """Seconds since the epoch (UTC)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start; never goes backwards."""


class SystemClock:
    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A clock for tests: time moves only when told to."""

    def __init__(self, wall: float = 1_700_000_000.0, monotonic: float = 0.0):
        self._wall = wall
        self._monotonic = monotonic

    def wall(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._wall += seconds
        self._monotonic += max(0.0, seconds)

    def set_wall(self, wall: float) -> None:
        self._wall = wall


def utc_text(seconds: float) -> str:
    """POSIX seconds as the ISO 8601 UTC text `hpctl` shows (2026-01-02T03:04:05+00:00)."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="seconds")
