"""The per-zone journal: the zone diffs that feed IXFR, and the zone's last published content, in
one sqlite3 file (WAL, synchronous=FULL), so a commit is durable before the version is published
and a crash leaves either the old version or the new one, whole.

Content is kept as a snapshot (some version, whole) plus the diffs after it; the current version
is the snapshot with those diffs applied. The snapshot moves forward when the diffs after it grow
large, and the oldest diffs are trimmed to the configured limits, never past the snapshot."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import time

import dns.name

from hiddenprimary import data_dir
from hiddenprimary.clock import Clock, SystemClock
from hiddenprimary.errors import HiddenPrimaryError
from hiddenprimary.zone import codec
from hiddenprimary.zone.diff import Diff, apply
from hiddenprimary.zone.version import ZoneVersion
from hiddenprimary.zone.wire_version import WireVersion

SCHEMA_VERSION = 1

_BLOB_CHUNK = 1 << 20  # snapshot bytes written per call

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS diffs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    serial_from INTEGER NOT NULL,
    serial_to INTEGER NOT NULL,
    soa_from BLOB NOT NULL,
    soa_to BLOB NOT NULL,
    removed BLOB NOT NULL,
    added BLOB NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    serial INTEGER NOT NULL,
    after_seq INTEGER NOT NULL,   -- the diffs with seq > after_seq lead from it to the current version
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_index (   -- zone.snapshot_index of the snapshot, a cache
    id INTEGER PRIMARY KEY CHECK (id = 1),
    snapshot_sha256 TEXT NOT NULL,            -- the snapshot it indexes
    sha256 TEXT NOT NULL,                     -- of `content`
    content BLOB NOT NULL
);
"""


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


def _soa_bytes(diff_soa) -> bytes:
    return codec.encode([(dns.name.root, diff_soa)])


def _soa_from_bytes(data: bytes):
    [(_, rds)] = list(codec.decode(data))
    return rds


