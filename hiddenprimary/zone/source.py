"""The bytes of a zone's files, read defensively (issue 11): only regular files, only inside the
allowed folders, within one byte budget for the zone file and all its `$INCLUDE`s, and never past
the reload's deadline. `zone.reader` turns what this raises into `file:line` problems.

Why each rule: a FIFO blocks `open()` and `read()` forever and a device like /dev/zero never
ends, so a file is opened with O_NONBLOCK and checked with fstat before a single byte is read; a
size known up front is refused before reading; reading stops as soon as the budget is crossed (a
file may grow while read). `$INCLUDE /etc/shadow` would put a secret in error messages and in
served data, so an include must resolve (symlinks followed) inside the zone file's folder or a
configured include root.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat

from hiddenprimary.clock import Clock, SystemClock
from hiddenprimary.config import DEFAULT_MAX_ZONE_FILE_BYTES, DEFAULT_MAX_ZONE_RECORDS

MAX_ECHO = 100  # characters of a token or path an error message repeats
_CHUNK = 1 << 20  # bytes per read(): the deadline is checked between reads
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """`text` cut to `limit` characters, with "..." when cut: what a message may repeat of input."""
    return text if len(text) <= limit else text[:limit] + "..."


@dataclasses.dataclass(frozen=True)
class ReadLimits:
    """What one load may read. `deadline` is a `clock.monotonic()` value (None: no deadline)."""

    max_bytes: int = DEFAULT_MAX_ZONE_FILE_BYTES  # the zone file and every $INCLUDE together
    max_records: int = DEFAULT_MAX_ZONE_RECORDS
    include_roots: tuple[str, ...] = ()  # folders $INCLUDE may read besides the zone file's own
    deadline: float | None = None
    timeout_s: float | None = None  # what the deadline came from, for the message
    clock: Clock = dataclasses.field(default_factory=SystemClock)

    def expired(self) -> bool:
        return self.deadline is not None and self.clock.monotonic() > self.deadline

    def timeout_text(self) -> str:
        seconds = "" if self.timeout_s is None else f" ({self.timeout_s:g}s)"
        return f"the reload took longer than limits.reload_timeout_s{seconds}"


class Unreadable(Exception):
    """This one file cannot be read (missing, not a regular file, outside the allowed folders);
    the load reports it and goes on without it."""


class LimitCrossed(Exception):
    """A limit of the whole load was crossed (size, records, deadline): the load stops here."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.where: object = None  # zone.reader's Location of where it happened


Preread = dict[str, tuple[bytes, bytes]]  # path -> (content, SHA-256 of it)


