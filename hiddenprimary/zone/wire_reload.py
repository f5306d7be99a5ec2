"""Reload by difference at the text level: the new version is the served one with only the owners
whose text changed read again (issue 13 part 1). The fast twin of `zone.wire_load` on the whole
file: tests/unit/test_wire_reload.py checks under hypothesis that both give the same RRsets.

The text is cut into blocks: a line that names an owner (or holds a directive) and the lines
after it that do not (blank-owner records, continuation lines of a parenthesised record,
comments). A block means the same wherever it stands between the same directives (`$ORIGIN`,
`$TTL`), so the blocks, tagged with how many directives precede them, that only one of the two
texts holds are what changed (when both have as many blocks, compared place by place: a block
that moved counts as changed, which only reads a little more). When every record follows every
directive, the texts are not cut into blocks at all: `_changed_regions` compares them a page
(~64k characters, `zone.text_pages`) at a time and cuts only the pages that differ (a 1M-record
zone's 10-record reload: 0.74 s -> 0.36 s); the last text need not be held, only its pages'
digests (`spill`: the runner writes it beside the journal), and only the pages that differ are
read back. Their owners (read in the old text and in the new one) and the apex are the owners
to read again, from every block of the new text that may name them: lines that start with one of the owner's spellings (relative, absolute,
`@`; with directives between records, any name that starts with its first label), read in file
order, only the records of those owners kept. Each owner read again is checked on its own
(CNAME and other data, one SOA, TTLs of an RRset), and the apex's NS targets again.

It returns None, and the caller reads the whole file with `zone.wire_load`, whenever that is not
enough to be exact:
- a directive changed, or a record relies on the last TTL given (no `$TTL` in force), or a
  blank-owner record follows a directive (its owner is named in another block);
- an owner that changed is or was a delegation, or the zone has delegations at all (their
  occlusion and glue rules need the whole tree);
- the text is not ASCII (IDNA owners), or a changed block does not read on its own (a
  parenthesis closed at the start of a line);
- more lines than `limits.max_zone_records` (the full read counts records exactly)."""

from __future__ import annotations

import bisect
import hashlib
import itertools
import operator
import re

from collections.abc import Callable

import dns.name

from hiddenprimary.zone import codec, text_pages
from hiddenprimary.zone.scan import scan
from hiddenprimary.zone.source import LimitCrossed, Preread, ReadLimits, Source
from hiddenprimary.zone.text_pages import BLOCK_START as _BLOCK_START
from hiddenprimary.zone.text_pages import FilePages, MemoryPages, StalePages
from hiddenprimary.zone.wire_load import Builder, Refused, TextMemo, WireLoaded, in_zone, read_bytes
from hiddenprimary.zone.wire_version import WireVersion, key_labels

_FIRST_RECORD = re.compile(rb"^[^\s;$]", re.M)  # the first line that names an owner
# A blank-owner record right after a directive: it belongs to the owner named before the directive.
_INHERITS_ACROSS = re.compile(rb"^\$[^\n]*\n(?:[ \t]*(?:;[^\n]*)?\n)*[ \t]+[^\s;]", re.M)
# The slices of the text (bytes) and of the block lists that one C call works on, so the
# reactor thread gets the GIL between them (a few milliseconds each).
_CHUNK = 1 << 20
_CHUNK_BLOCKS = 50_000
_NS = 2  # dns.rdatatype.NS, A and AAAA below, as codec heads give them
_A, _AAAA = 1, 28


def reload_wire(path: str, origin: dns.name.Name, limits: ReadLimits | None, memo: TextMemo | None,
                current, preread: Preread | None = None) -> WireLoaded | None:
    """The zone file at `path` as a new version of `current` (the version `memo`'s text made,
    served), reading only what changed; None when the whole file must be read. `preread`: as
    `zone.source.Source` takes it."""
    if (memo is None or not isinstance(current, WireVersion) or memo.path != path
            or memo.origin.labels != origin.labels or current.has_cuts()):
        return None
    source = Source(path, limits, preread)
    text = read_bytes(source, path)
    if text is None or not text.isascii():  # IDNA owners: the whole read
        return None
    if memo.text is not None and not memo.text.isascii():
        return None
    reread = _Reread(origin, source, memo, text, current)
    try:
        touched = reread.changes()
    except (Refused, LimitCrossed, StalePages):
        return None
    finally:
        reread.release()
    if touched is None:
        return None
    changes, names = touched
    return WireLoaded(current.evolve_packed(changes), source.files,
                      memo=TextMemo(path, origin, text),
                      touched=names)


