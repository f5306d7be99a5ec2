"""The highest serial each zone was about to serve, kept apart from the journals (one small sqlite
file for all zones, synchronous=FULL) so that even a lost or damaged journal cannot send a zone's
serial backwards across a restart: secondaries holding a higher serial would ignore the zone for
ever (RFC 1982). Written before the journal commit, so it is never below what was served."""

from __future__ import annotations

import os
import sqlite3

import dns.name

from hiddenprimary.journal import JournalError, classify
from hiddenprimary.zone import serial as serials

FILENAME = "served_serials.sqlite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS served (zone TEXT PRIMARY KEY, serial INTEGER NOT NULL);"


class ServedSerials:
    def __init__(self, data_dir: str):
        self.path = os.path.join(data_dir, FILENAME)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise classify(self.path, e, "open") from e

    def get(self, zone: dns.name.Name) -> int | None:
        row = self._db.execute("SELECT serial FROM served WHERE zone = ?", (_key(zone),)).fetchone()
        return None if row is None else row[0]

    def record(self, zone: dns.name.Name, serial: int) -> None:
        """Remember `serial` (raising the floor only: RFC 1982 greater), durably. Reload threads
        share the connection (sqlite is serialized, threadsafety 3); one zone's reloads run one
        at a time, so its row has one writer."""
        try:
            row = self._db.execute("SELECT serial FROM served WHERE zone = ?", (_key(zone),)).fetchone()
            if row is not None and serials.compare(serial, row[0]) is not serials.Order.GREATER:
                return
            self._db.execute("INSERT OR REPLACE INTO served VALUES (?, ?)", (_key(zone), serial))
        except sqlite3.Error as e:
            raise JournalError(f"{self.path}: cannot record the served serial {serial}: {e}") from e

    def close(self) -> None:
        self._db.close()


def _key(zone: dns.name.Name) -> str:
    return zone.to_text().lower()
