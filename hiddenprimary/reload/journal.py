"""The journal: each zone's diffs that feed IXFR and its last published content, for every zone in
one sqlite3 file (`data_dir/journal.sqlite`, WAL, synchronous=FULL), so a commit is durable before
the version is published and a crash leaves either the old version or the new one, whole.

Content is kept as a snapshot (some version, whole) plus the diffs after it; the current version
is the snapshot with those diffs applied. The snapshot moves forward when the diffs after it grow
large, and the oldest diffs are trimmed to the configured limits, never past the snapshot.

One file for every zone (issue 15): a sqlite connection costs ~220 KiB and three descriptors, and
a file per zone made 2,000 small zones 440 MiB and 6,000 files. `JournalDb` is the file and its
one connection (every use under its lock, which the daemon makes a threading.RLock: a
transaction must not interleave with another thread's); `Journal` is one zone's part of it. A zone whose rows are damaged is moved aside alone
(into a file of its own); a file sqlite finds damaged is moved aside whole."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import contextlib
import sqlite3
import time
from typing import ContextManager

import dns.name

from hiddenprimary import data_dir
from hiddenprimary.clock import Clock, SystemClock
from hiddenprimary.errors import HiddenPrimaryError
from hiddenprimary.zone import codec
from hiddenprimary.zone.diff import Diff, apply
from hiddenprimary.zone.version import ZoneVersion
from hiddenprimary.zone.wire_version import WireVersion

SCHEMA_VERSION = 2  # 1: one file per zone (imported by `JournalDb.journal`)

_BLOB_CHUNK = 1 << 20  # snapshot bytes written per call

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS zones (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS meta (
    zone INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (zone, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS diffs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    zone INTEGER NOT NULL,
    serial_from INTEGER NOT NULL,
    serial_to INTEGER NOT NULL,
    soa_from BLOB NOT NULL,
    soa_to BLOB NOT NULL,
    removed BLOB NOT NULL,
    added BLOB NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS diffs_by_zone ON diffs (zone, seq);
CREATE TABLE IF NOT EXISTS snapshot (
    zone INTEGER PRIMARY KEY,     -- the rowid: blob I/O writes the content in place
    serial INTEGER NOT NULL,
    after_seq INTEGER NOT NULL,   -- the zone's diffs with seq > after_seq lead from it to the current version
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_index (   -- zone.snapshot_index of the snapshot, a cache
    zone INTEGER PRIMARY KEY,
    snapshot_sha256 TEXT NOT NULL,            -- the snapshot it indexes
    sha256 TEXT NOT NULL,                     -- of `content`
    content BLOB NOT NULL
);
"""
_ZONE_TABLES = ("meta", "diffs", "snapshot", "snapshot_index")
# A journal file of schema 1 (one zone per file), read to import it.
_V1_TABLES = {"meta": "key, value", "diffs": "seq, serial_from, serial_to, soa_from, soa_to, removed, added, size",
              "snapshot": "serial, after_seq, content", "snapshot_index": "snapshot_sha256, sha256, content"}


class JournalError(HiddenPrimaryError):
    """The journal could not be written (disk full, permissions): nothing was published."""


class JournalCorrupt(JournalError):
    """The journal file is damaged (checksum, format, not a journal): the only case in which it is
    moved aside."""


class JournalUnavailable(JournalError):
    """The journal cannot be used now but is not known to be damaged: locked by another process
    past the wait, no permission, an I/O error. Nothing is moved or rewritten."""


# sqlite's primary result codes that say "cannot get at the file", not "the file is damaged":
# PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, AUTH.
_ACCESS_CODES = frozenset({3, 5, 6, 7, 8, 10, 13, 14, 23})
_LOCK_CODES = frozenset({5, 6})  # BUSY, LOCKED: worth waiting for
LOCK_WAIT_S = 10.0  # how long a start-up waits for another process's lock before giving up


