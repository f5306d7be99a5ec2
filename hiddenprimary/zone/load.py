"""Zone file -> LoadedZone: the records of an RFC 1035 master file, where each came from, and
every problem found (not only the first).

How it reads a file (DESIGN.md "Reloads are driven by the difference"): `zone.scan` splits the
text into logical records (comments, parentheses, quotes, escapes); this module follows the
directives ($ORIGIN, $TTL, $INCLUDE, $GENERATE), the inherited owner of blank-owner lines and the
TTL rules, and hands the rdata of each record to dnspython's rdata parser through a tokenizer that
replays the record's tokens (no Tokenizer per record). A bad record therefore yields one problem
with its own line, and loading goes on: a syntax error on line 5 hides neither a second one on
line 9 nor a CNAME conflict on line 12. `$GENERATE` lines are expanded by dnspython's own
zone-file reader.

Semantics, as dnspython's `dns.zone.from_file` unless said otherwise (tests compare the two):

- Names are case-insensitive; records with the same owner and type form one RRset; a record
  that repeats one already in its RRset is merged silently.
- TTLs (RFC 1035 §5.1, RFC 2308 §4): an explicit TTL wins; otherwise `$TTL`; otherwise the last
  explicit TTL; otherwise the SOA MINIMUM (with the warning `default-ttl-from-soa`, as BIND).
  Records of one RRset with different TTLs keep the first TTL and warn `ttl-mismatch` (RFC 2181
  §5.2; BIND does the same; dnspython would take the smallest).
- Records whose owner is outside the origin are checked, then ignored with the warning
  `out-of-zone` (BIND: "ignoring out-of-zone data"; dnspython drops them silently).
- `$INCLUDE file [origin]`: a relative path is resolved against the folder of the file that
  contains the `$INCLUDE` (BIND resolves it against its `directory` option; dnspython against the
  process's working directory; the including file's folder is what a zone author can rely on).
  The included file starts with the includer's state; the includer's origin, owner and TTLs are
  restored after it (RFC 1035 §5.1).
- `$GENERATE`: an explicit TTL there becomes the last TTL, but the generated names do not
  become the owner of a following blank-owner line (BIND; dnspython takes the last generated one).
- A TTL above 2^31-1 is used as 0 with the warning `ttl-out-of-range` (RFC 2181 §8, as BIND).
  An explicit TTL on a record outside the zone still counts as the last TTL (BIND; dnspython
  skips such records before reading their TTL).
- A first record with a blank owner is an error (dnspython would use the origin; BIND refuses).
- Meta-types (ANY, AXFR, OPT, ...) and classes other than IN are errors.
- A second, different record of a singleton type (SOA, CNAME, DNAME, NSEC) is not merged
  (dnspython keeps the last one silently); it is kept in `LoadedZone.dropped` for `zone.checks`,
  which reports `multiple-soa`, `multiple-cname`, ...

Input bounds (issue 11; `zone.source` reads the bytes): only regular files are read; an
`$INCLUDE` must resolve inside the zone file's folder or an `include_roots` folder; the files of
one zone share one byte budget, its records one count, and the load one deadline. Crossing any
of these stops the load at once with one error naming where. A NUL byte, or a record whose rdata
is over 65,535 octets on the wire (RFC 1035 §3.2.1 RDLENGTH), is an error on its line. Messages
repeat at most ~100 characters of any token (`zone.source.clip`).

Problem codes found here (all ERROR unless noted): `syntax` (anything the text, a directive, a
TTL, a type or an rdata gets wrong), `file-unreadable`, `include-unreadable`, `include-loop`,
`include-outside-root`, `nul-byte`, `rdata-too-long`, `too-large`, `too-many-records`,
`reload-timeout`, `too-many-problems` (more than MAX_PROBLEMS); warnings `out-of-zone`,
`ttl-mismatch`, `ttl-out-of-range`, `default-ttl-from-soa`. `zone.checks` adds the semantic ones.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re

import dns.exception
import dns.grange
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tokenizer
import dns.ttl
import dns.zonefile

from hiddenprimary.errors import Location, Severity, ZoneProblem, ZoneRejected
from hiddenprimary.zone import checks
from hiddenprimary.zone.limits import MAX_MESSAGE, MAX_RDATA, TSIG_RESERVE, max_transferable_rdata
from hiddenprimary.zone.scan import Item, RawRecord, raw_text, scan, split_lines
from hiddenprimary.zone.source import LimitCrossed, ReadLimits, Source, Unreadable, clip

RdatasetKey = tuple[int, int]  # (rdtype, covers)

MAX_PROBLEMS = 1000  # per severity; past this, one `too-many-problems` entry says how many more
MAX_INCLUDE_DEPTH = 20
MAX_GENERATE = 1_000_000  # records one $GENERATE line may make
MAX_TTL = 2**31 - 1  # RFC 2181 §8: larger values are treated as 0
# A token adds at most ~128 octets of wire per character of text (a 1-character relative name
# becomes up to 255 octets with the origin), so rdata of up to this much text cannot exceed what
# a record may carry at any owner (names of 255 octets) and is not rendered to check.
_SHORT_RDATA_TEXT = (MAX_MESSAGE - TSIG_RESERVE - 1024) // 128
_DEADLINE_EVERY = 1024  # records between two looks at the clock
_RDATA_CACHE_SIZE = 10_000_000  # distinct rdata texts remembered per load (and in its memo)
_NAME_CACHE_SIZE = 1_000_000  # per origin

_IN = dns.rdataclass.IN
_SOA = dns.rdatatype.SOA
_NONE = dns.rdatatype.NONE
_RRSIG = dns.rdatatype.RRSIG
_NS = dns.rdatatype.NS
_SINGLETONS = frozenset(t for t in dns.rdatatype.RdataType if dns.rdatatype.is_singleton(t))
_EOL = dns.tokenizer.Token(dns.tokenizer.EOL, "\n")
_IDENTIFIER = dns.tokenizer.IDENTIFIER
_CLASSES = {text: value for text, value in dns.rdataclass.RdataClass.__members__.items()}
_DIGITS = frozenset("0123456789")
_TTL, _CLASS, _TYPE, _BAD_TTL, _META, _UNKNOWN = range(6)  # kinds of words before the rdata
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_*-]+(?:\.[A-Za-z0-9_*-]+)*\.?")


def _parses(parse, word: str) -> bool:
    try:
        parse(word)
    except Exception:
        return False
    return True


# Parser state an $INCLUDE may change and that is restored after it (RFC 1035 5.1: origin and
# the current owner revert; we also restore the TTL defaults, as BIND does).
_INCLUDE_SCOPED = (
    "current_origin", "origin_in_zone", "last_name", "last_in_zone", "last_ttl", "last_ttl_known",
    "default_ttl", "default_ttl_known", "default_ttl_from_soa",
)


@dataclasses.dataclass
class LoadedZone:
    """A parsed and checked zone. Owner names are absolute.

    `locations[(owner, rdtype)]` is where the first record of that owner and type was defined
    (the file of the record itself, `$INCLUDE`d files included). `dropped[(owner, rdtype)]` lists
    where the second and later *different* records of a singleton type (SOA, CNAME, DNAME, NSEC)
    were: an RRset of such a type holds one record, so they are not in `rdatasets`.
    `failed` holds the (owner, rdtype) of records rejected as syntax errors, so checks do not
    repeat them as "missing" (no SOA, an NS target with no address). `ns_records` lists
    (owner, target, location) of every NS record, so NS problems point at the record itself."""

    origin: dns.name.Name
    rdatasets: dict[dns.name.Name, dict[RdatasetKey, dns.rdataset.Rdataset]]
    locations: dict[tuple[dns.name.Name, int], Location]
    warnings: list[ZoneProblem]
    path: str = ""
    dropped: dict[tuple[dns.name.Name, int], list[Location]] = dataclasses.field(
        default_factory=dict
    )
    failed: set[tuple[dns.name.Name, int]] = dataclasses.field(default_factory=set)
    ns_records: list[tuple[dns.name.Name, dns.name.Name, Location]] = dataclasses.field(
        default_factory=list
    )
    # For the next load of the same zone: load_zone(path, origin, memo=zone.memo).
    memo: ZoneMemo | None = dataclasses.field(default=None, repr=False, compare=False)

    def location(self, name: dns.name.Name, rdtype: int) -> Location | None:
        return self.locations.get((name, rdtype))


class ZoneMemo:
    """What one successful load remembers so the next load of the same zone parses only what
    changed (DESIGN.md "Reloads are driven by the difference"). Opaque to callers.

    - `rdata[origin labels]["rdtype token token ..."]`: the rdata parsed from that text under
      that $ORIGIN (records without quotes or escapes only). Parsing is a pure function of these,
      so a record whose text repeats is given the previous object instead of being parsed.
    - `names[origin labels][text]`: likewise for owner names and names in rdata.
    - `rdatasets`: the previous load's RRsets. A new RRset built from the same rdata objects,
      in the same order, with the same TTL, is that previous Rdataset object itself.

    A load reads a memo and never changes it (a failed load leaves it usable again); the memo
    it returns holds only what that load met. Everything it holds is shared with the zone."""

    __slots__ = ("origin", "rdata", "names", "rdatasets")

    def __init__(
        self,
        origin: dns.name.Name,
        rdata: dict[tuple[bytes, ...], dict[str, dns.rdata.Rdata]],
        names: dict[tuple[bytes, ...] | None, dict[str, dns.name.Name]],
        rdatasets: dict[dns.name.Name, dict[RdatasetKey, dns.rdataset.Rdataset]],
    ):
        self.origin = origin
        self.rdata = rdata
        self.names = names
        self.rdatasets = rdatasets


def load_zone(
    path: str, origin: dns.name.Name, memo: ZoneMemo | None = None, limits: ReadLimits | None = None
) -> LoadedZone:
    """Parse and check the zone file at `path` for the zone `origin` (class IN).

    `memo` is the `memo` of the previous successful load of this zone: records whose text did
    not change are not parsed again, and RRsets that did not change are the previous load's
    Rdataset objects (so `old is new` tells "unchanged"). The result is the same with or
    without it; a memo of another zone is ignored.

    Returns the zone with its warnings. Raises ZoneRejected(zone, problems) listing every error of
    the file (syntax and semantic ones, each with file:line) and the warnings, not only the first.
    A relative `$INCLUDE` path is resolved against the folder of the file holding the `$INCLUDE`
    (not the working directory), so a zone and its includes can move together.
    `limits`: what the load may read (bytes, records, include folders, deadline); the defaults
    without it.
    """
    if not origin.is_absolute():
        raise ValueError(f"zone origin {origin} must be absolute")
    if memo is not None and memo.origin.labels != origin.labels:
        memo = None
    loader = _Loader(origin, memo)
    loader.load_file(path, limits)
    loader.settle()
    zone = LoadedZone(
        origin=origin,
        rdatasets=loader.rdatasets,
        locations=loader.locations,
        warnings=[],
        path=path,
        dropped=loader.dropped,
        failed=loader.failed,
        ns_records=loader.ns_records,
    )
    if loader.read_ok:  # an unreadable or partly read file has no records to check
        for problem in checks.check(zone):
            loader.report(problem)
        if loader.source.limits.expired():  # checks are bounded by the record count; say so
            loader.error("reload-timeout", f"{loader.source.limits.timeout_text()} (zone checks)", path)
    problems = loader.finish()
    if any(p.severity is Severity.ERROR for p in problems):
        raise ZoneRejected(origin.to_text(omit_final_dot=True), problems)
    zone.warnings = problems
    zone.memo = ZoneMemo(origin, loader._rdata_caches, loader._tokens._caches, loader.rdatasets)
    return zone


class _RecordTokens(dns.tokenizer.Tokenizer):
    """A dnspython Tokenizer that replays the tokens of one logical record, so dnspython's rdata
    parsers run unchanged without a Tokenizer (and a StringIO) per record. Names met in rdata
    are cached per origin: a zone repeats the same few targets (MX hosts, CNAME targets)."""

    def __init__(self) -> None:  # no super().__init__: there is no file to read
        self.file = None
        self.ungotten_char = None
        self.ungotten_token = None
        self.multiline = 0
        self.quoting = False
        self.eof = False
        self.after_cr = False
        self.line_number = 0
        self.filename = "<record>"
        self.idna_codec = dns.name.IDNA_DEFAULT
        self.items: list[Item] = []
        self.pos = 0
        self.end = 0
        # Caches are keyed by the origin's exact labels (not by Name, which ignores case), so a
        # cached name is exactly what from_text would give. `_prev_caches` are the previous
        # load's (from a ZoneMemo): read, never written.
        self._cache_origin: dns.name.Name | None = None
        self._cache: dict[str, dns.name.Name] = {}
        self._caches: dict[tuple[bytes, ...] | None, dict[str, dns.name.Name]] = {None: self._cache}
        self._prev_caches: dict[tuple[bytes, ...] | None, dict[str, dns.name.Name]] = {}
        self._prev_cache: dict[str, dns.name.Name] = {}

    def reset(self, items: list[Item], pos: int) -> None:
        self.items = items
        self.pos = pos
        self.end = len(items)
        self.ungotten_token = None

    def get(self, want_leading: bool = False, want_comment: bool = False) -> dns.tokenizer.Token:
        token = self.ungotten_token
        if token is not None:
            self.ungotten_token = None
            return token
        pos = self.pos
        if pos >= self.end:
            return _EOL
        self.pos = pos + 1
        item = self.items[pos]
        if item.__class__ is str:
            return dns.tokenizer.Token(_IDENTIFIER, item)
        return item  # type: ignore[return-value]

    def unget(self, token: dns.tokenizer.Token) -> None:
        if self.ungotten_token is not None:
            raise dns.tokenizer.UngetBufferFull
        self.ungotten_token = token

    def name(self, text: str, origin: dns.name.Name | None) -> dns.name.Name:
        """dns.name.from_text(text, origin), cached. A name the previous load (memo) made from
        the same text and origin is that very object, so dict lookups by it hit on identity."""
        if origin is not self._cache_origin:
            self._cache_origin = origin
            key = None if origin is None else origin.labels
            self._cache = self._caches.setdefault(key, {})
            self._prev_cache = self._prev_caches.get(key) or {}
        name = self._cache.get(text)
        if name is not None:
            return name
        name = self._prev_cache.get(text)
        if name is None:
            if origin is not None and _PLAIN_NAME.fullmatch(text):
                # What from_text does for plain ASCII labels, without its per-character loop;
                # Name() still checks label and name lengths (RFC 1035 §2.3.4).
                labels = tuple(text.encode().split(b"."))
                name = dns.name.Name(labels if labels[-1] == b"" else labels + origin.labels)
            else:
                name = dns.name.from_text(text, origin, self.idna_codec)
        if len(self._cache) < _NAME_CACHE_SIZE:
            self._cache[text] = name
        return name

    def as_name(
        self,
        token: dns.tokenizer.Token,
        origin: dns.name.Name | None = None,
        relativize: bool = False,
        relativize_to: dns.name.Name | None = None,
    ) -> dns.name.Name:
        if not token.is_identifier():
            raise dns.exception.SyntaxError("expecting an identifier")
        name = self.name(token.value, origin)
        if relativize or not name.is_absolute():
            return name.choose_relativity(relativize_to or origin, relativize)
        return name


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


_WHERE_PREFIX = re.compile(r"^<string>:\d+: ")
_MALFORMED = str(dns.exception.SyntaxError())  # dnspython's "Text input is malformed."
_RDATA_HINTS = {  # for dnspython's bare "Text input is malformed."
    dns.rdatatype.A: "not an IPv4 address in dotted-quad form",
    dns.rdatatype.AAAA: "not an IPv6 address",
}
_RDATA_RFC = {  # where each common type's presentation format is defined
    "A": "RFC 1035 §3.4.1",
    "AAAA": "RFC 3596 §2.2",
    "NS": "RFC 1035 §3.3.11",
    "CNAME": "RFC 1035 §3.3.1",
    "SOA": "RFC 1035 §3.3.13",
    "PTR": "RFC 1035 §3.3.12",
    "MX": "RFC 1035 §3.3.9",
    "TXT": "RFC 1035 §3.3.14",
    "HINFO": "RFC 1035 §3.3.2",
    "SRV": "RFC 2782",
    "NAPTR": "RFC 3403 §4.1",
    "DNAME": "RFC 6672 §2.1",
    "DS": "RFC 4034 §5.3",
    "DNSKEY": "RFC 4034 §2.2",
    "RRSIG": "RFC 4034 §3.2",
    "NSEC": "RFC 4034 §4.2",
    "NSEC3": "RFC 5155 §3.3",
    "NSEC3PARAM": "RFC 5155 §4.3",
    "CAA": "RFC 8659 §4.1",
    "TLSA": "RFC 6698 §2.2",
    "SSHFP": "RFC 4255 §3.2",
    "SVCB": "RFC 9460 §2.1",
    "HTTPS": "RFC 9460 §9",
}


def _word(item: Item) -> str | None:
    """The text of an identifier item, None for a quoted string."""
    if item.__class__ is str:
        return item  # type: ignore[return-value]
    return item.value if item.ttype == _IDENTIFIER else None  # type: ignore[union-attr]


def _text_length(items: list[Item], start: int) -> int:
    """Characters of the rdata tokens from `start` on, separators counted."""
    return sum(len(item if item.__class__ is str else item.value) + 1 for item in items[start:])  # type: ignore[union-attr]


def _detail(exc: BaseException, hint: str | None = None) -> str:
    """What went wrong, in words: dnspython's message, or, when it is only the generic
    "Text input is malformed.", `hint` or the message of the exception underneath."""
    text = str(exc).strip()
    if text in ("", _MALFORMED, "None"):
        if hint is not None:
            return hint
        context = exc.__cause__ or exc.__context__
        if context is not None and str(context) and str(context) != _MALFORMED:
            return str(context)
        return "malformed"
    return clip(text)  # dnspython may repeat the token it choked on


def _locate(exc: LimitCrossed, where: Location) -> LimitCrossed:
    """Give `exc` the place it happened, unless a deeper include already did."""
    if exc.where is None:
        exc.where = where
    return exc


class _Loader:
    """Reads one zone's file (and the files it includes) into rdatasets, collecting problems."""

    def __init__(self, origin: dns.name.Name, memo: ZoneMemo | None = None):
        self.zone_origin = origin
        self.rdatasets: dict[dns.name.Name, dict[RdatasetKey, dns.rdataset.Rdataset]] = {}
        self.locations: dict[tuple[dns.name.Name, int], Location] = {}
        self.dropped: dict[tuple[dns.name.Name, int], list[Location]] = {}
        self.failed: set[tuple[dns.name.Name, int]] = set()
        self.ns_records: list[tuple[dns.name.Name, dns.name.Name, Location]] = []
        self.problems: list[ZoneProblem] = []
        self._counts = {Severity.ERROR: 0, Severity.WARNING: 0}
        self._tokens = _RecordTokens()
        self._words: dict[str, tuple[int, object]] = {}
        self._classes: dict[int, type[dns.rdata.Rdata]] = {}
        # Rdata by "rdtype tokens", one dict per $ORIGIN (by its exact labels); see ZoneMemo.
        self._rdata_origin: dns.name.Name | None = None
        self._rdata_cache: dict[str, dns.rdata.Rdata] = {}
        self._rdata_caches: dict[tuple[bytes, ...], dict[str, dns.rdata.Rdata]] = {}
        self._prev_rdata_caches: dict[tuple[bytes, ...], dict[str, dns.rdata.Rdata]] = {}
        self._prev_rdata: dict[str, dns.rdata.Rdata] = {}
        # The previous load's nodes, and the same by id() of their owner Name: an owner this load
        # got from the memo's name cache is that same object (the memo keeps it alive, so ids
        # cannot clash), found without hashing a Name (dnspython does that in Python). Other
        # owners are looked up by value. `_borrowed`: RRsets that are, so far, a previous one.
        self._prev_rdatasets: dict[dns.name.Name, dict[RdatasetKey, dns.rdataset.Rdataset]] = {}
        self._prev_nodes: dict[int, dict[RdatasetKey, dns.rdataset.Rdataset]] = {}
        self._last_prev: dict[RdatasetKey, dns.rdataset.Rdataset] | None = None
        self._borrowed: dict[int, _Borrowed] = {}
        if memo is not None:
            self._prev_rdata_caches = memo.rdata
            self._tokens._prev_caches = memo.names
            self._prev_rdatasets = memo.rdatasets
            self._prev_nodes = {id(name): node for name, node in memo.rdatasets.items()}
        self._include_stack: list[str] = []
        self.source = Source("", None)  # replaced by load_file
        self.read_ok = False
        self.records = 0  # records met, $GENERATEd ones included
        self.max_records = 0  # limits.max_records, set by load_file
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
        self.soa_failed = False  # an SOA failed to parse: later "no TTL" errors are its echo
        self.warned_soa_ttl = False
        self._last_owner: dns.name.Name | None = None
        self._last_node: dict[RdatasetKey, dns.rdataset.Rdataset] | None = None

    # -- problems ---------------------------------------------------------------------------

    def report(self, problem: ZoneProblem) -> None:
        self._counts[problem.severity] += 1
        if self._counts[problem.severity] <= MAX_PROBLEMS:
            self.problems.append(problem)

    def error(
        self, code: str, message: str, path: str, line: int = 0, name: str | None = None
    ) -> None:
        self.report(ZoneProblem(code, Severity.ERROR, message, Location(path, line), name))

    def warning(
        self, code: str, message: str, path: str, line: int = 0, name: str | None = None
    ) -> None:
        self.report(ZoneProblem(code, Severity.WARNING, message, Location(path, line), name))

    def finish(self) -> list[ZoneProblem]:
        problems = list(self.problems)
        for severity, count in self._counts.items():
            if count > MAX_PROBLEMS:
                problems.append(
                    ZoneProblem(
                        "too-many-problems",
                        severity,
                        f"{count - MAX_PROBLEMS} more {severity.value}s not listed",
                    )
                )
        return problems

    # -- files ------------------------------------------------------------------------------

    def load_file(self, path: str, limits: ReadLimits | None = None) -> None:
        self.source = Source(path, limits)
        self.max_records = self.source.limits.max_records
        try:
            text = self._read(path, None)
            self.read_ok = text is not None
            if text is not None:
                self._include_stack.append(os.path.realpath(path))
                self._read_records(text, path)
                self._include_stack.pop()
        except LimitCrossed as exc:  # the whole load stops: one error where it happened
            where = exc.where if isinstance(exc.where, Location) else Location(path)
            self.error(exc.code, exc.message, where.path, where.line)
            self.read_ok = False

    def _read(self, path: str, include_at: Location | None, shown: str | None = None) -> str | None:
        """The text of `path` (None if unreadable). `shown`: the path as written, for messages
        and locations, when `path` is its resolved form (read that, so what was checked is what
        is read)."""
        name = shown or path
        try:
            data = self.source.read(path)
        except Unreadable as exc:
            if include_at is None:
                self.error("file-unreadable", f"cannot read zone file {clip(name)}: {exc}", name)
            else:
                self.error(
                    "include-unreadable",
                    f"cannot read $INCLUDE file {clip(name)}: {exc}",
                    include_at.path,
                    include_at.line,
                )
            return None
        except LimitCrossed as exc:
            raise _locate(exc, include_at or Location(name)) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            self.error("syntax", f"text is not UTF-8 (byte 0x{data[exc.start]:02x})", name, line)
            text = data.decode("utf-8", "replace")
        nul = text.find("\0")
        if nul >= 0:  # a name or string with a NUL is never what was meant (named-checkzone refuses)
            line = len(split_lines(text[:nul]))
            self.error("nul-byte", "NUL byte in the text (a zone file is text)", name, line)
        return text

    def _read_records(self, text: str, path: str) -> None:
        def deadline(line: int) -> None:
            try:
                self.source.check_deadline()
            except LimitCrossed as exc:
                raise _locate(exc, Location(path, line)) from None

        countdown = _DEADLINE_EVERY
        for rec in scan(text, tick=deadline):
            countdown -= 1
            if not countdown:
                countdown = _DEADLINE_EVERY
                deadline(rec.line)
            if rec.error is not None:
                line, message = rec.error
                self.error("syntax", f"{message} (RFC 1035 §5.1)", path, line)
                if not rec.blank_owner:
                    self.last_name = None  # the owner of the broken line is unknown
                    self.no_owner_yet = False
                continue
            first = rec.items[0]
            if not rec.blank_owner and first.__class__ is str and first[0] == "$":  # type: ignore[index]
                self._directive(rec, path, first.upper())  # type: ignore[union-attr]
            else:
                self._record(rec, path)

    # -- directives -------------------------------------------------------------------------

    def _directive(self, rec: RawRecord, path: str, word: str) -> None:
        items = rec.items
        line = rec.line
        if word == "$TTL":
            value = _word(items[1]) if len(items) > 1 else None
            if value is None or len(items) != 2:
                self.error("syntax", "$TTL takes one TTL value (RFC 2308 §4)", path, line)
                return
            try:
                self.default_ttl = self._checked_ttl(dns.ttl.from_text(value), path, line)
            except dns.ttl.BadTTL as exc:
                self.error(
                    "syntax", f"bad $TTL '{clip(value)}': {_detail(exc)} (RFC 2308 §4)", path, line
                )
                return
            self.default_ttl_known = True
            self.default_ttl_from_soa = False
        elif word == "$ORIGIN":
            value = _word(items[1]) if len(items) > 1 else None
            if value is None or len(items) != 2:
                self.error("syntax", "$ORIGIN takes one domain name (RFC 1035 §5.1)", path, line)
                return
            try:
                origin = dns.name.from_text(value, self.current_origin)
            except dns.exception.DNSException as exc:
                self.error("syntax", f"bad $ORIGIN '{clip(value)}': {_detail(exc)}", path, line)
                return
            self._set_origin(origin)
        elif word == "$INCLUDE":
            self._include(rec, path)
        elif word == "$GENERATE":
            self._generate(rec, path)
        else:
            self.error(
                "syntax",
                f"unknown directive {clip(word)} (known: $ORIGIN, $INCLUDE, $TTL, $GENERATE)",
                path,
                line,
            )

    def _set_origin(self, origin: dns.name.Name) -> None:
        self.current_origin = origin
        self.origin_in_zone = origin.is_subdomain(self.zone_origin)

    def _include(self, rec: RawRecord, path: str) -> None:
        items = rec.items
        line = rec.line
        if not 2 <= len(items) <= 3:
            self.error(
                "syntax",
                "$INCLUDE takes a file name and an optional origin (RFC 1035 §5.1)",
                path,
                line,
            )
            return
        filename = items[1].value if not isinstance(items[1], str) else items[1]
        if "\0" in filename:  # reported as nul-byte already; no path can hold one
            return
        origin = self.current_origin
        if len(items) == 3:
            value = _word(items[2])
            try:
                if value is None:
                    raise dns.exception.SyntaxError("expecting a domain name")
                origin = dns.name.from_text(value, self.current_origin)
            except dns.exception.DNSException as exc:
                self.error(
                    "syntax",
                    f"bad $INCLUDE origin '{clip(raw_text(items[2]))}': {_detail(exc)}",
                    path,
                    line,
                )
                return
        # Relative to the folder of the file that holds the $INCLUDE (see the module docstring).
        target = os.path.normpath(os.path.join(os.path.dirname(path), filename))
        real = os.path.realpath(target)
        try:
            self.source.check_include(real)
        except Unreadable as exc:
            self.error("include-outside-root", f"$INCLUDE {clip(target)} refused: {exc}", path, line)
            return
        if real in self._include_stack:
            self.error(
                "include-loop", f"$INCLUDE {clip(target)} would include itself again", path, line
            )
            return
        if len(self._include_stack) >= MAX_INCLUDE_DEPTH:
            self.error(
                "include-loop",
                f"$INCLUDE {clip(target)}: more than {MAX_INCLUDE_DEPTH} nested includes",
                path,
                line,
            )
            return
        text = self._read(real, Location(path, line), target)
        if text is None:
            return
        saved = {attr: getattr(self, attr) for attr in _INCLUDE_SCOPED}
        self._set_origin(origin)
        self._include_stack.append(real)
        try:
            self._read_records(text, target)
        finally:
            self._include_stack.pop()
            for attr, value in saved.items():
                setattr(self, attr, value)

    def _generate(self, rec: RawRecord, path: str) -> None:
        """Expand `$GENERATE range lhs [ttl] [class] type rhs` with dnspython's own Reader.

        As in BIND, an explicit TTL here becomes the last TTL, but the generated names do not
        become the owner of a following blank-owner line (dnspython makes the last one it)."""
        counted = False
        if len(rec.items) > 1 and (word := _word(rec.items[1])) is not None:
            try:
                start, stop, step = dns.grange.from_text(word)
            except Exception:
                pass  # dnspython's reader reports it below
            else:
                count = (stop - start) // max(step, 1) + 1
                if count > MAX_GENERATE:
                    self.error(
                        "syntax",
                        f"$GENERATE range {clip(word)} makes more than {MAX_GENERATE} records",
                        path,
                        rec.line,
                    )
                    return
                self._count(max(count, 0), path, rec.line)  # before expanding, not after
                counted = True
        text = " ".join(raw_text(item) for item in rec.items)
        txn = _GenerateTxn()
        reader = dns.zonefile.Reader(
            dns.tokenizer.Tokenizer(text),
            _IN,
            txn,
            allow_directives={"$GENERATE"},  # type: ignore[arg-type]
        )
        reader.current_origin = self.current_origin
        reader.last_ttl = self.last_ttl
        reader.last_ttl_known = self.last_ttl_known
        reader.default_ttl = self.default_ttl
        reader.default_ttl_known = self.default_ttl_known
        reader.default_ttl_from_soa = self.default_ttl_from_soa
        try:
            reader.read()
        except Exception as exc:  # dnspython reports every failure here as SyntaxError
            detail = _WHERE_PREFIX.sub("", _detail(exc))
            self.error("syntax", f"bad $GENERATE: {detail}", path, rec.line)
            return
        self.last_ttl = self._checked_ttl(reader.last_ttl, path, rec.line)
        self.last_ttl_known = reader.last_ttl_known
        if not counted:
            self._count(len(txn.added), path, rec.line)
        try:
            self.source.check_deadline()  # dnspython's expansion of up to MAX_GENERATE records
        except LimitCrossed as exc:
            raise _locate(exc, Location(path, rec.line)) from None
        long_text = len(text) > _SHORT_RDATA_TEXT
        for name, ttl, rdata in txn.added:
            if long_text and self._rdata_too_long(name, rdata, path, rec.line):
                continue
            if name.is_subdomain(self.zone_origin):
                self._add(name, 0 if ttl > MAX_TTL else ttl, rdata, path, rec.line)  # warned above
            else:
                self._out_of_zone(name, path, rec.line)

    # -- records ----------------------------------------------------------------------------

    def _classify(self, word: str) -> tuple[int, object]:
        """What a word before the rdata is: (_TTL, seconds), (_CLASS, rdclass), (_TYPE, rdtype),
        or (_BAD_TTL | _META | _UNKNOWN, detail). Cached: a zone uses a handful of such words."""
        found = self._words.get(word)
        if found is not None:
            return found
        upper = word.upper()
        if word[0] in _DIGITS:
            try:
                found = (_TTL, dns.ttl.from_text(word))
            except dns.ttl.BadTTL as exc:
                found = (_BAD_TTL, _detail(exc))
        elif (
            upper in _CLASSES
            or upper.startswith("CLASS")
            and _parses(dns.rdataclass.from_text, word)
        ):
            found = (_CLASS, dns.rdataclass.from_text(word))
        elif _parses(dns.rdatatype.from_text, word):
            rdtype = dns.rdatatype.from_text(word)
            found = (_META, rdtype) if dns.rdatatype.is_metatype(rdtype) else (_TYPE, rdtype)
        else:
            found = (_UNKNOWN, None)
        if len(self._words) < 10_000:
            self._words[word] = found
        return found

    def _count(self, records: int, path: str, line: int) -> None:
        """Count `records` more toward limits.max_records; past it the load stops here."""
        self.records += records
        if self.records > self.max_records:
            raise _locate(
                LimitCrossed(
                    "too-many-records",
                    f"the zone has more than limits.max_zone_records "
                    f"({self.max_records}) records; stopped reading here",
                ),
                Location(path, line),
            )

    def _record(self, rec: RawRecord, path: str) -> None:
        items = rec.items
        n = len(items)
        line = rec.line
        self.records += 1
        if self.records > self.max_records:
            self._count(0, path, line)
        # Owner (RFC 1035 §5.1: a blank owner is the previous record's owner).
        if rec.blank_owner:
            owner = self.last_name
            if owner is None:
                if self.no_owner_yet:
                    self.error(
                        "syntax",
                        "blank owner, but no previous record to take it from (RFC 1035 §5.1)",
                        path,
                        line,
                    )
                return  # else the owner's line was broken, and that is reported already
            in_zone = self.last_in_zone
            i = 0
        else:
            text = _word(items[0])
            try:
                if text is None:
                    raise dns.exception.SyntaxError("an owner name cannot be a quoted string")
                owner = self._tokens.name(text, self.current_origin)
            except dns.exception.DNSException as exc:
                self.error(
                    "syntax",
                    f"bad owner name '{clip(raw_text(items[0]))}': {_detail(exc)}",
                    path,
                    line,
                )
                self.last_name = None
                self.no_owner_yet = False
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
        word = None
        while i < n:
            item = items[i]
            word = item if item.__class__ is str else _word(item)
            if word is None:
                kind, value = _UNKNOWN, None
                break
            kind, value = self._classify(word)  # type: ignore[arg-type]
            if kind == _TTL and ttl is None:
                ttl = value if value <= MAX_TTL else self._checked_ttl(value, path, rec.line_of(i))  # type: ignore[operator]
                self.last_ttl = ttl  # type: ignore[assignment]
                self.last_ttl_known = True
            elif kind == _CLASS and rdclass is None:
                rdclass = value
                if rdclass != _IN:
                    self.error(
                        "syntax",
                        f"class {dns.rdataclass.to_text(rdclass)} is not the zone's class IN",  # type: ignore[arg-type]
                        path,
                        rec.line_of(i),
                    )
                    return
            else:
                break
            i += 1
        if kind != _TYPE:
            where = rec.line_of(i)
            if i >= n:
                self.error("syntax", "record has no type (RFC 1035 §5.1)", path, where)
            elif kind == _BAD_TTL:
                self.error("syntax", f"bad TTL '{clip(word)}': {value} (RFC 2181 §8)", path, where)
            elif kind == _META:
                self.error(
                    "syntax",
                    f"{dns.rdatatype.to_text(value)} is a meta-type, not zone data (RFC 6895 §3.1)",  # type: ignore[arg-type]
                    path,
                    where,
                )
            else:
                self.error("syntax", f"unknown type '{clip(raw_text(items[i]))}'", path, where)
            return
        rdtype = value
        i += 1
        # Rdata: dnspython's parser, fed the record's own tokens. Rdata are immutable, so a
        # record whose rdata text (and origin) repeats an earlier one's, in this load or in the
        # previous one (the memo), shares its object.
        # The key is one string, "rdtype token token ...": plain tokens hold no blank, so it
        # stands for exactly one token list, and one string costs less memory than a tuple.
        key = f"{rdtype:d} " + " ".join(items[i:]) if rec.plain else None  # type: ignore[arg-type]
        rdata = None
        if key is not None:
            if self._rdata_origin is not self.current_origin:
                self._rdata_origin = self.current_origin
                labels = self.current_origin.labels
                self._rdata_cache = self._rdata_caches.setdefault(labels, {})
                self._prev_rdata = self._prev_rdata_caches.get(labels) or {}
            rdata = self._rdata_cache.get(key)
            if rdata is None:
                rdata = self._prev_rdata.get(key)
                if rdata is not None and len(self._rdata_cache) < _RDATA_CACHE_SIZE:
                    self._rdata_cache[key] = rdata
        if rdata is None:
            try:
                rdata = self._parse_rdata(rdtype, items, i)
            except Exception as exc:
                self._bad_rdata(rec, path, rdtype, i, exc)
                self.failed.add((owner, rdtype))
                if rdtype == _SOA:
                    self.soa_failed = True
                return
            length = len(key) if key is not None else _text_length(items, i)
            if length > _SHORT_RDATA_TEXT and self._rdata_too_long(
                owner, rdata, path, rec.line_of(i)
            ):
                self.failed.add((owner, rdtype))
                return
            if key is not None and len(self._rdata_cache) < _RDATA_CACHE_SIZE:
                self._rdata_cache[key] = rdata
        # The TTL (RFC 1035 §5.1, RFC 2308 §4), as dnspython decides it.
        implicit = ttl is None
        if implicit:
            ttl = self._implicit_ttl()
        if not self.default_ttl_known and rdtype == _SOA:
            self.default_ttl = rdata.minimum  # type: ignore[attr-defined]
            self.default_ttl_known = True
            self.default_ttl_from_soa = True
            if ttl is None:
                ttl = self._implicit_ttl()
        if ttl is None:
            if not self.soa_failed:
                self.error(
                    "syntax",
                    "no TTL: give the record one, or set $TTL before it (RFC 2308 §4)",
                    path,
                    line,
                )
            return
        if (
            implicit
            and self.default_ttl_from_soa
            and not self.last_ttl_known
            and not self.warned_soa_ttl
        ):
            self.warned_soa_ttl = True
            self.warning(
                "default-ttl-from-soa",
                f"no TTL specified and no $TTL; using the SOA MINIMUM {ttl} (RFC 1035 §5.1)",
                path,
                line,
            )
        if in_zone is None:
            in_zone = self.last_in_zone = owner.is_subdomain(self.zone_origin)
        if not in_zone:
            self._out_of_zone(owner, path, line)
            return
        self._add(owner, ttl, rdata, path, line)

    def _parse_rdata(
        self, rdtype: dns.rdatatype.RdataType, items: list[Item], start: int
    ) -> dns.rdata.Rdata:
        """What dns.rdata.from_text does, minus its per-call conversions: the type's own parser,
        then nothing may follow. The generic `\\# length hex` form (RFC 3597 §5) goes through
        dns.rdata.from_text itself."""
        tokens = self._tokens
        tokens.reset(items, start)
        cls = self._classes.get(rdtype)
        if cls is None:
            cls = self._classes[rdtype] = dns.rdata.get_rdata_class(_IN, rdtype)
        first = items[start] if start < len(items) else None
        if (
            first.__class__ is str
            or cls is dns.rdata.GenericRdata
            or getattr(first, "value", None) != r"\#"
        ):
            with dns.exception.ExceptionWrapper(dns.exception.SyntaxError):
                rdata = cls.from_text(_IN, rdtype, tokens, self.current_origin, False, None)
                tokens.get_eol_as_token()
            return rdata
        return dns.rdata.from_text(_IN, rdtype, tokens, self.current_origin, False)

    def _rdata_too_long(self, owner: dns.name.Name, rdata: dns.rdata.Rdata, path: str, line: int) -> bool:
        """Report rdata over 65,535 octets of wire (RDLENGTH; the journal could not store it), or
        too large for any zone-transfer message with its owner (it would load and answer, but
        no secondary could ever get it)."""
        size = len(rdata.to_wire())
        if size <= max_transferable_rdata(self.zone_origin, owner):
            return False
        why = (f"more than {MAX_RDATA} (RFC 1035 §3.2.1: RDLENGTH is 16 bits)" if size > MAX_RDATA else
               f"too large for a zone-transfer message (at most {max_transferable_rdata(self.zone_origin, owner)} "
               f"octets at this owner, RFC 5936 2.2)")
        self.error("rdata-too-long", f"{dns.rdatatype.to_text(rdata.rdtype)} rdata is {size} octets on the wire, {why}",
                   path, line)
        return True

    def _checked_ttl(self, ttl: int, path: str, line: int) -> int:
        """RFC 2181 §8: a TTL above 2^31-1 is treated as 0 (BIND does the same); say so."""
        if ttl <= MAX_TTL:
            return ttl
        self.warning(
            "ttl-out-of-range",
            f"TTL {ttl} is more than 2^31-1; using 0 (RFC 2181 §8)",
            path,
            line,
        )
        return 0

    def _implicit_ttl(self) -> int | None:
        if self.last_ttl_known and (not self.default_ttl_known or self.default_ttl_from_soa):
            return self.last_ttl
        if self.default_ttl_known:
            return self.default_ttl
        return None

    def _bad_rdata(
        self, rec: RawRecord, path: str, rdtype: int, start: int, exc: Exception
    ) -> None:
        type_text = dns.rdatatype.to_text(rdtype)
        rfc = _RDATA_RFC.get(
            type_text, "RFC 3597 §5" if type_text.startswith("TYPE") else "RFC 1035 §5.1"
        )
        rdata_text = " ".join(raw_text(item) for item in rec.items[start:])
        if len(rdata_text) > 80:
            rdata_text = rdata_text[:77] + "..."
        consumed = self._tokens.pos - 1
        detail = _detail(exc, _RDATA_HINTS.get(rdtype))
        if not rdata_text:
            message = f"{type_text} record has no rdata ({rfc})"
            consumed = start - 1  # the type's own line
        elif detail.startswith("expected EOL or EOF"):
            extra = raw_text(rec.items[min(consumed, len(rec.items) - 1)])
            detail = f"unexpected '{clip(extra)}' after the rdata"
            message = f"bad {type_text} rdata '{rdata_text}': {detail} ({rfc})"
        else:
            consumed = max(start, consumed)
            message = f"bad {type_text} rdata '{rdata_text}': {detail} ({rfc})"
        self.error("syntax", message, path, rec.line_of(consumed))

    def _unborrow(self, state: _Borrowed) -> dns.rdataset.Rdataset:
        """The new Rdataset of the records of `state` met so far, in place of the borrowed one."""
        old = state.old
        del self._borrowed[id(old)]
        rdataset = dns.rdataset.Rdataset(_IN, old.rdtype, old.covers, old.ttl)
        for rdata in itertools.islice(old, state.matched):
            _insert(rdataset, rdata)
        state.node[state.key] = rdataset
        return rdataset

    def settle(self) -> None:
        """After the last record: a borrowed RRset only part of which was met is replaced."""
        for state in list(self._borrowed.values()):
            if state.matched != len(state.old):
                self._unborrow(state)
        self._borrowed.clear()

    def _out_of_zone(self, owner: dns.name.Name, path: str, line: int) -> None:
        self.warning(
            "out-of-zone",
            f"ignoring out-of-zone data ({clip(owner.to_text())} is not in {self.zone_origin})",
            path,
            line,
            owner.to_text(),
        )

    def _add(
        self, owner: dns.name.Name, ttl: int, rdata: dns.rdata.Rdata, path: str, line: int
    ) -> None:
        if owner is self._last_owner:
            node = self._last_node
            prev = self._last_prev
            assert node is not None
        else:
            node = self.rdatasets.setdefault(owner, {})
            prev = None
            if self._prev_rdatasets:
                prev = self._prev_nodes.get(id(owner)) or self._prev_rdatasets.get(owner)
            self._last_owner = owner
            self._last_node = node
            self._last_prev = prev
        rdtype = rdata.rdtype
        if rdtype == _NS:
            self.ns_records.append((owner, rdata.target, Location(path, line)))  # type: ignore[attr-defined]
        covers = rdata.covers()
        key = (rdtype, covers)
        rdataset = node.get(key)
        if rdataset is None:
            # The previous load's RRset, if it starts with this very rdata at this TTL: hand it
            # out as long as the records that follow are its next ones (see _Borrowed).
            old = prev.get(key) if prev is not None else None
            if (
                old is not None
                and old.ttl == ttl
                and old.rdtype == rdtype
                and old.covers == covers
                and (len(old) == 1 or rdtype not in _SINGLETONS)
                and id(old) not in self._borrowed
            ):
                rest = iter(old)
                if next(rest, None) is rdata:
                    rdataset = old
                    self._borrowed[id(old)] = _Borrowed(old, rest, node, key)
            if rdataset is None:
                rdataset = dns.rdataset.Rdataset(_IN, rdtype, covers, ttl)
                _insert(rdataset, rdata)
            node[key] = rdataset
            if rdtype != _RRSIG:
                self.locations[(owner, rdtype)] = Location(path, line)  # new: first of its RRset
            else:  # RRSIGs of different covered types are different RRsets with one location key
                self.locations.setdefault((owner, rdtype), Location(path, line))
            return
        state = self._borrowed.get(id(rdataset)) if self._borrowed else None
        if state is not None and next(state.rest, None) is not rdata:
            rdataset = self._unborrow(state)
            state = None
        if rdtype in _SINGLETONS:  # (never borrowed here: a borrowed singleton has no next record)
            if rdata not in rdataset:
                self.dropped.setdefault((owner, rdtype), []).append(Location(path, line))
            return
        if ttl != rdataset.ttl:
            self.warning(
                "ttl-mismatch",
                f"{owner} {dns.rdatatype.to_text(rdtype)}: TTL {ttl} differs from the RRset's "
                f"TTL {rdataset.ttl}, which is kept (RFC 2181 §5.2)",
                path,
                line,
                owner.to_text(),
            )
        if state is None:
            _insert(rdataset, rdata)
        else:
            state.matched += 1  # what _insert would do to a new copy: `rdata` is its next record


