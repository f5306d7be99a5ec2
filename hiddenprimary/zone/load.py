"""Zone file -> LoadedZone: the records of an RFC 1035 master file, where each came from, and
every problem found (not only the first).

How it reads a file (DESIGN.md "Reloads are driven by the difference"): `zone.scan` splits the
text into logical records (comments, parentheses, quotes, escapes); `zone.reader` reads the files
(through `zone.source`) and follows the directives ($ORIGIN, $TTL, $INCLUDE, $GENERATE);
`zone.records` follows the inherited owner of blank-owner lines and the TTL rules, and hands the
rdata of each record to `zone.rdata_parser`, which runs dnspython's rdata parser through a
tokenizer that replays the record's tokens (`zone.record_tokens`; no Tokenizer per record);
`zone.rrsets` gathers the RRsets. A bad record therefore yields one problem with its own line
(`zone.problems`), and loading goes on: a syntax error on line 5 hides neither a second one on
line 9 nor a CNAME conflict on line 12. `$GENERATE` lines are expanded by dnspython's own
zone-file reader. A `ZoneMemo` (`zone.memo`) carries what a reload may reuse of the last load.

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

Problem codes the load finds (all ERROR unless noted): `syntax` (anything the text, a directive, a
TTL, a type or an rdata gets wrong), `file-unreadable`, `include-unreadable`, `include-loop`,
`include-outside-root`, `nul-byte`, `rdata-too-long`, `too-large`, `too-many-records`,
`reload-timeout`, `too-many-problems` (more than MAX_PROBLEMS); warnings `out-of-zone`,
`ttl-mismatch`, `ttl-out-of-range`, `default-ttl-from-soa`. `zone.checks` adds the semantic ones.
"""

from __future__ import annotations

import dataclasses

import dns.name
import dns.rdataset

from hiddenprimary.errors import Location, Severity, ZoneProblem, ZoneRejected
from hiddenprimary.zone import checks
from hiddenprimary.zone.memo import ZoneMemo
from hiddenprimary.zone.problems import MAX_PROBLEMS
from hiddenprimary.zone.reader import Reader
from hiddenprimary.zone.rrsets import RdatasetKey
from hiddenprimary.zone.source import ReadLimits

# What callers import from here; MAX_PROBLEMS and ZoneMemo are defined in zone.problems, zone.memo.
__all__ = ["MAX_PROBLEMS", "LoadedZone", "ZoneMemo", "load_zone"]


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
    # With a memo: the owners where this zone can differ from the memo's (see RRsets.touched).
    touched: set[dns.name.Name] | None = dataclasses.field(default=None, repr=False, compare=False)
    # (path as written, SHA-256 of its bytes) of the zone file and each $INCLUDE, in the order read.
    sources: list[tuple[str, bytes]] = dataclasses.field(default_factory=list, repr=False, compare=False)

    def location(self, name: dns.name.Name, rdtype: int) -> Location | None:
        return self.locations.get((name, rdtype))


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
    reader = Reader(origin, memo)
    reader.load_file(path, limits)
    records = reader.records
    rrsets = records.rrsets
    rrsets.settle()
    zone = LoadedZone(
        origin=origin,
        rdatasets=rrsets.rdatasets,
        locations=rrsets.locations,
        warnings=[],
        path=path,
        dropped=rrsets.dropped,
        failed=records.parser.failed,
        ns_records=rrsets.ns_records,
    )
    if reader.read_ok:  # an unreadable or partly read file has no records to check
        for problem in checks.check(zone):
            reader.problems.report(problem)
        if reader.source.limits.expired():  # checks are bounded by the record count; say so
            reader.problems.error("reload-timeout", f"{reader.source.limits.timeout_text()} (zone checks)", path)
    problems = reader.problems.finish()
    if any(p.severity is Severity.ERROR for p in problems):
        raise ZoneRejected(origin.to_text(omit_final_dot=True), problems)
    zone.warnings = problems
    zone.memo = ZoneMemo(origin, records.parser.caches, records.tokens.names, rrsets.rdatasets)
    zone.sources = reader.source.files
    zone.touched = rrsets.touched()
    return zone
