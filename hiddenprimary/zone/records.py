"""The records of a zone file, one logical record at a time: the owner (a blank one is the
previous record's), the [TTL] [class] [TTL] type words, the rdata (`zone.rdata_parser`) and the
TTL rules (RFC 1035 §5.1, RFC 2308 §4), into the zone's RRsets (`zone.rrsets`). Also the state
every line of a file shares (origin, last owner, TTL defaults), which `zone.reader`'s directives
change, and the record count of the load. The semantics are listed in `zone.load`."""

from __future__ import annotations

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.ttl

from hiddenprimary.errors import Location
from hiddenprimary.zone.memo import ZoneMemo
from hiddenprimary.zone.problems import Problems, detail, located
from hiddenprimary.zone.rdata_parser import RdataParser
from hiddenprimary.zone.record_tokens import RecordTokens
from hiddenprimary.zone.rrsets import RRsets
from hiddenprimary.zone.scan import Item, RawRecord, raw_text, word
from hiddenprimary.zone.source import LimitCrossed, clip

MAX_TTL = 2**31 - 1  # RFC 2181 §8: larger values are treated as 0

_IN = dns.rdataclass.IN
_SOA = dns.rdatatype.SOA
_CLASSES = {text: value for text, value in dns.rdataclass.RdataClass.__members__.items()}
_DIGITS = frozenset("0123456789")
_TTL, _CLASS, _TYPE, _BAD_TTL, _META, _UNKNOWN = range(6)  # kinds of words before the rdata

# Parser state an $INCLUDE may change and that is restored after it (RFC 1035 5.1: origin and
# the current owner revert; we also restore the TTL defaults, as BIND does).
_INCLUDE_SCOPED = (
    "current_origin", "origin_in_zone", "last_name", "last_in_zone", "last_ttl", "last_ttl_known",
    "default_ttl", "default_ttl_known", "default_ttl_from_soa",
)


def _parses(parse, text: str) -> bool:
    try:
        parse(text)
    except Exception:
        return False
    return True


