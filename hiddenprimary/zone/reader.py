"""The files of one zone: each read through `zone.source` (bounded), split into logical records by
`zone.scan`, its directives followed ($ORIGIN, $TTL, $INCLUDE, $GENERATE) and every other record
handed to `zone.records`. `$GENERATE` lines are expanded by dnspython's own zone-file reader.
Crossing a limit of the load (`zone.source.LimitCrossed`) stops it with one error where it
happened; every other problem is reported and reading goes on."""

from __future__ import annotations

import os
import re

import dns.exception
import dns.grange
import dns.name
import dns.rdata
import dns.rdataclass
import dns.tokenizer
import dns.ttl
import dns.zonefile

from hiddenprimary.errors import Location
from hiddenprimary.zone.memo import ZoneMemo
from hiddenprimary.zone.problems import Problems, detail, located
from hiddenprimary.zone.rdata_parser import SHORT_RDATA_TEXT
from hiddenprimary.zone.records import MAX_TTL, RecordReader
from hiddenprimary.zone.scan import RawRecord, raw_text, scan, split_lines, word
from hiddenprimary.zone.source import LimitCrossed, ReadLimits, Source, Unreadable, clip

MAX_INCLUDE_DEPTH = 20
MAX_GENERATE = 1_000_000  # records one $GENERATE line may make
_DEADLINE_EVERY = 1024  # records between two looks at the clock
_IN = dns.rdataclass.IN
_WHERE_PREFIX = re.compile(r"^<string>:\d+: ")