class _Borrowed:
    """A previous load's Rdataset `old`, put in `node[key]` because the records met so far for
    it are its first `matched` records: the same rdata objects in the same order, the first at
    its TTL (a later one at another TTL is only warned about, as always). `rest` iterates over
    its next records. When a record is not the next one (a duplicate included), or the load ends
    before all of `old` was met, `_Loader._unborrow` replaces it with a new Rdataset of the
    `matched` records, the one a load without a memo builds; `old` itself is never changed."""

    __slots__ = ("old", "rest", "matched", "node", "key")

    def __init__(self, old: dns.rdataset.Rdataset, rest, node: dict, key: RdatasetKey):
        self.old = old
        self.rest = rest
        self.matched = 1
        self.node = node
        self.key = key


def _insert_items(rdataset: dns.rdataset.Rdataset, rdata: dns.rdata.Rdata) -> None:
    """Rdataset.add for an rdata of the right class, type and covers that is not of a singleton
    type: the same dict insertion, hashing the rdata (a wire rendering) once instead of twice."""
    rdataset.items.setdefault(rdata, None)


def _insert_add(rdataset: dns.rdataset.Rdataset, rdata: dns.rdata.Rdata) -> None:
    rdataset.add(rdata)


# dns.set.Set keeps its members as the keys of the dict `items` (dnspython 2.x); fall back to
# the public add() if that ever changes.
_insert = (
    _insert_items
    if isinstance(getattr(dns.rdataset.Rdataset(_IN, _SOA), "items", None), dict)
    else _insert_add
)