class RecordReader:
    """Reads the records of one zone (the files it includes too) into `rrsets`, reporting every
    problem to `problems`. `memo`: the previous load's, whose names, rdata and RRsets it reuses."""

    def __init__(self, origin: dns.name.Name, problems: Problems, memo: ZoneMemo | None = None):
        self.zone_origin = origin
        self.problems = problems
        if memo is None:
            self.tokens = RecordTokens()
            self.parser = RdataParser(origin, problems, self.tokens)
            self.rrsets = RRsets(problems, {})
        else:
            self.tokens = RecordTokens(memo.names)
            self.parser = RdataParser(origin, problems, self.tokens, memo.rdata)
            self.rrsets = RRsets(problems, memo.rdatasets)
        self._words: dict[str, tuple[int, object]] = {}
        self.records = 0  # records met, $GENERATEd ones included
        self.max_records = 0  # limits.max_records, set by the reader
        # Reader state, as dnspython's zonefile.Reader keeps it.
        self.current_origin = origin
        self.origin_in_zone = True  # current_origin is at or below the zone origin
        self.last_name: dns.name.Name | None = None
        self.last_in_zone: bool | None = None  # last_name is in the zone (None: not known yet)
        self.last_ttl = 0
        self.last_ttl_known = False
        self.default_ttl = 0
        self.default_ttl_known = False
        self.default_ttl_from_soa = False
        self.no_owner_yet = True  # no record has named an owner yet
        self.warned_soa_ttl = False

    def scope(self) -> dict[str, object]:
        """The state an $INCLUDE may change, for `restore` after it."""
        return {attr: getattr(self, attr) for attr in _INCLUDE_SCOPED}

    def restore(self, scope: dict[str, object]) -> None:
        for attr, value in scope.items():
            setattr(self, attr, value)

    def set_origin(self, origin: dns.name.Name) -> None:
        self.current_origin = origin
        self.origin_in_zone = origin.is_subdomain(self.zone_origin)

    def record(self, rec: RawRecord, path: str) -> None:
        """One record (not a directive, not a text-layer error) of the file at `path`."""
        items = rec.items
        n = len(items)
        line = rec.line
        self.records += 1
        if self.records > self.max_records:
            self.count(0, path, line)
        # Owner (RFC 1035 §5.1: a blank owner is the previous record's owner).
        if rec.blank_owner:
            owner = self.last_name
            if owner is None:
                self._no_owner(path, line)
                return
            in_zone = self.last_in_zone
            i = 0
        else:
            text = word(items[0])
            try:
                if text is None:
                    raise dns.exception.SyntaxError("an owner name cannot be a quoted string")
                owner = self.tokens.name(text, self.current_origin)
            except dns.exception.DNSException as exc:
                self._bad_owner(items[0], exc, path, line)
                return
            self.last_name = owner
            self.no_owner_yet = False
            # A relative name below an origin inside the zone is inside; else ask (None).
            in_zone = True if self.origin_in_zone and text[-1] != "." else None
            self.last_in_zone = in_zone
            i = 1
        # [TTL] [class] [TTL] type, in the orders dnspython (and BIND) accept.
        ttl = None
        rdclass = None
        kind, value = _UNKNOWN, None
        token = None
        while i < n:
            item = items[i]
            token = item if item.__class__ is str else word(item)
            if token is None:
                kind, value = _UNKNOWN, None
                break
            kind, value = self.classify(token)  # type: ignore[arg-type]
            if kind == _TTL and ttl is None:
                ttl = value if value <= MAX_TTL else self.checked_ttl(value, path, rec.line_of(i))  # type: ignore[operator]
                self.last_ttl = ttl  # type: ignore[assignment]
                self.last_ttl_known = True
            elif kind == _CLASS and rdclass is None:
                rdclass = value
                if rdclass != _IN:
                    self._not_in(rdclass, path, rec.line_of(i))  # type: ignore[arg-type]
                    return
            else:
                break
            i += 1
        if kind != _TYPE:
            self._no_type(rec, i, kind, value, token, path)
            return
        rdtype = value
        rdata = self.parser.rdata(rec, rdtype, i + 1, self.current_origin, owner, path)  # type: ignore[arg-type]
        if rdata is None:
            return
        # The TTL (RFC 1035 §5.1, RFC 2308 §4), as dnspython decides it.
        if not self.default_ttl_known and rdtype == _SOA:
            self.default_ttl = rdata.minimum  # type: ignore[attr-defined]
            self.default_ttl_known = True
            self.default_ttl_from_soa = True
        if ttl is None:
            ttl = self._implicit_ttl(path, line)
            if ttl is None:
                return
        if in_zone is None:
            in_zone = self.last_in_zone = owner.is_subdomain(self.zone_origin)
        if not in_zone:
            self.out_of_zone(owner, path, line)
            return
        self.rrsets.add(owner, ttl, rdata, path, line)

    def _implicit_ttl(self, path: str, line: int) -> int | None:
        """The TTL of a record that gives none: the last TTL, unless a $TTL is set; then the $TTL
        (or the SOA MINIMUM standing in for it). None, reported, when there is none yet."""
        if self.last_ttl_known and (not self.default_ttl_known or self.default_ttl_from_soa):
            ttl = self.last_ttl
        elif self.default_ttl_known:
            ttl = self.default_ttl
        else:
            if not self.parser.soa_failed:
                self.problems.error(
                    "syntax",
                    "no TTL: give the record one, or set $TTL before it (RFC 2308 §4)",
                    path,
                    line,
                )
            return None
        if self.default_ttl_from_soa and not self.last_ttl_known and not self.warned_soa_ttl:
            self.warned_soa_ttl = True
            self.problems.warning(
                "default-ttl-from-soa",
                f"no TTL specified and no $TTL; using the SOA MINIMUM {ttl} (RFC 1035 §5.1)",
                path,
                line,
            )
        return ttl

    def _no_owner(self, path: str, line: int) -> None:
        if self.no_owner_yet:
            self.problems.error(
                "syntax",
                "blank owner, but no previous record to take it from (RFC 1035 §5.1)",
                path,
                line,
            )
        # else the owner's line was broken, and that is reported already

    def _bad_owner(self, item: Item, exc: Exception, path: str, line: int) -> None:
        self.problems.error(
            "syntax",
            f"bad owner name '{clip(raw_text(item))}': {detail(exc)}",
            path,
            line,
        )
        self.last_name = None
        self.no_owner_yet = False

    def _not_in(self, rdclass: dns.rdataclass.RdataClass, path: str, line: int) -> None:
        self.problems.error(
            "syntax",
            f"class {dns.rdataclass.to_text(rdclass)} is not the zone's class IN",
            path,
            line,
        )

    def _no_type(
        self, rec: RawRecord, i: int, kind: int, value: object, token: str | None, path: str
    ) -> None:
        """Report why the words before the rdata end without a type: `kind` and `value` are
        what `classify` said of `token`, the word at `i`."""
        where = rec.line_of(i)
        if i >= len(rec.items):
            self.problems.error("syntax", "record has no type (RFC 1035 §5.1)", path, where)
        elif kind == _BAD_TTL:
            self.problems.error(
                "syntax", f"bad TTL '{clip(token)}': {value} (RFC 2181 §8)", path, where  # type: ignore[arg-type]
            )
        elif kind == _META:
            self.problems.error(
                "syntax",
                f"{dns.rdatatype.to_text(value)} is a meta-type, not zone data (RFC 6895 §3.1)",  # type: ignore[arg-type]
                path,
                where,
            )
        else:
            self.problems.error(
                "syntax", f"unknown type '{clip(raw_text(rec.items[i]))}'", path, where
            )

    def classify(self, text: str) -> tuple[int, object]:
        """What a word before the rdata is: (_TTL, seconds), (_CLASS, rdclass), (_TYPE, rdtype),
        or (_BAD_TTL | _META | _UNKNOWN, detail). Cached: a zone uses a handful of such words."""
        found = self._words.get(text)
        if found is not None:
            return found
        upper = text.upper()
        if text[0] in _DIGITS:
            try:
                found = (_TTL, dns.ttl.from_text(text))
            except dns.ttl.BadTTL as exc:
                found = (_BAD_TTL, detail(exc))
        elif (
            upper in _CLASSES
            or upper.startswith("CLASS")
            and _parses(dns.rdataclass.from_text, text)
        ):
            found = (_CLASS, dns.rdataclass.from_text(text))
        elif _parses(dns.rdatatype.from_text, text):
            rdtype = dns.rdatatype.from_text(text)
            found = (_META, rdtype) if dns.rdatatype.is_metatype(rdtype) else (_TYPE, rdtype)
        else:
            found = (_UNKNOWN, None)
        if len(self._words) < 10_000:
            self._words[text] = found
        return found

    def count(self, records: int, path: str, line: int) -> None:
        """Count `records` more toward limits.max_records; past it the load stops here."""
        self.records += records
        if self.records > self.max_records:
            raise located(
                LimitCrossed(
                    "too-many-records",
                    f"the zone has more than limits.max_zone_records "
                    f"({self.max_records}) records; stopped reading here",
                ),
                Location(path, line),
            )

    def checked_ttl(self, ttl: int, path: str, line: int) -> int:
        """RFC 2181 §8: a TTL above 2^31-1 is treated as 0 (BIND does the same); say so."""
        if ttl <= MAX_TTL:
            return ttl
        self.problems.warning(
            "ttl-out-of-range",
            f"TTL {ttl} is more than 2^31-1; using 0 (RFC 2181 §8)",
            path,
            line,
        )
        return 0

    def out_of_zone(self, owner: dns.name.Name, path: str, line: int) -> None:
        self.problems.warning(
            "out-of-zone",
            f"ignoring out-of-zone data ({clip(owner.to_text())} is not in {self.zone_origin})",
            path,
            line,
            owner.to_text(),
        )
