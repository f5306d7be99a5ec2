"""Helpers every test folder uses: waiting for a condition with a deadline (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05,
             explain: Callable[[], str] | None = None) -> None:
    """Poll `condition` until it is true; fail after `timeout` seconds, with `explain()` (e.g. the
    daemon's log tail) in the message."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, explain() if explain is not None else "condition not met in time"
        time.sleep(interval)
