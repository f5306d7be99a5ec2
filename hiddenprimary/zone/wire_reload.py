"""Reload by difference at the text level: the new version is the served one with only the owners
whose text changed read again (issue 13 part 1). The fast twin of `zone.wire_load` on the whole
file: tests/unit/test_wire_reload.py checks under hypothesis that both give the same RRsets.

The text is cut into blocks: a line that names an owner (or holds a directive) and the lines
after it that do not (blank-owner records, continuation lines of a parenthesised record,
comments). A block means the same wherever it stands, given the `$ORIGIN` and `$TTL` in force
there, so the blocks only one of the two texts holds are what changed. Their owners (read in the
old text and in the new one) are the owners to read again, from every block of the new text that
may name them: lines starting with the owner's first label or with `@` are read, in file order,
and only the records of those owners kept. Each owner read again is checked on its own (CNAME
and other data, one SOA, TTLs of an RRset), and the NS targets of the apex again.

It returns None, and the caller reads the whole file with `zone.wire_load`, whenever that is not
enough to be exact:
- a directive changed, or a record relies on the last TTL given (no `$TTL` in force);
- an owner that changed is or was a delegation, or the zone has delegations at all (their
  occlusion and glue rules need the whole tree);
- the text is not ASCII (IDNA owners), a changed block does not read on its own (a parenthesis
  closed at the start of a line), or a block repeats while directives stand between records;
- more lines than `limits.max_zone_records` (the full read counts records exactly)."""

from __future__ import annotations

import re

import dns.name

from hiddenprimary.zone import codec
from hiddenprimary.zone.scan import scan, split_lines
from hiddenprimary.zone.source import LimitCrossed, ReadLimits, Source
from hiddenprimary.zone.wire_load import Builder, Refused, TextMemo, WireLoaded, in_zone, read_text
from hiddenprimary.zone.wire_version import WireVersion, key_labels

_BLOCK_START = re.compile(r"\n(?=[^ \t\n;])")  # a line that names an owner or holds a directive
_DIRECTIVE = re.compile(r"^\$[^\n]*", re.M)
_NS = 2


def reload_wire(path: str, origin: dns.name.Name, limits: ReadLimits | None, memo: TextMemo | None,
                current) -> WireLoaded | None:
    """The zone file at `path` as a new version of `current` (the version `memo`'s text made,
    served), reading only what changed; None when the whole file must be read."""
    if (memo is None or not isinstance(current, WireVersion) or memo.path != path
            or memo.origin.labels != origin.labels or current.has_cuts()):
        return None
    source = Source(path, limits)
    text = read_text(source, path)
    if text is None:
        return None
    try:
        touched = _Reread(origin, source, memo.text, text, current).changes()
    except (Refused, LimitCrossed):
        return None
    if touched is None:
        return None
    changes, names = touched
    return WireLoaded(current.evolve_packed(changes), source.files, memo=TextMemo(path, origin, text),
                      touched=names)


class _Text:
    """One zone file's text as blocks, with the directives in force at each offset."""

    def __init__(self, text: str):
        if "\r" in text:
            text = "\n".join(split_lines(text))
        self.text = text
        self.blocks = _BLOCK_START.split(text)
        self.directives = [(m.start(), m.group()) for m in _DIRECTIVE.finditer(text)]
        # Directives only before the first record: every record reads in the same context.
        first = next((i for i, b in enumerate(self.blocks) if b.strip() and not b.startswith(("$", ";"))), None)
        self.one_context = first is None or not any(b.startswith("$") for b in self.blocks[first + 1:])
        self._offsets: dict[str, int] | None = None

    def offset(self, block: str) -> int:
        """Where `block` starts (its first place, when it repeats)."""
        if self._offsets is None:
            self._offsets, at = {}, 0
            for b in self.blocks:
                self._offsets.setdefault(b, at)
                at += len(b) + 1
        return self._offsets[block]


class _Reread:
    def __init__(self, origin: dns.name.Name, source: Source, old_text: str, new_text: str,
                 current: WireVersion):
        self.origin = origin
        self.source = source
        self.current = current
        self.old = _Text(old_text)
        self.new = _Text(new_text)

    def changes(self) -> tuple[dict[bytes, bytes | None], set[dns.name.Name]] | None:
        old, new = self.old, self.new
        if not new.text.isascii() or [d for _, d in old.directives] != [d for _, d in new.directives]:
            return None
        if new.text.count("\n") + 1 > self.source.limits.max_records:
            return None
        old_blocks, new_blocks = set(old.blocks), set(new.blocks)
        removed, added = old_blocks - new_blocks, new_blocks - old_blocks
        if any(block.startswith("$") for block in (*removed, *added)):
            return None
        if not (old.one_context and new.one_context) and (len(new_blocks) != len(new.blocks)
                                                          or len(old_blocks) != len(old.blocks)):
            return None  # a repeated block may mean other records under other directives
        apex = self.current.apex_key
        keys = {apex}  # the SOA's serial changes with almost every edit
        for text, blocks in ((old, removed), (new, added)):
            for block in blocks:
                keys.update(self._read(text, [block]).nodes)
        builder = self._read(new, self._candidates(keys))
        changes = {key: builder.packed(key) for key in keys}
        for key in keys:  # a delegation that comes or goes needs the whole zone's checks
            old_data = self.current.packed_at(key)
            if key != apex and old_data is not None and _holds_ns(old_data):
                return None
        if changes[apex] is None:
            raise Refused  # no SOA
        self._check_ns_targets(builder, changes)
        return changes, {dns.name.Name(key_labels(key)) for key in keys}

    def _candidates(self, keys: set[bytes]) -> list[str]:
        """Every block of the new text that may name one of `keys`, in file order."""
        labels = sorted({re.escape(_first_label(key)) for key in keys if key != b"\0"})
        pattern = re.compile(r"^(?:@|(?:" + "|".join(labels) + r")(?=[.\s]|$))", re.I) if labels else re.compile(r"^@")
        return [block for block in self.new.blocks if pattern.match(block)]

    def _read(self, text: _Text, blocks: list[str]) -> Builder:
        """A Builder that read `blocks` (of `text`), each in the context its place gives it."""
        builder = Builder(self.origin, self.source)
        context = self._context(text, len(text.text)) if text.one_context else None
        for block in blocks:
            origin, default_ttl = context or self._context(text, text.offset(block))
            if default_ttl is None:
                raise Refused  # TTLs would come from the records before it
            builder.set_context(origin, default_ttl)
            builder.read(block)
        return builder

    def _context(self, text: _Text, at: int) -> tuple[dns.name.Name, int | None]:
        """The $ORIGIN and $TTL in force at offset `at` of `text`."""
        builder = Builder(self.origin, self.source)
        for offset, line in text.directives:
            if offset > at:
                break
            for rec in scan(line):
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
            if data is None or not (_holds(data, 1) or _holds(data, 28)):
                raise Refused


def _first_label(key: bytes) -> str:
    return key[1:1 + key[0]].decode("ascii")


def _holds(data: bytes, rdtype: int) -> bool:
    return any(head[0] == rdtype for head in codec.heads(data))


def _holds_ns(data: bytes) -> bool:
    return _holds(data, _NS)