class Journal:
    def __init__(self, path: str, origin: dns.name.Name, lock_wait: float = LOCK_WAIT_S,
                 clock: Clock | None = None):
        """Open (or create) the journal. Another process's lock is waited for up to `lock_wait`
        seconds; then, as for any access problem, JournalUnavailable. JournalCorrupt only for
        damage."""
        self.path = path
        self.origin = origin
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
        self._db = None
        # No statement cache: a cached statement keeps its last bound values, and the snapshot
        # INSERT's is a copy of the whole zone (13 MiB at 300k records) held until the next one.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=max(0.0, lock_wait), cached_statements=0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        ok = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise JournalCorrupt(f"{self.path}: journal is damaged ({ok})")
        self._db.executescript(_SCHEMA)
        self._check_meta()

    def _close_quietly(self) -> None:
        db, self._db = getattr(self, "_db", None), None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    def _check_meta(self) -> None:
        rows = dict(self._db.execute("SELECT key, value FROM meta"))
        if not rows:
            with self._txn():
                self._db.executemany("INSERT INTO meta VALUES (?, ?)",
                                     [("schema", str(SCHEMA_VERSION)), ("zone", self.origin.to_text())])
            return
        if rows.get("schema") != str(SCHEMA_VERSION):
            raise JournalCorrupt(f"{self.path}: journal schema {rows.get('schema')}, expected {SCHEMA_VERSION}")
        if dns.name.from_text(rows.get("zone", ".")) != self.origin:
            raise JournalCorrupt(f"{self.path}: journal is for zone {rows.get('zone')}, not {self.origin}")

    def _txn(self):
        return _Transaction(self._db, self.path)

    def close(self) -> None:
        self._db.close()

    # -- writing ---------------------------------------------------------------------------------

    def save_first(self, version: ZoneVersion, file_serial: int | None = None, load_mark: str | None = None,
                   expires: int | None = None) -> None:
        """Record a zone's first version (no diff): the snapshot, with no history."""
        with self._txn():
            self._db.execute("DELETE FROM diffs")
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
        with self._txn():
            self._db.execute(
                "INSERT INTO diffs (serial_from, serial_to, soa_from, soa_to, removed, added, size)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (diff.serial_from, diff.serial_to, _soa_bytes(diff.soa_from), _soa_bytes(diff.soa_to),
                 removed, added, size))
            seq = self._max_seq()
            after_seq, snap_bytes = self._db.execute(
                "SELECT after_seq, length(content) FROM snapshot WHERE id = 1").fetchone() or (None, 0)
            pending_count, pending_bytes = self._db.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM diffs WHERE seq > ?", (after_seq or 0,)).fetchone()
            # Move the snapshot forward when replaying the diffs would cost more than reading it
            # whole, or when trimming would otherwise need diffs after it.
            if after_seq is None or pending_bytes > snap_bytes or pending_count >= max_entries:
                self._write_snapshot(new, after_seq=seq)
            self._trim(max_entries, max_bytes)
            self._write_load(file_serial, load_mark)
            self._write_expires(expires)

    def _write_expires(self, expires: int | None) -> None:
        # The re-sign timer's due time after a restart, without a scan of every signature.
        if expires is None:
            self._db.execute("DELETE FROM meta WHERE key = 'earliest_expiration'")
        else:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('earliest_expiration', ?)", (str(expires),))

    def _write_load(self, file_serial: int | None, load_mark: str | None) -> None:
        # In the commit's transaction: the `keep` serial check of a signed zone compares the next
        # file with the file serial, and a start skips loading a file whose bytes match the mark,
        # so neither may ever disagree with the version it came with. A load without a mark
        # drops the old one (it would describe another version).
        if file_serial is None:
            return
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('file_serial', ?)", (str(file_serial),))
        if load_mark is None:
            self._db.execute("DELETE FROM meta WHERE key = 'load_mark'")
        else:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('load_mark', ?)", (load_mark,))

    def save_load_mark(self, load_mark: str) -> None:
        """A reload found the served version unchanged but read other bytes (a comment edited):
        the mark of that load, so the next start need not load the file again."""
        with self._txn():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('load_mark', ?)", (load_mark,))

    def _write_snapshot(self, version: ZoneVersion | WireVersion, after_seq: int) -> None:
        if isinstance(version, WireVersion):
            parts, index = version.snapshot_parts()
        else:
            parts, index = [version.to_codec()], None
        # A restart splits the snapshot into owners without parsing its rdata: the digest is what
        # tells it the bytes are the ones written (sqlite checks its pages, not what is in them).
        digest = self._write_blob(version.serial, after_seq, parts)
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('snapshot_sha256', ?)", (digest,))
        if index is None:
            self._db.execute("DELETE FROM snapshot_index")
        else:
            self._db.execute("INSERT OR REPLACE INTO snapshot_index VALUES (1, ?, ?, ?)",
                             (digest, hashlib.sha256(index).hexdigest(), index))

    def _write_blob(self, serial: int, after_seq: int, parts: list[bytes]) -> str:
        """The snapshot row with `parts` joined as its content, written through sqlite's blob
        I/O a megabyte at a time (binding one zone-sized value copies it holding the GIL); the
        SHA-256 hex digest of the content."""
        total = sum(map(len, parts))
        self._db.execute("INSERT OR REPLACE INTO snapshot (id, serial, after_seq, content) VALUES (1, ?, ?, zeroblob(?))",
                         (serial, after_seq, total))
        digest = hashlib.sha256()
        with self._db.blobopen("snapshot", "content", 1) as blob:
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
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM diffs").fetchone()[0]

    def _trim(self, max_entries: int, max_bytes: int) -> None:
        after_seq = self._db.execute("SELECT after_seq FROM snapshot WHERE id = 1").fetchone()[0]
        rows = self._db.execute("SELECT seq, size FROM diffs ORDER BY seq DESC").fetchall()
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
            self._db.execute("DELETE FROM diffs WHERE seq <= ?", (cut,))

    # -- reading ---------------------------------------------------------------------------------

    def _diffs_after(self, seq: int) -> list[Diff]:
        rows = self._db.execute(
            "SELECT soa_from, soa_to, removed, added FROM diffs WHERE seq > ? ORDER BY seq", (seq,))
        return [Diff(_soa_from_bytes(a), _soa_from_bytes(b), tuple(codec.decode(r)), tuple(codec.decode(ad)))
                for a, b, r, ad in rows]

    def load(self) -> WireVersion | None:
        """The last committed version (compact), or None when nothing was ever saved."""
        try:
            row = self._db.execute("SELECT after_seq, content FROM snapshot WHERE id = 1").fetchone()
            if row is None:
                return None
            after_seq, content = row
            digest = self._db.execute("SELECT value FROM meta WHERE key = 'snapshot_sha256'").fetchone()
            if digest is None:  # written before snapshots had a digest: parse it all once
                for _ in codec.decode(content):
                    pass
            elif digest[0] != hashlib.sha256(content).hexdigest():
                raise ValueError("the snapshot does not match its SHA-256 digest")
            version: ZoneVersion | WireVersion = self._split(content, None if digest is None else digest[0])
            for d in self._diffs_after(after_seq):
                version = apply(d, version)
            return version
        except sqlite3.Error as e:
            if is_access_problem(e):
                raise classify(self.path, e, "read") from e
            raise JournalCorrupt(f"{self.path}: cannot rebuild the saved zone: {e}") from e
        except ValueError as e:
            raise JournalCorrupt(f"{self.path}: cannot rebuild the saved zone: {e}") from e

    def _split(self, content: bytes, digest: str | None) -> WireVersion:
        """The snapshot as a version: cut by its index when the index is whole and is this
        snapshot's (else, an older journal or a damaged index, the snapshot is walked)."""
        try:
            row = self._db.execute("SELECT snapshot_sha256, sha256, content FROM snapshot_index WHERE id = 1").fetchone()
        except sqlite3.Error:  # not a blob any more, or a journal from before indexes
            row = None
        if (row is not None and digest is not None and row[0] == digest and isinstance(row[2], bytes)
                and row[1] == hashlib.sha256(row[2]).hexdigest()):
            try:
                return WireVersion.from_snapshot(self.origin, content, row[2])
            except ValueError:
                pass
        return WireVersion.from_codec(self.origin, content)

    def file_serial(self) -> int | None:
        """The zone file's serial at the last committed load (None: never recorded)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'file_serial'").fetchone()
        return None if row is None else int(row[0])

    def earliest_expiration(self) -> int | None:
        """The earliest signature expiration of the last committed version, as its signing run
        knew it (never later than the true one); None: unsigned or not recorded."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'earliest_expiration'").fetchone()
        return None if row is None else int(row[0])

    def load_mark(self) -> str | None:
        """The mark of the load the last committed version came from (None: not recorded)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'load_mark'").fetchone()
        return None if row is None else row[0]

    def diffs(self) -> list[Diff]:
        """Every diff the journal holds, oldest first."""
        return self._diffs_after(0)

    def since(self, serial: int) -> list[Diff] | None:
        """The diffs from `serial` to the current version, in order; None when the journal does not
        reach back to `serial` (IXFR then falls back to a full transfer)."""
        if serial == self.info().last_serial:
            return []
        row = self._db.execute("SELECT min(seq) FROM diffs WHERE serial_from = ?", (serial,)).fetchone()
        return None if row[0] is None else self._diffs_after(row[0] - 1)

    def info(self) -> JournalInfo:
        count, size = self._db.execute("SELECT count(*), coalesce(sum(size), 0) FROM diffs").fetchone()
        first = self._db.execute("SELECT serial_from FROM diffs ORDER BY seq LIMIT 1").fetchone()
        last = self._db.execute("SELECT serial_to FROM diffs ORDER BY seq DESC LIMIT 1").fetchone()
        snap = self._db.execute("SELECT serial FROM snapshot WHERE id = 1").fetchone()
        last_serial = last[0] if last else (snap[0] if snap else None)
        return JournalInfo(first[0] if first else last_serial, last_serial, count, size)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, turning sqlite's write errors into JournalError."""

    def __init__(self, db: sqlite3.Connection, path: str):
        self._db = db
        self._path = path

    def __enter__(self):
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:  # locked by another process past the busy wait, read-only, I/O
            raise JournalError(f"{self._path}: cannot write the journal: {e}") from e

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
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


journal_path = data_dir.journal_path  # the one zone -> file-name rule, for the journal's users
