"""Logs: one event per line, `event key=value ...`, with values quoted when they hold spaces."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Hashable


def _value(v: object) -> str:
    text = str(v)
    if not text or any(c in text for c in ' "=\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log `name key=value ...` (fields that are None are left out)."""
    if not logger.isEnabledFor(level):
        return
    parts = [name] + [f"{k}={_value(v)}" for k, v in fields.items() if v is not None]
    logger.log(level, " ".join(parts))


class Throttle:
    """Rate-limits log lines per key (e.g. a peer address): at most one every `interval_s`
    seconds of `clock`. The lines held back are counted, and the next line let through for that
    key reports how many. Memory is bounded: past `max_keys` keys, a new key shares one overflow
    entry until a sweep (at most once per interval) drops keys idle for an interval, so a flood
    from spoofed sources yields at most `max_keys` + 1 lines per interval."""

    OVERFLOW = object()  # the key of every key that found the table full

    def __init__(self, interval_s: float, clock: Callable[[], float], max_keys: int = 1000):
        self.interval_s = interval_s
        self.clock = clock
        self.max_keys = max_keys
        self._entries: dict[Hashable, list] = {}  # key -> [time of its last line, lines held back]
        self._swept = float("-inf")

    def admit(self, key: Hashable) -> int | None:
        """None: hold this line back. Else log it, with the returned number of lines held back
        for `key` since its previous line."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is None and len(self._entries) >= self.max_keys:
            if now - self._swept >= self.interval_s:
                self._swept = now
                for old in [k for k, e in self._entries.items() if now - e[0] >= self.interval_s]:
                    del self._entries[old]
            if len(self._entries) >= self.max_keys:
                key = self.OVERFLOW
                entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.interval_s:
            entry[1] += 1
            return None
        held_back = entry[1] if entry is not None else 0
        self._entries[key] = [now, 0]
        return held_back


def setup(level_name: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("hiddenprimary")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level_name.upper(), logging.INFO))
    root.propagate = False


def set_level(level_name: str) -> None:
    """The log level from a re-read config."""
    logging.getLogger("hiddenprimary").setLevel(getattr(logging, level_name.upper(), logging.INFO))


FLOOD_LOG_INTERVAL_S = 10.0


class RateLimitedEvent:
    """One event name logged at most once per `interval_s` (a flood must not flood the log); each
    line says how many were left out since the one before (`suppressed=N`). A one-key Throttle."""

    def __init__(self, logger: logging.Logger, name: str, level: int, now: Callable[[], float],
                 interval_s: float = FLOOD_LOG_INTERVAL_S):
        self._logger, self._name, self._level = logger, name, level
        self._throttle = Throttle(interval_s, now, max_keys=1)

    def __call__(self, **fields: object) -> None:
        held_back = self._throttle.admit(None)
        if held_back is not None:
            event(self._logger, self._name, self._level, **fields, suppressed=held_back or None)