def is_access_problem(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _ACCESS_CODES


def _is_lock(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _LOCK_CODES


def classify(path: str, e: sqlite3.Error, doing: str, what: str = "journal") -> JournalError:
    """The error for sqlite's `e` on a state file (`what`): unavailable (access) or corrupt (damage)."""
    if is_access_problem(e):
        return JournalUnavailable(f"{path}: cannot {doing} the {what}: {e} "
                                  "(the file was left as it is; fix access and reload)")
    return JournalCorrupt(f"{path}: {what} is damaged or not a {what} ({e})")


@dataclasses.dataclass(frozen=True)
class JournalInfo:
    first_serial: int | None  # the oldest serial IXFR can start from
    last_serial: int | None  # the serial of the current version
    entries: int
    size_bytes: int


@dataclasses.dataclass(frozen=True)
class Saved:
    """Everything a restart restores of one zone, read in one go (`Journal.read_all`)."""

    version: WireVersion | None
    history: tuple[Diff, ...]  # every diff held, oldest first
    info: JournalInfo
    file_serial: int | None
    load_mark: str | None
    expires: int | None


def _soa_bytes(diff_soa) -> bytes:
    return codec.encode([(dns.name.root, diff_soa)])


def _soa_from_bytes(data: bytes):
    [(_, rds)] = list(codec.decode(data))
    return rds


class JournalDb:
    """The journal file of every zone and its one connection."""

    def __init__(self, path: str, lock_wait: float = LOCK_WAIT_S, clock: Clock | None = None,
                 lock: ContextManager | None = None):
        """Open (or create) the file. Another process's lock is waited for up to `lock_wait`
        seconds; then, as for any access problem, JournalUnavailable. JournalCorrupt only for
        damage (not a database, a failed quick_check, another schema). `lock`: held around each
        use of the connection, re-entered by nested uses (none: one thread only)."""
        self.path = path
        self.lock = lock if lock is not None else contextlib.nullcontext()
        self._ids: dict[str, int] = {}
        self._made: list[str] = []  # ids made in the transaction under way
        clock = clock or SystemClock()  # a lock is waited for in real time
        deadline = clock.monotonic() + lock_wait
        while True:
            try:
                self._open(lock_wait)
                return
            except sqlite3.Error as e:
                self._close_quietly()
                # Some lock states fail at once rather than through sqlite's busy wait: retry.
                if _is_lock(e) and clock.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise classify(path, e, "open") from e
            except JournalError:
                self._close_quietly()
                raise

    def _open(self, lock_wait: float) -> None:
        self.db = None
        # No statement cache: a cached statement keeps its last bound values, and the snapshot
        # INSERT's is a copy of the whole zone (13 MiB at 300k records) held until the next one.
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                  timeout=max(0.0, lock_wait), cached_statements=0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        ok = self.db.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise JournalCorrupt(f"{self.path}: journal is damaged ({ok})")
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "info" not in tables:
            raise JournalCorrupt(f"{self.path}: not a journal of every zone (tables: {', '.join(sorted(tables))})")
        self.db.executescript(_SCHEMA)
        schema = self.db.execute("SELECT value FROM info WHERE key = 'schema'").fetchone()
        if schema is None:
            with self.transaction():
                self.db.execute("INSERT INTO info VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif schema[0] != str(SCHEMA_VERSION):
            raise JournalCorrupt(f"{self.path}: journal schema {schema[0]}, expected {SCHEMA_VERSION}")

    def _close_quietly(self) -> None:
        db, self.db = getattr(self, "db", None), None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    def close(self) -> None:
        with self.lock:
            self._close_quietly()

    def transaction(self) -> _Transaction:
        return _Transaction(self.db, self.path, self.lock, self._ended)

    def zone_id(self, origin: dns.name.Name | str, create: bool = True) -> int | None:
        """The zone's id (`origin`, or its key: lower-case text with the final dot); None when
        it has none and `create` is false. Made in the caller's transaction when there is one:
        if that rolls back, the id is forgotten with it."""
        key = origin if isinstance(origin, str) else origin.to_text().lower()
        found = self._ids.get(key)
        if found is not None:
            return found
        with self.lock:
            row = self.db.execute("SELECT id FROM zones WHERE name = ?", (key,)).fetchone()
            if row is None:
                if not create:
                    return None
                with self.transaction():
                    row = (self.db.execute("INSERT INTO zones (name) VALUES (?)", (key,)).lastrowid,)
                    self._made.append(key)
            self._ids[key] = row[0]
            return row[0]

    def _ended(self, committed: bool) -> None:
        """The outermost transaction ended: ids made in it stay only if it was committed."""
        if not committed:
            for key in self._made:
                self._ids.pop(key, None)
        self._made = []

    def journal(self, origin: dns.name.Name) -> Journal:
        """The zone's journal (empty for a zone never saved)."""
        return Journal(self, origin)

    def has_rows(self, origin: dns.name.Name) -> bool:
        zone = self.zone_id(origin, create=False)
        if zone is None:
            return False
        with self.lock:
            return self.db.execute("SELECT 1 FROM snapshot WHERE zone = ? UNION ALL "
                                   "SELECT 1 FROM meta WHERE zone = ? LIMIT 1", (zone, zone)).fetchone() is not None

    def import_v1(self, origin: dns.name.Name, path: str) -> None:
        """Take a zone's journal file of schema 1 (before every zone shared one file) into this
        one, in one transaction. The caller renames the old file afterwards."""
        try:
            old = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        except sqlite3.Error as e:
            raise classify(path, e, "open") from e
        try:
            rows = {table: old.execute(f"SELECT {columns} FROM {table}").fetchall()  # noqa: S608 - fixed names
                    for table, columns in _V1_TABLES.items()}
        except sqlite3.Error as e:
            raise classify(path, e, "read") from e
        finally:
            old.close()
        meta = dict(rows["meta"])
        if meta.get("schema") != "1" or dns.name.from_text(meta.get("zone", ".")) != origin:
            raise JournalCorrupt(f"{path}: not a journal of zone {origin} (schema {meta.get('schema')})")
        with self.transaction():
            zone = self.zone_id(origin)
            for table in _ZONE_TABLES:
                self.db.execute(f"DELETE FROM {table} WHERE zone = ?", (zone,))  # noqa: S608
            self.db.executemany("INSERT INTO meta VALUES (?, ?, ?)",
                                [(zone, k, v) for k, v in rows["meta"] if k not in ("schema", "zone")])
            seqs = {}
            for seq, *rest in rows["diffs"]:
                seqs[seq] = self.db.execute(
                    "INSERT INTO diffs (zone, serial_from, serial_to, soa_from, soa_to, removed, added, size) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (zone, *rest)).lastrowid
            for serial, after_seq, content in rows["snapshot"]:
                # after_seq named a seq of the old file: the new seq of the last diff at or before it.
                kept = [new for old_seq, new in seqs.items() if old_seq <= after_seq]
                floor = max(kept) if kept else (min(seqs.values()) - 1 if seqs else 0)
                self.db.execute("INSERT INTO snapshot VALUES (?, ?, ?, ?)", (zone, serial, floor, content))
            for row in rows["snapshot_index"]:
                self.db.execute("INSERT INTO snapshot_index VALUES (?, ?, ?, ?)", (zone, *row))


class Journal:
    """One zone's journal in a `JournalDb`. `Journal(path, origin)` opens a file of its own (the
    tests' way); the daemon makes every zone's from one JournalDb (`JournalDb.journal`)."""

    def __init__(self, db: JournalDb | str, origin: dns.name.Name, lock_wait: float = LOCK_WAIT_S,
                 clock: Clock | None = None):
        self._owns = not isinstance(db, JournalDb)
        self.store = JournalDb(db, lock_wait, clock) if self._owns else db
        self.path = self.store.path
        self.origin = origin
        self._lock = self.store.lock
        self._key = origin.to_text().lower()
        try:
            self.store.zone_id(self._key, create=False)
        except sqlite3.Error as e:
            if self._owns:
                self.store.close()
            raise classify(self.path, e, "open") from e

    @property
    def _zone(self) -> int:
        """The zone's id; -1 (no row has it) for a zone never written: its first write makes
        one, in that write's transaction (a first start of 10,000 zones: no fsync of its own)."""
        return self.store.zone_id(self._key, create=False) or -1

    @property
    def _db(self) -> sqlite3.Connection:
        return self.store.db

    def _txn(self):
        return _ZoneWrite(self)

    def close(self) -> None:
        if self._owns:
            self.store.close()

    def move_aside(self, aside: str) -> None:
        """Copy this zone's rows into a new file `aside` (a journal file of its own, never
        deleted: it may hold the only copy of history), then drop them from the shared file."""
        with self._lock:
            try:
                self._copy_to(aside)
            except JournalError:  # a value that is not what its column says: copied as bytes
                os.unlink(aside)
                self._db.text_factory = bytes
                try:
                    self._copy_to(aside)
                finally:
                    self._db.text_factory = str
            with self._txn():
                for table in _ZONE_TABLES:
                    self._db.execute(f"DELETE FROM {table} WHERE zone = ?", (self._zone,))  # noqa: S608

    def _copy_to(self, aside: str) -> None:
        copy = JournalDb(aside)
        try:
            target = copy.zone_id(self.origin)
            with copy.transaction():
                for table in _ZONE_TABLES:
                    rows = self._db.execute(f"SELECT * FROM {table} WHERE zone = ?", (self._zone,)).fetchall()  # noqa: S608
                    if rows:
                        marks = ", ".join("?" * len(rows[0]))
                        zone_column = 1 if table == "diffs" else 0
                        copy.db.executemany(f"INSERT INTO {table} VALUES ({marks})",  # noqa: S608
                                            [(*r[:zone_column], target, *r[zone_column + 1:]) for r in rows])
        finally:
            copy.close()

    # -- writing ---------------------------------------------------------------------------------

    def save_first(self, version: ZoneVersion, file_serial: int | None = None, load_mark: str | None = None,
                   expires: int | None = None) -> None:
        """Record a zone's first version (no diff): the snapshot, with no history."""
        with self._txn():
            self._db.execute("DELETE FROM diffs WHERE zone = ?", (self._zone,))
            self._write_snapshot(version, after_seq=self._max_seq())
            self._write_load(file_serial, load_mark)
            self._write_expires(expires)

    def append(self, diff: Diff, new: ZoneVersion, *, max_entries: int, max_bytes: int,
               file_serial: int | None = None, load_mark: str | None = None, expires: int | None = None) -> None:
        """Commit `diff` (which leads to `new`) durably, then trim the oldest diffs to the limits.
        `file_serial`, when given, is the zone file's serial that `new` was loaded from, and
        `load_mark` what that load read (reload.plan.LoadMark); a re-sign gives neither.
        `expires`: the earliest signature expiration of a signed `new` (None: unsigned)."""
        removed = codec.encode(diff.removed)
        added = codec.encode(diff.added)
        size = len(removed) + len(added)
        zone = self._zone
        with self._txn():
            seq = self._db.execute(
                "INSERT INTO diffs (zone, serial_from, serial_to, soa_from, soa_to, removed, added, size)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (zone, diff.serial_from, diff.serial_to, _soa_bytes(diff.soa_from), _soa_bytes(diff.soa_to),
                 removed, added, size)).lastrowid
            after_seq, snap_bytes = self._db.execute(
                "SELECT after_seq, length(content) FROM snapshot WHERE zone = ?", (zone,)).fetchone() or (None, 0)
            pending_count, pending_bytes = self._db.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM diffs WHERE zone = ? AND seq > ?",
                (zone, after_seq or 0)).fetchone()
            # Move the snapshot forward when replaying the diffs would cost more than reading it
            # whole, or when trimming would otherwise need diffs after it.
            if after_seq is None or pending_bytes > snap_bytes or pending_count >= max_entries:
                self._write_snapshot(new, after_seq=seq)
            self._trim(max_entries, max_bytes)
            self._write_load(file_serial, load_mark)
            self._write_expires(expires)

    def _set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self._db.execute("DELETE FROM meta WHERE zone = ? AND key = ?", (self._zone, key))
        else:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?, ?)", (self._zone, key, value))

    def _get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE zone = ? AND key = ?", (self._zone, key)).fetchone()
        return None if row is None else row[0]

    def _write_expires(self, expires: int | None) -> None:
        # The re-sign timer's due time after a restart, without a scan of every signature.
        self._set_meta("earliest_expiration", None if expires is None else str(expires))

    def _write_load(self, file_serial: int | None, load_mark: str | None) -> None:
        # In the commit's transaction: the `keep` serial check of a signed zone compares the next
        # file with the file serial, and a start skips loading a file whose bytes match the mark,
        # so neither may ever disagree with the version it came with. A load without a mark
        # drops the old one (it would describe another version).
        if file_serial is None:
            return
        self._set_meta("file_serial", str(file_serial))
        self._set_meta("load_mark", load_mark)

    def save_load_mark(self, load_mark: str) -> None:
        """A reload found the served version unchanged but read other bytes (a comment edited):
        the mark of that load, so the next start need not load the file again."""
        with self._txn():
            self._set_meta("load_mark", load_mark)

    def _write_snapshot(self, version: ZoneVersion | WireVersion, after_seq: int) -> None:
        if isinstance(version, WireVersion):
            parts, index = version.snapshot_parts()
        else:
            parts, index = [version.to_codec()], None
        # A restart splits the snapshot into owners without parsing its rdata: the digest is what
        # tells it the bytes are the ones written (sqlite checks its pages, not what is in them).
        digest = self._write_blob(version.serial, after_seq, parts)
        self._set_meta("snapshot_sha256", digest)
        if index is None:
            self._db.execute("DELETE FROM snapshot_index WHERE zone = ?", (self._zone,))
        else:
            self._db.execute("INSERT OR REPLACE INTO snapshot_index VALUES (?, ?, ?, ?)",
                             (self._zone, digest, hashlib.sha256(index).hexdigest(), index))

    def _write_blob(self, serial: int, after_seq: int, parts: list[bytes]) -> str:
        """The snapshot row with `parts` joined as its content, written through sqlite's blob
        I/O a megabyte at a time (binding one zone-sized value copies it holding the GIL); the
        SHA-256 hex digest of the content."""
        total = sum(map(len, parts))
        self._db.execute("INSERT OR REPLACE INTO snapshot (zone, serial, after_seq, content) VALUES (?, ?, ?, zeroblob(?))",
                         (self._zone, serial, after_seq, total))
        digest = hashlib.sha256()
        with self._db.blobopen("snapshot", "content", self._zone) as blob:
            start = 0
            while start < len(parts):
                end, size = start, 0
                while end < len(parts) and size < _BLOB_CHUNK:
                    size += len(parts[end])
                    end += 1
                chunk = b"".join(parts[start:end])
                digest.update(chunk)
                blob.write(chunk)
                start = end
        return digest.hexdigest()

    def _max_seq(self) -> int:
        # The file's, not the zone's: a first snapshot must sit after every diff ever numbered.
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM diffs").fetchone()[0]

    def _trim(self, max_entries: int, max_bytes: int) -> None:
        after_seq = self._db.execute("SELECT after_seq FROM snapshot WHERE zone = ?", (self._zone,)).fetchone()[0]
        rows = self._db.execute("SELECT seq, size FROM diffs WHERE zone = ? ORDER BY seq DESC", (self._zone,)).fetchall()
        kept, total, cut = 0, 0, None
        for seq, size in rows:
            if kept + 1 > max_entries or total + size > max_bytes:
                cut = seq
                break
            kept += 1
            total += size
        if cut is not None:
            # Never drop diffs the snapshot still needs to reach the current version.
            cut = min(cut, after_seq)
            self._db.execute("DELETE FROM diffs WHERE zone = ? AND seq <= ?", (self._zone, cut))

    # -- reading ---------------------------------------------------------------------------------

    def _diffs_after(self, seq: int) -> list[Diff]:
        with self._lock:
            rows = self._db.execute(
                "SELECT soa_from, soa_to, removed, added FROM diffs WHERE zone = ? AND seq > ? ORDER BY seq",
                (self._zone, seq)).fetchall()
        return [Diff(_soa_from_bytes(a), _soa_from_bytes(b), tuple(codec.decode(r)), tuple(codec.decode(ad)))
                for a, b, r, ad in rows]

    def load(self) -> WireVersion | None:
        """The last committed version (compact), or None when nothing was ever saved."""
        return self.read_all().version

    def read_all(self) -> Saved:
        """The last committed version, the history, the journal's figures and what the last load
        recorded, from one hold of the lock and four queries (a start restores every zone)."""
        zone = self._zone
        try:
            with self._lock:
                meta = dict(self._db.execute("SELECT key, value FROM meta WHERE zone = ?", (zone,)))
                snap = self._db.execute("SELECT serial, after_seq, content FROM snapshot WHERE zone = ?",
                                        (zone,)).fetchone()
                index = self._index_row() if snap is not None else None
                rows = self._db.execute("SELECT seq, serial_from, serial_to, soa_from, soa_to, removed, added, size "
                                        "FROM diffs WHERE zone = ? ORDER BY seq", (zone,)).fetchall()
            diffs = [(row[0], Diff(_soa_from_bytes(row[3]), _soa_from_bytes(row[4]), tuple(codec.decode(row[5])),
                                   tuple(codec.decode(row[6])))) for row in rows]
            version = None
            if snap is not None:
                serial, after_seq, content = snap
                digest = meta.get("snapshot_sha256")
                if digest is None:
                    for _ in codec.decode(content):
                        pass
                elif digest != hashlib.sha256(content).hexdigest():
                    raise ValueError("the snapshot does not match its SHA-256 digest")
                version = self._split(content, digest, index)
                for seq, d in diffs:
                    if seq > after_seq:
                        version = apply(d, version)
        except sqlite3.Error as e:
            if is_access_problem(e):
                raise classify(self.path, e, "read") from e
            raise JournalCorrupt(f"{self.path}: cannot rebuild the saved zone {self.origin}: {e}") from e
        except ValueError as e:
            raise JournalCorrupt(f"{self.path}: cannot rebuild the saved zone {self.origin}: {e}") from e
        last = rows[-1][2] if rows else (snap[0] if snap else None)
        info = JournalInfo(rows[0][1] if rows else last, last, len(rows), sum(row[7] for row in rows))
        file_serial, expires = meta.get("file_serial"), meta.get("earliest_expiration")
        return Saved(version, tuple(d for _, d in diffs) if version is not None else (), info,
                     None if file_serial is None else int(file_serial), meta.get("load_mark"),
                     None if expires is None else int(expires))

    def _index_row(self) -> tuple | None:
        try:
            return self._db.execute("SELECT snapshot_sha256, sha256, content FROM snapshot_index WHERE zone = ?",
                                    (self._zone,)).fetchone()
        except sqlite3.Error:  # a value that is not a blob any more: the snapshot is walked
            return None

    def _split(self, content: bytes, digest: str | None, row) -> WireVersion:
        """The snapshot as a version: cut by its index when the index is whole and is this
        snapshot's (else, a damaged or missing index, the snapshot is walked)."""
        if (row is not None and digest is not None and row[0] == digest and isinstance(row[2], bytes)
                and row[1] == hashlib.sha256(row[2]).hexdigest()):
            try:
                return WireVersion.from_snapshot(self.origin, content, row[2])
            except ValueError:
                pass
        return WireVersion.from_codec(self.origin, content)

    def file_serial(self) -> int | None:
        """The zone file's serial at the last committed load (None: never recorded)."""
        value = self._get_meta("file_serial")
        return None if value is None else int(value)

    def earliest_expiration(self) -> int | None:
        """The earliest signature expiration of the last committed version, as its signing run
        knew it (never later than the true one); None: unsigned or not recorded."""
        value = self._get_meta("earliest_expiration")
        return None if value is None else int(value)

    def load_mark(self) -> str | None:
        """The mark of the load the last committed version came from (None: not recorded)."""
        return self._get_meta("load_mark")

    def diffs(self) -> list[Diff]:
        """Every diff the journal holds, oldest first."""
        return self._diffs_after(0)

    def since(self, serial: int) -> list[Diff] | None:
        """The diffs from `serial` to the current version, in order; None when the journal does not
        reach back to `serial` (IXFR then falls back to a full transfer)."""
        if serial == self.info().last_serial:
            return []
        with self._lock:
            row = self._db.execute("SELECT min(seq) FROM diffs WHERE zone = ? AND serial_from = ?",
                                   (self._zone, serial)).fetchone()
        return None if row[0] is None else self._diffs_after(row[0] - 1)

    def info(self) -> JournalInfo:
        zone = self._zone
        with self._lock:
            count, size = self._db.execute("SELECT count(*), coalesce(sum(size), 0) FROM diffs WHERE zone = ?",
                                           (zone,)).fetchone()
            first = self._db.execute("SELECT serial_from FROM diffs WHERE zone = ? ORDER BY seq LIMIT 1",
                                     (zone,)).fetchone()
            last = self._db.execute("SELECT serial_to FROM diffs WHERE zone = ? ORDER BY seq DESC LIMIT 1",
                                    (zone,)).fetchone()
            snap = self._db.execute("SELECT serial FROM snapshot WHERE zone = ?", (zone,)).fetchone()
        last_serial = last[0] if last else (snap[0] if snap else None)
        return JournalInfo(first[0] if first else last_serial, last_serial, count, size)


class _ZoneWrite:
    """A zone's write transaction: the file's, with the zone's id made first if it had none."""

    def __init__(self, journal: Journal):
        self._journal = journal
        self._txn = journal.store.transaction()

    def __enter__(self):
        self._txn.__enter__()
        try:
            self._journal.store.zone_id(self._journal._key)
        except BaseException as e:
            self._txn.__exit__(type(e), e, e.__traceback__)
            raise

    def __exit__(self, exc_type, exc, tb):
        return self._txn.__exit__(exc_type, exc, tb)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT under the file's lock, turning sqlite's write errors into
    JournalError."""

    def __init__(self, db: sqlite3.Connection, path: str, lock: ContextManager, ended=None):
        self._db = db
        self._path = path
        self._lock = lock
        self._ended = ended or (lambda committed: None)

    def __enter__(self):
        self._lock.__enter__()
        # Inside a transaction this thread opened (under the lock, no other can have): a part of
        # it, as a zone's commit in a batch of commits (`JournalDb.transaction` around them).
        self._nested = self._db.in_transaction
        if self._nested:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:  # locked by another process past the busy wait, read-only, I/O
            self._lock.__exit__(None, None, None)
            raise JournalError(f"{self._path}: cannot write the journal: {e}") from e

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._nested:
                if isinstance(exc, sqlite3.Error):
                    raise JournalError(f"{self._path}: cannot write: {exc}") from exc
                return False
            return self._end(exc_type, exc)
        finally:
            self._lock.__exit__(None, None, None)

    def _end(self, exc_type, exc):
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                self._ended(True)
                return False
            except sqlite3.Error as e:
                self._rollback()
                raise JournalError(f"{self._path}: cannot commit: {e}") from e
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise JournalError(f"{self._path}: cannot write: {exc}") from exc
        return False

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._ended(False)


journal_path = data_dir.journal_path  # the one zone -> file-name rule, for the journal's users