class _Text:
    """One zone file's text as blocks. A block's segment is how many directives stand before it:
    the same block text in another segment may mean other records. When every record follows
    every directive (`one_context`), all record blocks share the last segment."""

    def __init__(self, text: bytes):
        if b"\r" in text:  # as zone.scan.split_lines counts line ends
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self.text = text
        self._blocks: list[bytes] | None = None
        self.directive_at = _line_starts(text, b"$")
        self.directives = [text[at:_line_end(text, at)] for at in self.directive_at]
        first = _FIRST_RECORD.search(text)
        self.one_context = first is None or not self.directive_at or self.directive_at[-1] < first.start()

    @property
    def blocks(self) -> list[bytes]:
        if self._blocks is None:
            self._blocks = _split_blocks(self.text)
        return self._blocks

    def release(self) -> None:
        """Free the block list a slice at a time: a million strings freed at once would hold
        the GIL for tens of milliseconds, in whichever thread drops the last reference."""
        blocks = self._blocks or []
        while blocks:
            del blocks[-_CHUNK_BLOCKS:]

    def tagged(self) -> list[tuple[int, bytes]]:
        """(segment, block) for every block."""
        out, segment = [], 0
        for block in self.blocks:
            if block.startswith(b"$"):
                segment += 1
            out.append((segment, block))
        return out

    def segment_at(self, offset: int) -> int:
        return bisect.bisect_right(self.directive_at, offset)

    def block_at(self, start: int) -> bytes:
        """The block that starts at offset `start`."""
        end = _BLOCK_START.search(self.text, start)
        return self.text[start:end.start() if end else len(self.text)]


