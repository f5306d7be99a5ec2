"""Logs: one event per line, `event key=value ...`, with values quoted when they hold spaces."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable


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


def setup(level_name: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("hiddenprimary")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level_name.upper(), logging.INFO))
    root.propagate = False


FLOOD_LOG_INTERVAL_S = 10.0


class RateLimitedEvent:
    """One event name logged at most once per `interval_s` (a flood must not flood the log); each
    line says how many were left out since the one before (`suppressed=N`)."""

    def __init__(self, logger: logging.Logger, name: str, level: int, now: Callable[[], float],
                 interval_s: float = FLOOD_LOG_INTERVAL_S):
        self._logger, self._name, self._level = logger, name, level
        self._interval_s = interval_s
        self._now = now
        self._last: float | None = None
        self._suppressed = 0

    def __call__(self, **fields: object) -> None:
        now = self._now()
        if self._last is not None and now - self._last < self._interval_s:
            self._suppressed += 1
            return
        event(self._logger, self._name, self._level, **fields, suppressed=self._suppressed or None)
        self._last, self._suppressed = now, 0
