"""Where each API secondary stands, per zone: the last serial applied to the provider and when,
the last error (with the provider's message and the RRsets concerned), the RRsets skipped and the
last sync's figures. Kept in `data_dir/api_sync.sqlite` so a restart catches up from the journal
instead of re-reading every hosted zone. Written on the reactor thread only (as activity.py).

Losing the last row in a crash is harmless: the restart then replays diffs the provider already
has, the provider refuses them (a CREATE of what exists, a DELETE of what is gone) and the sync
re-plans from a full read. So synchronous=NORMAL, no fsync per row (as activity.sqlite)."""

from __future__ import annotations

import dataclasses
import json

from hiddenprimary.state_db import open_state_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_sync (
    zone TEXT NOT NULL, secondary TEXT NOT NULL,
    serial INTEGER, applied_at REAL,
    error TEXT, error_at REAL, failures INTEGER NOT NULL DEFAULT 0,
    skipped TEXT, last_sync TEXT,
    PRIMARY KEY (zone, secondary)
);
"""


@dataclasses.dataclass
class PairState:
    serial: int | None = None  # the last serial the provider holds (None: never synced)
    applied_at: float | None = None
    error: dict | None = None  # {"message", "code", "provider_message", "rrsets": [[name, type, action]], "at"}
    failures: int = 0  # consecutive failed syncs
    skipped: dict | None = None  # {"counts": {reason: n}, "examples": [[name, type, reason]]}
    last_sync: dict | None = None  # {"mode", "serial", "deletes", "upserts", "creates", "requests", "seconds"}


class ApiState:
    def __init__(self, data_dir: str):
        self.path, self._db = open_state_db(data_dir, "api_sync.sqlite", _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def load(self) -> dict[tuple[str, str], PairState]:
        rows = self._db.execute("SELECT zone, secondary, serial, applied_at, error, failures, skipped, last_sync"
                                " FROM api_sync").fetchall()
        return {(zone, sec): PairState(serial, at, _json(error), failures, _json(skipped), _json(last))
                for zone, sec, serial, at, error, failures, skipped, last in rows}

    def save(self, zone: str, secondary: str, state: PairState) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO api_sync (zone, secondary, serial, applied_at, error, error_at, failures,"
            " skipped, last_sync) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (zone, secondary, state.serial, state.applied_at, _dump(state.error),
             None if state.error is None else state.error.get("at"), state.failures, _dump(state.skipped),
             _dump(state.last_sync)))


def _dump(value) -> str | None:
    return None if value is None else json.dumps(value)


def _json(text: str | None):
    return None if text is None else json.loads(text)
