"""Opening the daemon's bookkeeping databases (activity, API sync state): sqlite in WAL mode with
synchronous=NORMAL, since a lost last row only costs a little history or a re-plan, unlike the
journal (synchronous=FULL)."""

from __future__ import annotations

import os
import sqlite3


def open_state_db(data_dir: str, filename: str, schema: str,
                  check_same_thread: bool = True) -> tuple[str, sqlite3.Connection]:
    """(path, connection) of `data_dir/filename`, created with `schema` when new.
    `check_same_thread=False` for a connection a pool's threads take turns with."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    path = os.path.join(data_dir, filename)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=check_same_thread)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return path, db