class Source:
    """Reads the files of one load, keeping the byte budget and the deadline across them."""

    def __init__(self, zone_path: str, limits: ReadLimits | None = None, preread: Preread | None = None):
        """`preread`: files already read in this reload (path -> bytes and their SHA-256), taken
        as they were then instead of read again (`unchanged` read them to compare)."""
        self.limits = limits or ReadLimits()
        self.preread = preread or {}
        self.used = 0  # bytes read so far, includes counted
        self.files: list[tuple[str, bytes]] = []  # (path, SHA-256 of its bytes) of every file read, in order
        self._zone_path = zone_path
        self._roots: tuple[str, ...] | None = None

    @property
    def roots(self) -> tuple[str, ...]:
        """The folders an $INCLUDE may resolve into: worked out at the first $INCLUDE (a realpath
        costs a system call per path component; most files include nothing)."""
        if self._roots is None:
            folder = os.path.dirname(os.path.abspath(self._zone_path))
            self._roots = tuple(os.path.realpath(p) for p in (folder, *self.limits.include_roots))
        return self._roots

    def check_deadline(self) -> None:
        if self.limits.expired():
            raise LimitCrossed("reload-timeout", f"{self.limits.timeout_text()}; stopped reading here")

    def check_include(self, real: str) -> None:
        """Raise Unreadable unless the resolved path `real` is inside an allowed folder."""
        for root in self.roots:
            if os.path.commonpath((real, root)) == root:
                return
        raise Unreadable(
            f"outside the zone file's folder {clip(self.roots[0])} (resolves to {clip(real)}); "
            "add its folder to include_roots in the config to allow it"
        )

    def read(self, path: str, written: str | None = None) -> bytes:
        """The whole content of the regular file at `path`, counted against the byte budget.
        `written` is the path as the zone file names it (an $INCLUDE's, before symlinks are
        resolved): what `files` records, so that `unchanged` follows a symlink moved since."""
        kept = self.preread.get(path) if written is None else None
        if kept is not None:
            data, digest = kept
            if len(data) > self.limits.max_bytes - self.used:
                raise self._too_big()
            self.used += len(data)
            self.files.append((path, digest))
            return data
        try:
            kind = _kind(os.stat(path).st_mode)  # refuse before open(): opening some devices acts
        except OSError as exc:
            raise Unreadable(exc.strerror or str(exc)) from None
        if kind is not None:
            raise Unreadable(f"not a regular file ({kind})")
        try:
            fd = os.open(path, _OPEN_FLAGS)  # O_NONBLOCK: a FIFO swapped in now cannot block
        except OSError as exc:
            raise Unreadable(exc.strerror or str(exc)) from None
        try:
            info = os.fstat(fd)
            kind = _kind(info.st_mode)
            if kind is not None:
                raise Unreadable(f"not a regular file ({kind})")
            budget = self.limits.max_bytes - self.used
            if info.st_size > budget:
                raise self._too_big()
            chunks: list[bytes] = []
            got = 0
            while True:  # ends at EOF or one byte past the budget: at most budget/_CHUNK + 2 reads
                self.check_deadline()
                try:
                    chunk = os.read(fd, min(_CHUNK, budget - got + 1))
                except OSError as exc:
                    raise Unreadable(exc.strerror or str(exc)) from None
                if not chunk:
                    break
                got += len(chunk)
                if got > budget:  # the file grew while read
                    raise self._too_big()
                chunks.append(chunk)
        finally:
            os.close(fd)
        self.used += got
        data = b"".join(chunks)
        self.files.append((written or path, hashlib.sha256(data).digest()))
        return data

    def _too_big(self) -> LimitCrossed:
        return LimitCrossed(
            "too-large",
            f"the zone file and its includes are larger than limits.max_zone_file_bytes "
            f"({self.limits.max_bytes} bytes); stopped reading here",
        )


def _kind(mode: int) -> str | None:
    """None for a regular file, else what it is, in words."""
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "an unknown kind of file"


def file_stats(paths) -> tuple | None:
    """What `os.stat` says of each file that tells a rewrite (device, inode, size, modification
    and change times in ns), or None when one cannot be read: the same facts later mean the same
    bytes (an editor's save or `mv` changes the inode or the times; ns times make a rewrite in the
    same instant with the same size out of reach)."""
    facts = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        facts.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(facts)


def files_digest(files: list[tuple[str, bytes]], context: bytes) -> bytes:
    """One digest of what a load read (each file's path and content digest, in order) and of
    `context` (whatever else decides the loaded zone: origin, limits, config)."""
    h = hashlib.sha256(context)
    for path, digest in files:
        h.update(b"\0" + path.encode("utf-8", "surrogateescape") + b"\0" + digest)
    return h.digest()


def unchanged(paths: list[str], limits: ReadLimits, context: bytes, digest: bytes, keep: Preread | None = None) -> bool:
    """`paths`: the zone file, then each $INCLUDE as written (`Source.files`). True when reading
    them again (with the same rules as a load) gives `digest`: the files a
    load read have the same bytes, so a new load would give the same zone. Any read problem is
    False (the load will report it). `keep` gets the zone file's bytes, for the load that
    follows when they changed (a 1M-record file is ~40 MB: read and hashed once, not twice)."""
    if not paths:
        return False
    source = Source(paths[0], limits)
    try:
        data = source.read(paths[0])
        if keep is not None:
            keep[paths[0]] = (data, source.files[0][1])
        for written in paths[1:]:  # $INCLUDEs: resolved and allowed as a load does it
            real = os.path.realpath(written)
            source.check_include(real)
            source.read(real, written)
    except (Unreadable, LimitCrossed):
        return False
    return files_digest(source.files, context) == digest
