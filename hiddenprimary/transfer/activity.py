"""What each secondary did, per zone: SOA queries seen, transfers (kind, serials, size, time,
outcome) and NOTIFY state. Kept in `data_dir/activity.sqlite` so `hpctl status` still knows after a
restart where every secondary stands. Losing the last few rows in a crash is harmless, so it is
written with synchronous=NORMAL (no fsync per row), unlike the journal.

SOA queries come at query rate, so `soa_query` only counts in memory; the caller hands batches
from `take_soa_queries` to `write_soa_queries` (in a worker thread, every few seconds, and at
shutdown). The totals `secondary_view` reports are kept in memory too (the table's at open plus
every count since), so they never depend on how far a flush got."""

from __future__ import annotations

import sqlite3

from hiddenprimary.state_db import open_state_db

SoaBatch = dict  # (zone, secondary, peer) -> [count, last_at]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    zone TEXT NOT NULL, secondary TEXT NOT NULL, peer TEXT NOT NULL, kind TEXT NOT NULL,
    serial_from INTEGER, serial_to INTEGER NOT NULL, messages INTEGER NOT NULL, bytes INTEGER NOT NULL,
    duration_ms REAL NOT NULL, outcome TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS transfers_by_secondary ON transfers (zone, secondary, id);
CREATE TABLE IF NOT EXISTS soa_queries (
    zone TEXT NOT NULL, secondary TEXT NOT NULL, peer TEXT NOT NULL, count INTEGER NOT NULL,
    last_at REAL NOT NULL, PRIMARY KEY (zone, secondary, peer)
);
CREATE TABLE IF NOT EXISTS notifies (
    zone TEXT NOT NULL, secondary TEXT NOT NULL, target TEXT NOT NULL, serial INTEGER NOT NULL,
    sent INTEGER NOT NULL, acked_at REAL, failed INTEGER NOT NULL, error TEXT, at REAL NOT NULL,
    PRIMARY KEY (zone, target)
);
"""

KEEP_TRANSFERS = 200  # per zone and secondary


class Activity:
    def __init__(self, data_dir: str):
        self._data_dir = data_dir
        self.path, self._db = open_state_db(data_dir, "activity.sqlite", _SCHEMA)
        self._worker_db: sqlite3.Connection | None = None  # write_soa_queries(worker=True) only
        self._soa_pending: SoaBatch = {}
        self._soa_totals: dict[tuple[str, str], list] = {
            (zone, secondary): [count, last_at] for zone, secondary, count, last_at in self._db.execute(
                "SELECT zone, secondary, sum(count), max(last_at) FROM soa_queries GROUP BY zone, secondary")}

    def close(self) -> None:
        self._db.close()
        if self._worker_db is not None:
            self._worker_db.close()

    def transfer(self, zone: str, secondary: str, peer: str, kind: str, serial_from: int | None,
                 serial_to: int, messages: int, size: int, duration_ms: float, outcome: str, at: float) -> None:
        self._db.execute(
            "INSERT INTO transfers (zone, secondary, peer, kind, serial_from, serial_to, messages, bytes,"
            " duration_ms, outcome, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (zone, secondary, peer, kind, serial_from, serial_to, messages, size, duration_ms, outcome, at))
        self._db.execute(
            "DELETE FROM transfers WHERE zone = ? AND secondary = ? AND id <= (SELECT id FROM transfers"
            " WHERE zone = ? AND secondary = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (zone, secondary, zone, secondary, KEEP_TRANSFERS))

    def soa_query(self, zone: str, secondary: str, peer: str, at: float) -> None:
        """Count one SOA query, in memory only (no sqlite on the caller's thread)."""
        pending = self._soa_pending.get((zone, secondary, peer))
        if pending is None:
            self._soa_pending[(zone, secondary, peer)] = [1, at]
        else:
            pending[0] += 1
            pending[1] = at
        total = self._soa_totals.get((zone, secondary))
        if total is None:
            self._soa_totals[(zone, secondary)] = [1, at]
        else:
            total[0] += 1
            total[1] = at

    def take_soa_queries(self) -> SoaBatch:
        """The counts not written yet, handed over (for `write_soa_queries`) and forgotten here."""
        batch, self._soa_pending = self._soa_pending, {}
        return batch

    def return_soa_queries(self, batch: SoaBatch) -> None:
        """Put back a batch whose write failed, so the next flush writes it."""
        for key, (count, at) in batch.items():
            pending = self._soa_pending.setdefault(key, [0, at])
            pending[0] += count
            pending[1] = max(pending[1], at)

    def write_soa_queries(self, batch: SoaBatch, worker: bool = False) -> None:
        """Add `batch` to the table in one transaction. `worker`: called from a worker thread,
        through a connection of its own (the main one belongs to the caller's thread)."""
        if not batch:
            return
        if worker:
            if self._worker_db is None:
                self._worker_db = open_state_db(self._data_dir, "activity.sqlite", _SCHEMA, check_same_thread=False)[1]
            db = self._worker_db
        else:
            db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO soa_queries VALUES (?, ?, ?, ?, ?) ON CONFLICT (zone, secondary, peer)"
                " DO UPDATE SET count = count + excluded.count, last_at = max(last_at, excluded.last_at)",
                [(*key, count, at) for key, (count, at) in batch.items()])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def notify(self, zone: str, secondary: str, target: str, serial: int, sent: int, acked_at: float | None,
               failed: bool, error: str | None, at: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO notifies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (zone, secondary, target, serial, sent, acked_at, int(failed), error, at))

    def secondary_view(self, zone: str, secondary: str) -> dict:
        """The last good transfer, the last attempt, SOA queries and NOTIFY state of one secondary."""
        columns = ("peer", "kind", "serial_from", "serial_to", "messages", "bytes", "duration_ms", "outcome", "at")
        query = f"SELECT {', '.join(columns)} FROM transfers WHERE zone = ? AND secondary = ?"
        last_ok = self._db.execute(query + " AND outcome = 'ok' ORDER BY id DESC LIMIT 1",
                                   (zone, secondary)).fetchone()
        last = self._db.execute(query + " ORDER BY id DESC LIMIT 1", (zone, secondary)).fetchone()
        soa = self._soa_totals.get((zone, secondary), (0, None))
        notifies = self._db.execute(
            "SELECT target, serial, sent, acked_at, failed, error, at FROM notifies WHERE zone = ? AND secondary = ?"
            " ORDER BY target", (zone, secondary)).fetchall()
        return {
            "last_transfer": dict(zip(columns, last_ok)) if last_ok else None,
            "last_attempt": dict(zip(columns, last)) if last else None,
            "soa_queries": soa[0], "last_soa_query": soa[1],
            "notify": [dict(zip(("target", "serial", "sent", "acked_at", "failed", "error", "at"), row))
                       for row in notifies],
        }
