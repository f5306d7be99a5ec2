"""A zone file's text cut into pages of whole blocks (~64k characters each), as the reload by
difference compares the last text with the new one (`zone.wire_reload._changed_regions`).

The last text is either held (`MemoryPages`) or, once the runner has written it beside the
journal, only its pages' digests are (`FilePages`): a reload compares each new page with a
digest and reads back from the file only the pages that differ, each checked against its digest.
Reading a 1M-record zone's whole text back (~40 MB in one read) stalled a single-core server's
answers for ~20 ms; the digests of its ~600 pages are ~10 KB.

A block is a line that names an owner (or holds a directive) and the lines after it that do not
(blank-owner records, continuation lines, comments)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from array import array

PAGE = 1 << 16  # characters of text a page holds at least (but for the last)
BLOCK_START = re.compile(rb"\n(?=[^ \t\n;])")  # a line that names an owner or holds a directive


class StalePages(Exception):
    """The memo file no longer holds the text its digests describe (the reload reads the whole
    zone file instead)."""


def page_starts(text: bytes) -> array:
    """Where each page of `text` starts (a block start, or 0), then the text's length."""
    starts = array("Q", [0])
    at = PAGE
    while at < len(text):
        found = BLOCK_START.search(text, at - 1)
        if found is None:
            break
        starts.append(found.start() + 1)
        at = starts[-1] + PAGE
    starts.append(len(text))
    return starts


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class MemoryPages:
    """The last text, held."""

    def __init__(self, text: bytes):
        self.size = len(text)
        self.starts = page_starts(text)
        self._text = text

    def same(self, page: int, data: bytes) -> bool:
        """Page number `page` holds exactly `data`."""
        return data == self._text[self.starts[page]:self.starts[page + 1]]

    def page(self, page: int) -> bytes:
        return self._text[self.starts[page]:self.starts[page + 1]]

    def text(self, start: int, end: int) -> bytes:
        return self._text[start:end]


@dataclasses.dataclass(frozen=True)
class FilePages:
    """The last text, in `file`: its pages' starts and digests, and what `zone.wire_reload`
    learns of a whole text (its directive lines; whether every record follows every directive)."""

    file: str
    size: int
    starts: array
    digests: tuple[bytes, ...]
    directives: tuple[bytes, ...]
    one_context: bool

    def same(self, page: int, data: bytes) -> bool:
        return len(data) == self.starts[page + 1] - self.starts[page] and digest(data) == self.digests[page]

    def page(self, page: int) -> bytes:
        """Page number `page`, read back and checked (raises StalePages)."""
        return self.text(self.starts[page], self.starts[page + 1])

    def text(self, start: int, end: int) -> bytes:
        """The text from page start `start` to page start (or end) `end`, read a page at a time
        and each checked against its digest (raises StalePages)."""
        first = self.starts.index(start)
        parts = []
        try:
            fd = os.open(self.file, os.O_RDONLY)
        except OSError as e:
            raise StalePages(str(e)) from None
        try:
            page = first
            while self.starts[page] < end:
                a, b = self.starts[page], self.starts[page + 1]
                data = os.pread(fd, b - a, a)
                if len(data) != b - a or digest(data) != self.digests[page]:
                    raise StalePages(f"{self.file}: page {page} changed")
                parts.append(data)
                page += 1
        except OSError as e:
            raise StalePages(str(e)) from None
        finally:
            os.close(fd)
        return b"".join(parts)


def describe(text: bytes, file: str, directives: tuple[bytes, ...], one_context: bool) -> FilePages:
    """`text`, which `file` holds, by its pages' digests."""
    starts = page_starts(text)
    digests = tuple(digest(text[a:b]) for a, b in zip(starts, starts[1:]))
    return FilePages(file, len(text), starts, digests, directives, one_context)


def write(text: bytes, file: str, directives: tuple[bytes, ...], one_context: bool) -> FilePages:
    """Write `text` to `file` (under a name of its own, then renamed: two reloads' memos may be
    written at once, and a reader checks every page it reads) and describe it. Raises OSError."""
    pages = describe(text, file, directives, one_context)
    part = f"{file}.{os.getpid()}.{id(text):x}.part"
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(text)
            at = 0
            while at < len(text):  # a megabyte a call: one big copy stalls a core
                at += os.write(fd, view[at:at + (1 << 20)])
        finally:
            os.close(fd)
        os.replace(part, file)
    except BaseException:
        try:
            os.unlink(part)
        except OSError:
            pass
        raise
    return pages