class _Reread:
    def __init__(self, origin: dns.name.Name, source: Source, memo: TextMemo, new_text: bytes,
                 current: WireVersion):
        self.origin = origin
        self.source = source
        self.current = current
        self.new = _Text(new_text)
        if memo.text is not None:
            self._old: _Text | None = _Text(memo.text)
            self.old_pages: MemoryPages | FilePages = MemoryPages(self._old.text)
            self.old_directives, self.old_one_context = self._old.directives, self._old.one_context
        else:
            assert memo.pages is not None
            self._old = None  # read back whole only when the pages are not enough
            self.old_pages = memo.pages
            self.old_directives, self.old_one_context = list(memo.pages.directives), memo.pages.one_context

    @property
    def old(self) -> _Text:
        """The whole last text (read back from its memo file when that is where it is)."""
        if self._old is None:
            self._old = _Text(self.old_pages.text(0, self.old_pages.size))
        return self._old

    def release(self) -> None:
        if self._old is not None:
            self._old.release()
        self.new.release()

    def changes(self) -> tuple[dict[bytes, bytes | None], set[dns.name.Name]] | None:
        new = self.new
        if self.old_directives != new.directives:
            return None
        one_context = self.old_one_context and new.one_context
        if not one_context and any(_INHERITS_ACROSS.search(t.text) for t in (self.old, new)):
            return None  # its owner is in another block
        if _lines(new.text) > self.source.limits.max_records:
            return None
        regions = _changed_regions(self.old_pages, new.text) if one_context else None
        if regions is not None:  # every record block in the last segment; only the regions differ
            last = len(new.directives)
            old_blocks = {b for old_part, _ in regions for b in _region_blocks(old_part)}
            new_blocks = {b for _, new_part in regions for b in _region_blocks(new_part)}
            removed = [(last, b) for b in old_blocks - new_blocks]
            added = [(last, b) for b in new_blocks - old_blocks]
        elif one_context:  # every record block in the last segment
            last = len(new.directives)
            old = self.old
            ob, nb = old.blocks, new.blocks
            if len(ob) == len(nb):  # edits in place: compare block by block (a moved block counts too)
                at = []
                for i in range(0, len(nb), _CHUNK_BLOCKS):
                    at += itertools.compress(range(i, i + _CHUNK_BLOCKS),
                                             map(operator.ne, ob[i:i + _CHUNK_BLOCKS], nb[i:i + _CHUNK_BLOCKS]))
                removed, added = [(last, ob[i]) for i in at], [(last, nb[i]) for i in at]
            else:
                old_blocks, new_blocks = set(ob), set(nb)
                removed = [(last, b) for b in old_blocks - new_blocks]
                added = [(last, b) for b in new_blocks - old_blocks]
        else:
            old = self.old
            old_tagged, new_tagged = set(old.tagged()), set(new.tagged())
            removed, added = list(old_tagged - new_tagged), list(new_tagged - old_tagged)
        if any(block.startswith(b"$") for _, block in (*removed, *added)):
            return None
        apex = self.current.apex_key
        keys = {apex}  # the SOA's serial changes with almost every edit
        for directives, blocks in ((self.old_directives, removed), (new.directives, added)):
            for tagged in blocks:
                keys.update(self._read(directives, [tagged]).nodes)
        builder = self._read(new.directives, self._candidates(keys))
        changes = {key: builder.packed(key) for key in keys}
        for key in keys:  # a delegation that comes or goes needs the whole zone's checks
            old_data = self.current.packed_at(key)
            if key != apex and old_data is not None and _holds_ns(old_data):
                return None
        if changes[apex] is None:
            raise Refused  # no SOA
        self._check_ns_targets(builder, changes)
        return changes, {dns.name.Name(key_labels(key)) for key in keys}

    def _candidates(self, keys: set[bytes]) -> list[tuple[int, bytes]]:
        """Every block of the new text that may name one of `keys`, in file order. Where every
        record reads under one $ORIGIN, an owner is written relative to it, absolute, or as `@`;
        otherwise any name that starts with the owner's first label may be it (then `.`)."""
        new = self.new
        if new.one_context:
            origin = self._context(new.directives, len(new.directives))[0]
            words = {w for key in keys for w in _spellings(key, origin)}
            ends = b" \t\n"
        else:
            words = {_first_label(key) for key in keys if key != b"\0"} | {b"@"}
            ends = b" \t\n."
        starts = _lines_starting(new.text, {word.lower() for word in words}, ends)
        return [(new.segment_at(at), new.block_at(at)) for at in starts]

    def _read(self, directives: list[bytes], blocks: list[tuple[int, bytes]]) -> Builder:
        """A Builder that read `blocks` (segment, text) of a text with these `directives`, each
        under its segment's $ORIGIN and $TTL."""
        builder = Builder(self.origin, self.source)
        contexts: dict[int, tuple[dns.name.Name, int | None]] = {}
        for segment, block in blocks:
            context = contexts.get(segment)
            if context is None:
                context = contexts[segment] = self._context(directives, segment)
            origin, default_ttl = context
            if default_ttl is None:
                raise Refused  # TTLs would come from the records before it
            builder.set_context(origin, default_ttl)
            builder.read(block.decode("ascii"))
        return builder

    def _context(self, directives: list[bytes], segment: int) -> tuple[dns.name.Name, int | None]:
        """The $ORIGIN and $TTL in force after the first `segment` of `directives`."""
        builder = Builder(self.origin, self.source)
        for line in directives[:segment]:
            for rec in scan(line.decode("ascii")):
                builder.directive(rec.items)
        return builder.origin, builder.default_ttl

    def _check_ns_targets(self, builder: Builder, changes: dict[bytes, bytes | None]) -> None:
        """The apex NS targets in the zone still have addresses (`ns-target-no-address`)."""
        apex = self.current.apex_key
        targets = builder.nodes[apex][1].get(_NS)
        if targets is None:
            raise Refused  # no apex NS
        for target in targets[1]:
            if target in changes:
                data = changes[target]
            elif in_zone(target, apex):
                data = self.current.packed_at(target)
            else:
                continue
            if data is None or not (_holds(data, _A) or _holds(data, _AAAA)):
                raise Refused