class Reader:
    """Reads one zone's file (and the files it includes) into `records`, reporting every problem
    to `problems`. `read_ok` says the zone file was read to its end."""

    def __init__(self, origin: dns.name.Name, memo: ZoneMemo | None = None):
        self.problems = Problems()
        self.records = RecordReader(origin, self.problems, memo)
        self.source = Source("", None)  # replaced by load_file
        self.read_ok = False
        self._include_stack: list[str] = []

    def load_file(self, path: str, limits: ReadLimits | None = None) -> None:
        self.source = Source(path, limits)
        self.records.max_records = self.source.limits.max_records
        try:
            text = self._read(path, None)
            self.read_ok = text is not None
            if text is not None:
                self._include_stack.append(os.path.realpath(path))
                self._read_records(text, path)
                self._include_stack.pop()
        except LimitCrossed as exc:  # the whole load stops: one error where it happened
            where = exc.where if isinstance(exc.where, Location) else Location(path)
            self.problems.error(exc.code, exc.message, where.path, where.line)
            self.read_ok = False

    def _read(self, path: str, include_at: Location | None, shown: str | None = None) -> str | None:
        """The text of `path` (None if unreadable). `shown`: the path as written, for messages
        and locations, when `path` is its resolved form (read that, so what was checked is what
        is read)."""
        name = shown or path
        try:
            data = self.source.read(path, shown)
        except Unreadable as exc:
            if include_at is None:
                self.problems.error("file-unreadable", f"cannot read zone file {clip(name)}: {exc}", name)
            else:
                self.problems.error(
                    "include-unreadable",
                    f"cannot read $INCLUDE file {clip(name)}: {exc}",
                    include_at.path,
                    include_at.line,
                )
            return None
        except LimitCrossed as exc:
            raise located(exc, include_at or Location(name)) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            self.problems.error("syntax", f"text is not UTF-8 (byte 0x{data[exc.start]:02x})", name, line)
            text = data.decode("utf-8", "replace")
        nul = text.find("\0")
        if nul >= 0:  # a name or string with a NUL is never what was meant (named-checkzone refuses)
            line = len(split_lines(text[:nul]))
            self.problems.error("nul-byte", "NUL byte in the text (a zone file is text)", name, line)
        return text

    def _read_records(self, text: str, path: str) -> None:
        def deadline(line: int) -> None:
            try:
                self.source.check_deadline()
            except LimitCrossed as exc:
                raise located(exc, Location(path, line)) from None

        records = self.records
        record = records.record
        countdown = _DEADLINE_EVERY
        for rec in scan(text, tick=deadline):
            countdown -= 1
            if not countdown:
                countdown = _DEADLINE_EVERY
                deadline(rec.line)
            if rec.error is not None:
                line, message = rec.error
                self.problems.error("syntax", f"{message} (RFC 1035 §5.1)", path, line)
                if not rec.blank_owner:
                    records.last_name = None  # the owner of the broken line is unknown
                    records.no_owner_yet = False
                continue
            first = rec.items[0]
            if not rec.blank_owner and first.__class__ is str and first[0] == "$":  # type: ignore[index]
                self._directive(rec, path, first.upper())  # type: ignore[union-attr]
            else:
                record(rec, path)

    # -- directives -------------------------------------------------------------------------

    def _directive(self, rec: RawRecord, path: str, directive: str) -> None:
        line = rec.line
        records = self.records
        if directive == "$TTL":
            value = self._argument(rec, "$TTL takes one TTL value (RFC 2308 §4)", path)
            if value is None:
                return
            try:
                records.default_ttl = records.checked_ttl(dns.ttl.from_text(value), path, line)
            except dns.ttl.BadTTL as exc:
                self.problems.error(
                    "syntax", f"bad $TTL '{clip(value)}': {detail(exc)} (RFC 2308 §4)", path, line
                )
                return
            records.default_ttl_known = True
            records.default_ttl_from_soa = False
        elif directive == "$ORIGIN":
            value = self._argument(rec, "$ORIGIN takes one domain name (RFC 1035 §5.1)", path)
            if value is None:
                return
            try:
                origin = dns.name.from_text(value, records.current_origin)
            except dns.exception.DNSException as exc:
                self.problems.error("syntax", f"bad $ORIGIN '{clip(value)}': {detail(exc)}", path, line)
                return
            records.set_origin(origin)
        elif directive == "$INCLUDE":
            self._include(rec, path)
        elif directive == "$GENERATE":
            self._generate(rec, path)
        else:
            self.problems.error(
                "syntax",
                f"unknown directive {clip(directive)} (known: $ORIGIN, $INCLUDE, $TTL, $GENERATE)",
                path,
                line,
            )

    def _argument(self, rec: RawRecord, usage: str, path: str) -> str | None:
        """The one word after a directive; None, with `usage` as the error, when there is not."""
        value = word(rec.items[1]) if len(rec.items) == 2 else None
        if value is None:
            self.problems.error("syntax", usage, path, rec.line)
        return value

    def _include(self, rec: RawRecord, path: str) -> None:
        items = rec.items
        line = rec.line
        if not 2 <= len(items) <= 3:
            self.problems.error(
                "syntax",
                "$INCLUDE takes a file name and an optional origin (RFC 1035 §5.1)",
                path,
                line,
            )
            return
        filename = items[1].value if not isinstance(items[1], str) else items[1]
        if "\0" in filename:  # reported as nul-byte already; no path can hold one
            return
        origin = self.records.current_origin
        if len(items) == 3:
            value = word(items[2])
            try:
                if value is None:
                    raise dns.exception.SyntaxError("expecting a domain name")
                origin = dns.name.from_text(value, self.records.current_origin)
            except dns.exception.DNSException as exc:
                self.problems.error(
                    "syntax",
                    f"bad $INCLUDE origin '{clip(raw_text(items[2]))}': {detail(exc)}",
                    path,
                    line,
                )
                return
        # Relative to the folder of the file that holds the $INCLUDE (see zone.load's docstring).
        target = os.path.normpath(os.path.join(os.path.dirname(path), filename))
        real = os.path.realpath(target)
        try:
            self.source.check_include(real)
        except Unreadable as exc:
            self.problems.error("include-outside-root", f"$INCLUDE {clip(target)} refused: {exc}", path, line)
            return
        if real in self._include_stack:
            self.problems.error(
                "include-loop", f"$INCLUDE {clip(target)} would include itself again", path, line
            )
            return
        if len(self._include_stack) >= MAX_INCLUDE_DEPTH:
            self.problems.error(
                "include-loop",
                f"$INCLUDE {clip(target)}: more than {MAX_INCLUDE_DEPTH} nested includes",
                path,
                line,
            )
            return
        text = self._read(real, Location(path, line), target)
        if text is None:
            return
        scope = self.records.scope()
        self.records.set_origin(origin)
        self._include_stack.append(real)
        try:
            self._read_records(text, target)
        finally:
            self._include_stack.pop()
            self.records.restore(scope)

    def _generate(self, rec: RawRecord, path: str) -> None:
        """Expand `$GENERATE range lhs [ttl] [class] type rhs` with dnspython's own Reader.

        As in BIND, an explicit TTL here becomes the last TTL, but the generated names do not
        become the owner of a following blank-owner line (dnspython makes the last one it)."""
        records = self.records
        counted = False
        if len(rec.items) > 1 and (span := word(rec.items[1])) is not None:
            try:
                start, stop, step = dns.grange.from_text(span)
            except Exception:
                pass  # dnspython's reader reports it below
            else:
                count = (stop - start) // max(step, 1) + 1
                if count > MAX_GENERATE:
                    self.problems.error(
                        "syntax",
                        f"$GENERATE range {clip(span)} makes more than {MAX_GENERATE} records",
                        path,
                        rec.line,
                    )
                    return
                records.count(max(count, 0), path, rec.line)  # before expanding, not after
                counted = True
        text = " ".join(raw_text(item) for item in rec.items)
        txn = _GenerateTxn()
        reader = dns.zonefile.Reader(
            dns.tokenizer.Tokenizer(text),
            _IN,
            txn,
            allow_directives={"$GENERATE"},  # type: ignore[arg-type]
        )
        reader.current_origin = records.current_origin
        reader.last_ttl = records.last_ttl
        reader.last_ttl_known = records.last_ttl_known
        reader.default_ttl = records.default_ttl
        reader.default_ttl_known = records.default_ttl_known
        reader.default_ttl_from_soa = records.default_ttl_from_soa
        try:
            reader.read()
        except Exception as exc:  # dnspython reports every failure here as SyntaxError
            what = _WHERE_PREFIX.sub("", detail(exc))
            self.problems.error("syntax", f"bad $GENERATE: {what}", path, rec.line)
            return
        records.last_ttl = records.checked_ttl(reader.last_ttl, path, rec.line)
        records.last_ttl_known = reader.last_ttl_known
        if not counted:
            records.count(len(txn.added), path, rec.line)
        try:
            self.source.check_deadline()  # dnspython's expansion of up to MAX_GENERATE records
        except LimitCrossed as exc:
            raise located(exc, Location(path, rec.line)) from None
        long_text = len(text) > SHORT_RDATA_TEXT
        for name, ttl, rdata in txn.added:
            if long_text and records.parser.too_long(name, rdata, path, rec.line):
                continue
            if name.is_subdomain(records.zone_origin):
                records.rrsets.add(name, 0 if ttl > MAX_TTL else ttl, rdata, path, rec.line)  # warned above
            else:
                records.out_of_zone(name, path, rec.line)


class _GenerateTxn:
    """Just enough of a dnspython transaction for dnspython's zone-file Reader to expand one
    `$GENERATE` line into (name, ttl, rdata) triples."""

    def __init__(self) -> None:
        self.manager = self
        self.added: list[tuple[dns.name.Name, int, dns.rdata.Rdata]] = []

    def origin_information(self):
        return (dns.name.root, False, dns.name.root)

    def check_put_rdataset(self, check) -> None:
        pass

    def add(self, name, ttl, rdata) -> None:
        self.added.append((name, ttl, rdata))

