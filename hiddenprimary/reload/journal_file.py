"""`data_dir/journal.sqlite`, the journal file of every zone, as the Reloader uses it: opened on
first use, and again at a later reload when it could not be (locked by another process, no
permission: left as it is). A file sqlite finds damaged is moved aside whole (never deleted) and
a fresh one started: each zone then loads from its zone file above its served serial. Journals
of one file per zone (before issue 15) are imported zone by zone as they are restored."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import ContextManager

import dns.name

from hiddenprimary import data_dir as paths
from hiddenprimary.clock import Clock
from hiddenprimary.logs import event
from hiddenprimary.reload.journal import LOCK_WAIT_S, Journal, JournalCorrupt, JournalDb

log = logging.getLogger("hiddenprimary.journal")


class JournalFile:
    def __init__(self, data_dir: str, clock: Clock, lock_wait: float = LOCK_WAIT_S,
                 lock: ContextManager | None = None):
        """`lock`: re-entrant, held around each use of the file's connection (the Reloader's
        worker threads share it); none: one thread only."""
        self.data_dir = data_dir
        self.path = os.path.join(data_dir, paths.JOURNAL_DB)
        self.clock = clock
        self.lock_wait = lock_wait
        self.moved_aside: str | None = None  # why the last file was moved aside (whole), if it was
        self._db: JournalDb | None = None
        self._lock = lock if lock is not None else contextlib.nullcontext()

    def db(self) -> JournalDb:
        """The open file. JournalUnavailable when it cannot be opened now."""
        with self._lock:
            if self._db is None:
                os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
                try:
                    self._db = JournalDb(self.path, self.lock_wait, self.clock, self._lock)
                except JournalCorrupt as e:
                    aside = move_aside(self.path, "corrupt", self.clock)
                    self.moved_aside = f"{e}; moved to {aside}"
                    event(log, "journal.file_corrupt", logging.ERROR, error=e, moved_to=aside)
                    self._db = JournalDb(self.path, self.lock_wait, self.clock, self._lock)
            return self._db

    def journal(self, zone: dns.name.Name) -> tuple[Journal, str | None]:
        """The zone's journal, a schema-1 file of the zone's own taken in first; and the old
        file's new name when one was (`<file>.imported`, kept until the operator removes it)."""
        db = self.db()
        imported = None
        legacy = paths.adopt_legacy_journal(self.data_dir, zone) or None
        old = paths.journal_path(self.data_dir, zone)
        if os.path.isfile(old) and not db.has_rows(zone):
            db.import_v1(zone, old)
            imported = f"{old}.imported"
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(old + suffix):
                    os.replace(old + suffix, imported + suffix)
            event(log, "journal.imported", zone=zone, old=legacy or old, kept_as=imported)
        return db.journal(zone), imported

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def move_aside(path: str, why: str, clock: Clock) -> str:
    """Rename a journal file (and its sqlite side files) to `<path>.<why>-<time>`: never deleted."""
    aside = f"{path}.{why}-{int(clock.wall())}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    return aside