def _spellings(key: bytes, origin: dns.name.Name) -> list[bytes]:
    """How the owner `key` can be written under `origin` (any case)."""
    name = dns.name.Name(key_labels(key))
    out = [name.to_text()]
    if name == origin:
        out.append("@")
    elif name.is_subdomain(origin):
        out.append(name.relativize(origin).to_text())
    return [spelling.encode("ascii") for spelling in out]


_MAX_PAGES_CHANGED = 64  # pages in a row that differ before `_changed_regions` gives up
_BLOCK_HEAD = frozenset(b" \t\n;")  # a character that cannot start a block


def _changed_regions(old: MemoryPages | FilePages, new: bytes) -> list[tuple[bytes, bytes]] | None:
    """The parts of the last text (`old`, `zone.text_pages`) and of `new` that differ, as (old
    part, new part) pairs of whole blocks; everything else is the same text in the same order.
    Found a page of `old` at a time: a page that the new text holds where the last one left off
    is skipped with one comparison (of bytes, or of digests: a page `old` only has the digest of
    is read back only when it differs); after a page that differs, the next page of `old` found
    again in `new` (at a line start, followed by a block start) ends the region. None when that
    takes more searching than reading both texts whole, or more than _MAX_PAGES_CHANGED pages in
    a row differ (the caller then cuts both into blocks). Raises StalePages."""
    starts = old.starts
    pages = len(starts) - 1
    budget = 2 * (old.size + len(new))  # characters the searches may scan
    regions: list[tuple[bytes, bytes]] = []
    shift = 0  # where old text at offset `a` stands in the new text: a + shift
    k = 0
    while k < pages:
        a = starts[k]
        if _same_page(old, new, k, shift):
            k += 1
            continue
        begin = a + shift  # a block start in new (the end of a page that matched, or 0)
        for j in range(k + 1, pages):
            if j - k > _MAX_PAGES_CHANGED:
                return None
            anchor = b"\n" + old.page(j)[:256]
            # Searched near where it would stand (one `find` holds the GIL; a 40 MB text takes ~15 ms).
            window = begin + (starts[j + 1] - a) + 4 * text_pages.PAGE
            at = new.find(anchor, max(0, begin - 1), window)
            while at >= 0 and not _same_page(old, new, j, at + 1 - starts[j]):
                at = new.find(anchor, at + 1, window)  # the same text again, further on
            budget -= (at if at >= 0 else min(window, len(new))) - begin  # what the finds read
            if budget < 0:
                return None
            if at >= 0:
                regions.append((old.text(a, starts[j]), new[begin:at + 1]))
                shift, k = at + 1 - starts[j], j
                break
        else:
            regions.append((old.text(a, old.size), new[begin:]))
            return regions
    if old.size + shift != len(new):  # not reached: the last page matched only at the new end
        return None
    return regions


def _region_blocks(part: bytes) -> list[bytes]:
    """The blocks of a region, each without the line end that separates it from the next (so a
    block reads the same whether it closes a region or not)."""
    return [block.rstrip(b"\n") for block in _BLOCK_START.split(part) if block.strip(b"\n")]


def _same_page(old: MemoryPages | FilePages, new: bytes, page: int, shift: int) -> bool:
    """Page number `page` of `old` (whole blocks) stands at its start + `shift` in `new`, as
    whole blocks there too."""
    a, b = old.starts[page], old.starts[page + 1]
    if a + shift < 0 or not old.same(page, new[a + shift:b + shift]):
        return False
    end = b + shift
    if b == old.size:
        return end == len(new)
    return end < len(new) and new[end] not in _BLOCK_HEAD


