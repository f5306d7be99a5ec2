"""What each secondary did, per zone: SOA queries seen, transfers (kind, serials, size, time,
outcome) and NOTIFY state. Kept in `data_dir/activity.sqlite` so `hpctl status` still knows after a
restart where every secondary stands. Losing the last few rows in a crash is harmless, so it is
written with synchronous=NORMAL (no fsync per row), unlike the journal."""

from __future__ import annotations

from hiddenprimary.state_db import open_state_db

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
        self.path, self._db = open_state_db(data_dir, "activity.sqlite", _SCHEMA)

    def close(self) -> None:
        self._db.close()

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
        self._db.execute(
            "INSERT INTO soa_queries VALUES (?, ?, ?, 1, ?) ON CONFLICT (zone, secondary, peer)"
            " DO UPDATE SET count = count + 1, last_at = excluded.last_at", (zone, secondary, peer, at))

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
        soa = self._db.execute("SELECT coalesce(sum(count), 0), max(last_at) FROM soa_queries"
                               " WHERE zone = ? AND secondary = ?", (zone, secondary)).fetchone()
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
