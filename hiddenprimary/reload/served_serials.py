"""The highest serial each zone was about to serve, kept apart from the journals (one small sqlite
file for all zones, synchronous=FULL) so that even a lost or damaged journal cannot send a zone's
serial backwards across a restart: secondaries holding a higher serial would ignore the zone for
ever (RFC 1982). Written right after each journal commit, before the version is published: a
failed commit never raises it, and a crash in between leaves the journal ahead, which restoring
it records."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import ContextManager

import dns.name

from hiddenprimary import data_dir as paths
from hiddenprimary.reload.journal import JournalCorrupt, JournalError, classify
from hiddenprimary.zone import serial as serials

FILENAME = paths.SERVED_SERIALS
_WHAT = "served-serial file"
_SCHEMA = "CREATE TABLE IF NOT EXISTS served (zone TEXT PRIMARY KEY, serial INTEGER NOT NULL);"


class ServedSerials:
    def __init__(self, data_dir: str, now: float, lock: ContextManager | None = None):
        """Open (or create) the file. A damaged one is moved aside (`.corrupt-<now>`) and started
        afresh: the journals still hold each zone's serial, and restoring one records it again.
        Raises JournalUnavailable when the file is out of reach (locked, permissions). `lock`:
        held around each use (re-entrant; the daemon's worker threads share the connection)."""
        self.path = os.path.join(data_dir, FILENAME)
        self._lock = lock if lock is not None else contextlib.nullcontext()
        try:
            self._db = _open(self.path)
        except JournalCorrupt as e:
            aside = f"{self.path}.corrupt-{int(now)}"
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.replace(self.path + suffix, aside + suffix)
            self.problem = f"{e}; moved to {aside}"
            self._db = _open(self.path)
        else:
            self.problem = None

    def get(self, zone: dns.name.Name) -> int | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT serial FROM served WHERE zone = ?", (_key(zone),)).fetchone()
        except sqlite3.Error as e:
            raise classify(self.path, e, "read", _WHAT) from e
        return None if row is None else row[0]

    def record(self, zone: dns.name.Name, serial: int) -> None:
        """Remember `serial` (raising the floor only: RFC 1982 greater), durably."""
        self.record_many([(zone, serial)])

    def record_many(self, serials_of: list[tuple[dns.name.Name, int]]) -> None:
        """`record` for several zones, in one transaction (one fsync: a batch of commits)."""
        try:
            with self._lock:
                raise_to = []
                for zone, serial in serials_of:
                    row = self._db.execute("SELECT serial FROM served WHERE zone = ?", (_key(zone),)).fetchone()
                    if row is None or serials.compare(serial, row[0]) is serials.Order.GREATER:
                        raise_to.append((_key(zone), serial))
                if not raise_to:
                    return
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO served VALUES (?, ?)", raise_to)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as e:
            what = ", ".join(f"{zone} {serial}" for zone, serial in serials_of[:3])
            raise JournalError(f"{self.path}: cannot record the served serial ({what}): {e}") from e

    def close(self) -> None:
        self._db.close()


def _open(path: str) -> sqlite3.Connection:
    db = None
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise JournalCorrupt(f"{path}: the {_WHAT} is damaged")
        db.executescript(_SCHEMA)
        return db
    except sqlite3.Error as e:
        if db is not None:
            db.close()
        raise classify(path, e, "open", _WHAT) from e
    except JournalCorrupt:
        db.close()
        raise


def _key(zone: dns.name.Name) -> str:
    return zone.to_text().lower()
