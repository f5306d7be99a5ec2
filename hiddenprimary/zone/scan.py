"""Split the text of one zone file into logical records (RFC 1035 §5.1), without interpreting them.

A logical record is one line, or several lines joined by parentheses. This module only knows
the text layer: whitespace, `;` comments, `( )` continuation, `"quoted strings"` and backslash
escapes. It does not know about owners, TTLs, types or directives; `zone.reader` and
`zone.records` do, and every record's rdata still goes through dnspython.

Tokens come out exactly as `dns.tokenizer.Tokenizer` would produce them, in a compact form:

- a plain identifier (no backslash) is a `str`, the common case and the cheap one;
- an identifier with a backslash escape is a `Token(IDENTIFIER, raw_text, has_escape=True)`;
- a quoted string is a `Token(QUOTED_STRING, raw_inner_text, has_escape)` (escapes left in, as
  dnspython leaves them for the rdata parser to apply).

Only ' ' and '\\t' separate tokens (as in dnspython and BIND). A syntax error at the text layer
(an unbalanced parenthesis, an unterminated quoted string, a backslash at the end of a line)
ends that logical record and is reported once; scanning goes on with the next record, so one
broken line does not hide the problems after it.

Deliberate differences from dnspython's tokenizer, both about input it accepts by accident:
a quoted string must end on its own line (dnspython also accepts a backslash-newline inside
quotes), and a lone carriage return inside a quoted string ends the line like everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from dns.tokenizer import IDENTIFIER, QUOTED_STRING, Token

Item = str | Token  # a token of a logical record: see the module docstring


class RawRecord:
    """One logical record: `line` is where it starts; `blank_owner` says the first line starts
    with whitespace (the owner is inherited, RFC 1035 §5.1); `items` are its tokens;
    `item_lines` is None when every token is on `line`, else the line of each token;
    `error` is (line, message) for a text-layer syntax error (the items are then incomplete);
    `plain` says every item is a `str` (no quoted string, no escape), so `items` is hashable."""

    __slots__ = ("line", "blank_owner", "items", "item_lines", "error", "plain")

    def __init__(
        self,
        line: int,
        blank_owner: bool,
        items: list[Item],
        item_lines: list[int] | None = None,
        error: tuple[int, str] | None = None,
        plain: bool = True,
    ):
        self.line = line
        self.blank_owner = blank_owner
        self.items = items
        self.item_lines = item_lines
        self.error = error
        self.plain = plain

    def line_of(self, index: int) -> int:
        """The line of token `index` (clamped to the record's tokens)."""
        if self.item_lines is None or not self.item_lines:
            return self.line
        return self.item_lines[max(0, min(index, len(self.item_lines) - 1))]

    def __repr__(self) -> str:
        return f"RawRecord({self.line}, {self.blank_owner}, {self.items!r}, error={self.error!r})"


# Anything that is not printable ASCII, space or tab, or any of `" \ ( )`, sends a line down the
# careful path. Lines without those (almost all of a big zone) are split with str.split, which is
# exact for them: `;` can only start a comment when there are no quotes and no escapes.
_NOT_SIMPLE = re.compile(r'[^\x21-\x7e \t]|["\\()]')

# One token of the careful path, after optional blanks. Groups: 1 comment, 2 "(", 3 ")",
# 4 quoted text + 5 closing quote (empty when unterminated), 6 identifier, 7 lone final backslash.
_TOKEN = re.compile(
    r'[ \t]*(?:(;.*)|(\()|(\))|"((?:[^"\\]|\\.)*)("?)|((?:[^ \t;()"\\]|\\.)+)|(\\))', re.S
)


def raw_text(item: Item) -> str:
    """The item as it was written (quoted strings with their quotes)."""
    if item.__class__ is str:
        return item  # type: ignore[return-value]
    assert isinstance(item, Token)
    if item.ttype == QUOTED_STRING:
        return f'"{item.value}"'
    return item.value


def word(item: Item) -> str | None:
    """The text of an identifier item, None for a quoted string."""
    if item.__class__ is str:
        return item  # type: ignore[return-value]
    return item.value if item.ttype == IDENTIFIER else None  # type: ignore[union-attr]


def split_lines(text: str) -> list[str]:
    """Physical lines, counting CR LF, CR and LF each as one line end (as dnspython does)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


# More tokens than any record can need (rdata is at most 65,535 octets: `\\# 65535` and one token
# per octet, or an NSEC bitmap of every type): past this a record is an error and its tokens are
# no longer kept, so one "(" never closed cannot make the scan hold the whole file in memory.
MAX_RECORD_ITEMS = 131_072


def _too_long(rec: RawRecord, depth: int, open_line: int) -> None:
    hint = f" (the '(' of line {open_line} is never closed?)" if depth else ""
    rec.error = (rec.line, f"record has more than {MAX_RECORD_ITEMS} tokens{hint}")
    rec.items.clear()
    if rec.item_lines is not None:
        rec.item_lines.clear()


TICK_EVERY = 65_536  # physical lines between two calls of scan's `tick`


def scan(text: str, tick: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    """Yield the logical records of `text` in order. Empty and comment-only lines yield nothing.
    `tick(line)` is called every TICK_EVERY lines, inside a record too (a deadline check that
    one long record cannot hold off)."""
    not_simple = _NOT_SIMPLE.search
    token = _TOKEN.match
    depth = 0  # open parentheses of the current record
    rec: RawRecord | None = None  # the record being assembled on the careful path
    open_line = 0  # where the outermost "(" of `rec` was
    for index, line in enumerate(split_lines(text)):
        lineno = index + 1
        if tick is not None and not lineno % TICK_EVERY:
            tick(lineno)
        if rec is None:
            if not not_simple(line):
                cut = line.find(";")
                parts = (line if cut < 0 else line[:cut]).split()
                if parts:
                    yield RawRecord(lineno, line[0] in " \t", parts)
                continue
            rec = RawRecord(lineno, line[:1] in (" ", "\t"), [], [])
        items = rec.items
        lines = rec.item_lines
        assert lines is not None
        pos = 0
        end_record = False
        while True:
            m = token(line, pos)
            if m is None:
                break  # only blanks are left
            pos = m.end()
            group = m.lastindex
            if group == 6:  # identifier
                value = m.group(6)
                if rec.error is None:
                    items.append(Token(IDENTIFIER, value, True) if "\\" in value else value)
                    lines.append(lineno)
                    if len(items) > MAX_RECORD_ITEMS:
                        _too_long(rec, depth, open_line)
            elif group == 1:  # comment: the rest of the line
                break
            elif group == 4 or group == 5:  # quoted string
                value = m.group(4)
                if not m.group(5):
                    if rec.error is None:
                        rec.error = (
                            lineno,
                            "unterminated quoted string (a string must end on its line)",
                        )
                    # The rest of the line is lost. If it held a ")", take the record as closed
                    # here; otherwise its ")" is on a later line: skip to it, as for any error.
                    if depth == 0 or ")" in value:
                        depth = 0
                        end_record = True
                    break
                if rec.error is None:
                    items.append(Token(QUOTED_STRING, value, "\\" in value))
                    lines.append(lineno)
                    if len(items) > MAX_RECORD_ITEMS:
                        _too_long(rec, depth, open_line)
            elif group == 2:
                if depth == 0:
                    open_line = lineno
                depth += 1
            elif group == 3:
                if depth == 0:
                    if rec.error is None:
                        rec.error = (lineno, "unbalanced parentheses: ')' without '('")
                    end_record = True
                    break
                depth -= 1
            else:  # group 7: a backslash with nothing to escape
                if rec.error is None:
                    rec.error = (lineno, "backslash at the end of the line escapes nothing")
                break
        if depth == 0 or end_record:
            depth = 0
            if rec.items or rec.error is not None:
                if rec.error is None and all(n == rec.line for n in lines):
                    rec.item_lines = None
                rec.plain = all(item.__class__ is str for item in items)
                yield rec
            rec = None
    if rec is not None:
        # The file ended inside parentheses: everything since the "(" is lost.
        rec.error = rec.error or (open_line, "unbalanced parentheses: '(' is never closed")
        yield rec