def memo_from_file(path: str, origin: dns.name.Name, file: str, matches: Callable[[bytes], bool]) -> TextMemo | None:
    """A memo for the zone file at `path` from the memo file an earlier run wrote (`spill`), when
    `matches(its SHA-256)` says it holds the bytes the served version was loaded from (a
    restart: the first reload then reads only what changed, not the whole file); None else."""
    try:
        with open(file, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data.isascii() or not matches(hashlib.sha256(data).digest()):
        return None
    return _file_memo(path, origin, data, file, text_pages.describe)


def spill(memo: TextMemo, file: str) -> TextMemo:
    """`memo` with its text written to `file` and only its pages' digests held (the runner's,
    in a worker thread). Raises OSError when it cannot be written (the caller keeps `memo`)."""
    if memo.text is None:
        return memo
    return _file_memo(memo.path, memo.origin, memo.text, file, text_pages.write)


def _file_memo(path: str, origin: dns.name.Name, data: bytes, file: str,
               pages: Callable[[bytes, str, tuple[bytes, ...], bool], FilePages]) -> TextMemo:
    """A memo that holds only the pages of `data` in `file` (`pages`: text_pages.describe for a
    file that holds them already, text_pages.write to write it)."""
    text = _Text(data)
    return TextMemo(path, origin, None, pages(text.text, file, tuple(text.directives), text.one_context))


def _split_blocks(text: bytes) -> list[bytes]:
    """`_BLOCK_START.split(text)`, a slice at a time: one call over a 30 MB file holds the GIL for
    a tenth of a second, which queries answered meanwhile would wait for."""
    out: list[bytes] = []
    start, size = 0, len(text)
    while True:
        cut = _BLOCK_START.search(text, start + _CHUNK) if start + _CHUNK < size else None
        if cut is None:
            out += _BLOCK_START.split(text[start:])
            return out
        out += _BLOCK_START.split(text[start:cut.start()])
        start = cut.start() + 1


def _line_starts(text: bytes, word: bytes) -> list[int]:
    """The offsets of the lines of `text` that start with `word` (searched a slice at a time)."""
    out = [0] if text.startswith(word) else []
    needle = b"\n" + word
    size, start = len(text), 0
    while start < size:
        end = min(size, start + _CHUNK + len(needle))
        at = text.find(needle, start, end)
        while at >= 0:
            out.append(at + 1)
            at = text.find(needle, at + 1, end)
        start += _CHUNK
    return out


def _lines_starting(text: bytes, words: set[bytes], ends: bytes) -> list[int]:
    """The offsets, in order, of the lines of `text` whose first word is one of `words` (written
    in lower case; matched in any case) ended by a byte of `ends` or the end of the text. One
    regular expression scans a lowered copy of one slice at a time (one `find` per word over the
    whole text cost a 1M zone 10 ms a word; one lowered copy of it held the GIL ~20 ms)."""
    pattern = re.compile(b"\n(?:" + b"|".join(map(re.escape, sorted(words, key=len, reverse=True)))
                         + b")(?=[" + re.escape(ends) + b"])")
    size, longest = len(text), max(map(len, words)) + 2
    found = []
    for word in words:
        head = text[:len(word) + 1].lower()
        if head.startswith(word) and (len(head) == len(word) or head[len(word)] in ends):
            found.append(0)  # the first line
        if text[-len(word) - 1:].lower() == b"\n" + word:
            found.append(size - len(word))  # the last line, unended
    for start in range(0, size, _CHUNK):
        window = text[start:start + _CHUNK + longest].lower()  # a match that starts in the slice ends in it
        found += [start + match.start() + 1 for match in pattern.finditer(window) if match.start() < _CHUNK]
    return sorted(set(found))


def _lines(text: bytes) -> int:
    return sum(text.count(b"\n", i, i + _CHUNK) for i in range(0, len(text), _CHUNK)) + 1


def _line_end(text: bytes, at: int) -> int:
    end = text.find(b"\n", at)
    return len(text) if end < 0 else end


def _first_label(key: bytes) -> bytes:
    return key[1:1 + key[0]]


def _holds(data: bytes, rdtype: int) -> bool:
    return any(head[0] == rdtype for head in codec.heads(data))


def _holds_ns(data: bytes) -> bool:
    return _holds(data, _NS)
