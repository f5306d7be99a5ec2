"""The cyclic garbage collector paused while a reload plans (issue 13): a load makes about ten
objects per record, none of them in cycles, and every 700 new objects the collector scans the
young ones again (and now and then the whole heap): a third of a 100k-record reload. Cycles
made meanwhile (Twisted's Deferreds, tracebacks) wait until the last planning reload ends,
which `limits.reload_timeout_s` bounds; the runner freezes what survives after publishing."""

from __future__ import annotations

import contextlib
import gc
import threading

_lock = threading.Lock()
_pauses = 0  # reloads planning now; the collector runs again when the last one ends
_was_enabled = True


@contextlib.contextmanager
def gc_paused():
    """Pause automatic collection for the block; safe across threads and nested use: it comes
    back (if it was on before the first pause) when the last block ends, error or not."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
