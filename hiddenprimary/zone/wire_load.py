"""Zone file -> WireVersion without dnspython objects per record: the fast twin of `zone.load`.

`load_wire` reads the file the way `zone.load` does (`zone.source` for the bytes and limits,
`zone.scan` for the logical records, the same owner, TTL and class rules) and writes each record
straight into wire form: A, AAAA, NS, CNAME, PTR, MX and TXT by hand, every other type through
dnspython's own parser (`zone.rdata_parser`, as the full load does), then to wire. The result is
the `WireVersion` that `WireVersion.from_nodes` would make of the full load's RRsets, byte for byte
(tests/unit/test_wire_load.py compares the two under hypothesis).

It only accepts what it can prove clean. Anything that would give the full load something to
say, an error or a warning, or that it does not follow, makes it return None, and the caller
loads the file with `zone.load` (which then reports every problem with its file:line):

- a `$INCLUDE` or `$GENERATE` directive, an `$ORIGIN` outside the zone, an unknown directive;
- any syntax error, a class other than IN, a meta-type, a bad TTL, a TTL above 2^31-1, a record
  without a TTL to take (or taking the SOA MINIMUM, which warns);
- records outside the zone, two TTLs in one RRset, a second different SOA or CNAME;
- RRSIG, NSEC, NSEC3 or DNAME records (signed input, DNAME rules);
- any semantic problem `zone.checks` knows: no SOA or an SOA below the apex, no apex NS, a
  CNAME beside other data, occluded data at or below a delegation, an in-zone NS target without
  A/AAAA records;
- names that are not plain ASCII labels go through dnspython (escapes, IDNA): exact, only slower.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import struct

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.ttl

from hiddenprimary.zone.problems import Problems
from hiddenprimary.zone.rdata_parser import RdataParser
from hiddenprimary.zone.record_tokens import RecordTokens
from hiddenprimary.zone.records import MAX_TTL
from hiddenprimary.zone.scan import RawRecord, scan
from hiddenprimary.zone.source import LimitCrossed, Preread, ReadLimits, Source, Unreadable
from hiddenprimary.zone.text_pages import FilePages
from hiddenprimary.zone.wire_version import WireVersion, key_labels, wire_key

_A, _AAAA, _NS, _CNAME, _PTR, _MX, _TXT, _SOA = (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.NS,
                                                 dns.rdatatype.CNAME, dns.rdatatype.PTR, dns.rdatatype.MX,
                                                 dns.rdatatype.TXT, dns.rdatatype.SOA)
_REFUSED_TYPES = frozenset({dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3, dns.rdatatype.DNAME})
_SINGLETONS = frozenset({_SOA, _CNAME})
_NAME_TYPES = frozenset({_NS, _CNAME, _PTR})  # rdata is one domain name
_AT_CUT = frozenset({_NS, dns.rdatatype.DS, _A, _AAAA})  # what a delegation point may hold (no NSEC/RRSIG here)
_GLUE = frozenset({_A, _AAAA})
_IN = dns.rdataclass.IN
_CLASSES = {text for text in dns.rdataclass.RdataClass.__members__}
_HEAD = struct.Struct("!HHIH")
_LEN = struct.Struct("!H")
_LEN_BYTE = [bytes((i,)) for i in range(256)]
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_*-]+(?:\.[A-Za-z0-9_*-]+)*\.?")
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                   r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")
_IPV6 = re.compile(r"[0-9A-Fa-f:]{2,39}")  # hex groups only; an embedded IPv4 goes through dnspython
_DEADLINE_EVERY = 4096  # records between two deadline checks
_TXT_SHORT = 512  # TXT rdata up to this many octets is made here; longer goes through the full
                  # parser, which also checks that it fits a transfer message with its owner


class Refused(Exception):
    """This file needs the full load (see the module docstring)."""


@dataclasses.dataclass(frozen=True)
class TextMemo:
    """What the next reload of the same file may start from (`zone.wire_reload`): the bytes this
    load read (wire_reload works on bytes: no decoded copy to make), held, or once the runner
    has written them beside the journal (`wire_reload.spill`) only their pages' digests
    (`zone.text_pages`): a 1M-record zone's text is ~37 MB. The version the load made is the one
    served then (but for the apex SOA's serial)."""

    path: str
    origin: dns.name.Name
    text: bytes | None  # None: in `pages.file`
    pages: FilePages | None = None


@dataclasses.dataclass
class WireLoaded:
    """What `load_wire` read: the version, where it came from, no warnings (it had none)."""

    version: WireVersion
    sources: list[tuple[str, bytes]]
    warnings: tuple = ()
    memo: TextMemo | None = None
    touched: set | None = None  # the owners that can differ from the served version (None: any)


def load_wire(path: str, origin: dns.name.Name, limits: ReadLimits | None = None,
              preread: Preread | None = None) -> WireLoaded | None:
    """The zone file at `path` as a WireVersion, or None when only the full load may read it.
    `preread`: as `zone.source.Source` takes it."""
    source = Source(path, limits, preread)
    data = read_bytes(source, path)
    text = None if data is None else _decoded(data)
    if text is None:
        return None
    try:
        builder = Builder(origin, source)
        builder.read(text)
        version = builder.version()
    except (Refused, LimitCrossed):
        return None
    return WireLoaded(version, source.files, memo=TextMemo(path, origin, data))


_DECODE_CHUNK = 1 << 20


def read_bytes(source: Source, path: str) -> bytes | None:
    """The zone file's bytes, None when the full load must read it (it reports why)."""
    try:
        data = source.read(path)
    except (Unreadable, LimitCrossed):
        return None
    return None if b"\0" in data else data


def _decoded(data: bytes) -> str | None:
    # Decoded a megabyte at a time: one decode of a 30 MB file holds the GIL for ~20 ms.
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        parts = [decoder.decode(data[i:i + _DECODE_CHUNK]) for i in range(0, len(data), _DECODE_CHUNK)]
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return None
    return "".join(parts)


class Builder:
    """The state of one read, as `zone.records.RecordReader` keeps it, and the RRsets found."""

    def __init__(self, origin: dns.name.Name, source: Source):
        self.zone_origin = origin
        self.source = source
        self.apex = wire_key(origin)
        self.apex_wire = origin.to_wire()
        self.origin = origin
        self.origin_wire = self.apex_wire
        self.names: dict[str, bytes] = {}  # name text -> wire under the current origin
        self.words: dict[str, tuple[int, int]] = {}
        self.tokens = RecordTokens()
        self.parser = RdataParser(origin, Problems(), self.tokens)
        # owner key -> [owner wire as first written, {rdtype: [ttl, {canonical rdata: wire}]}]
        self.nodes: dict[bytes, list] = {}
        self.records = 0
        self.last_owner: tuple[bytes, bytes] | None = None  # (wire, key)
        self.last_ttl: int | None = None
        self.default_ttl: int | None = None
        self.default_from_soa = False

    def set_context(self, origin: dns.name.Name, default_ttl: int | None) -> None:
        """Read what follows as if after `$ORIGIN origin` and `$TTL default_ttl` (None: no
        $TTL), with no owner and no TTL met before it (`zone.wire_reload` reads parts of a file)."""
        if origin is not self.origin:
            self.origin, self.origin_wire, self.names = origin, origin.to_wire(), {}
        self.default_ttl = default_ttl
        self.default_from_soa = False
        self.last_owner = None
        self.last_ttl = None

    def packed(self, key: bytes) -> bytes | None:
        """The owner `key` as read so far, in zone.codec form (None: no records), after the
        checks that need only the owner itself."""
        node = self.nodes.get(key)
        if node is None:
            return None
        owner, rrsets = node
        if _CNAME in rrsets and len(rrsets) > 1:
            raise Refused  # `cname-and-other-data`
        if key != self.apex and (_SOA in rrsets or _NS in rrsets):
            raise Refused  # `soa-not-at-apex`; a new delegation needs the whole zone's checks
        out = []
        for rdtype, (ttl, rdatas) in rrsets.items():
            out.append(owner)
            out.append(_HEAD.pack(rdtype, 0, ttl, len(rdatas)))
            for wire in rdatas.values():
                out.append(_LEN.pack(len(wire)))
                out.append(wire)
        return b"".join(out)

    # -- the text -------------------------------------------------------------------------------

    def read(self, text: str) -> None:
        countdown = _DEADLINE_EVERY
        max_records = self.source.limits.max_records
        record = self.record
        for rec in scan(text):
            if rec.error is not None or not rec.plain and not _simple_tokens(rec):
                raise Refused
            items = rec.items
            if not rec.blank_owner and items[0][0] == "$":
                self.directive(items)
                continue
            self.records += 1
            countdown -= 1
            if not countdown:
                countdown = _DEADLINE_EVERY
                self.source.check_deadline()
                if self.records > max_records:
                    raise Refused
            record(rec)
        if self.records > max_records:
            raise Refused

    def directive(self, items: list) -> None:
        directive = items[0].upper()
        if len(items) != 2 or items[1].__class__ is not str:
            raise Refused
        if directive == "$TTL":
            ttl = _ttl(items[1])
            self.default_ttl = ttl
            self.default_from_soa = False
        elif directive == "$ORIGIN":
            try:
                origin = dns.name.from_text(items[1], self.origin)
            except dns.exception.DNSException:
                raise Refused from None
            if not origin.is_subdomain(self.zone_origin):
                raise Refused
            self.origin = origin
            self.origin_wire = origin.to_wire()
            self.names = {}
        else:
            raise Refused

    # -- one record -----------------------------------------------------------------------------

    def record(self, rec: RawRecord) -> None:
        items = rec.items
        if rec.blank_owner:
            if self.last_owner is None:
                raise Refused
            owner, key = self.last_owner
            i = 0
        else:
            first = items[0]
            if first.__class__ is not str:
                raise Refused  # an escaped owner: the full load
            owner = self.name(first)
            key = owner.lower()
            if first[-1] == "." and not in_zone(key, self.apex):
                raise Refused
            self.last_owner = (owner, key)
            i = 1
        ttl = None
        seen_class = False
        n = len(items)
        rdtype = None
        while i < n:
            word = items[i]
            if word.__class__ is not str:
                raise Refused
            kind, value = self.classify(word)
            if kind == 0 and ttl is None:
                ttl = value
                self.last_ttl = value
            elif kind == 1 and not seen_class:
                seen_class = True
            elif kind == 2:
                rdtype = value
                break
            else:
                raise Refused
            i += 1
        if rdtype is None:
            raise Refused
        canonical, wire = self.rdata(rec, rdtype, i + 1, owner)
        if rdtype == _SOA and self.default_ttl is None:
            self.default_ttl = _soa_minimum(wire)
            self.default_from_soa = True
        if ttl is None:
            if self.last_ttl is not None and (self.default_ttl is None or self.default_from_soa):
                ttl = self.last_ttl
            elif self.default_ttl is not None:
                ttl = self.default_ttl
            else:
                raise Refused  # no TTL to take
            if self.default_from_soa and self.last_ttl is None:
                raise Refused  # the full load warns `default-ttl-from-soa`
        node = self.nodes.get(key)
        if node is None:
            self.nodes[key] = [owner, {rdtype: [ttl, {canonical: wire}]}]
            return
        rrset = node[1].get(rdtype)
        if rrset is None:
            node[1][rdtype] = [ttl, {canonical: wire}]
            return
        if rrset[0] != ttl:
            raise Refused  # `ttl-mismatch`
        if canonical not in rrset[1]:
            if rdtype in _SINGLETONS:
                raise Refused  # `multiple-soa`, `multiple-cname`
            rrset[1][canonical] = wire

    def classify(self, word: str) -> tuple[int, int]:
        """(0, ttl) | (1, IN) | (2, rdtype) for a word before the rdata; raises Refused else."""
        found = self.words.get(word)
        if found is not None:
            return found
        upper = word.upper()
        if word[0] in "0123456789":
            found = (0, _ttl(word))
        elif upper in _CLASSES or upper.startswith("CLASS"):
            try:
                rdclass = dns.rdataclass.from_text(word)
            except dns.exception.DNSException:
                raise Refused from None
            if rdclass != _IN:
                raise Refused
            found = (1, _IN)
        else:
            try:
                rdtype = dns.rdatatype.from_text(word)
            except dns.exception.DNSException:
                raise Refused from None
            if dns.rdatatype.is_metatype(rdtype) or rdtype in _REFUSED_TYPES:
                raise Refused
            found = (2, rdtype)
        if len(self.words) < 10_000:
            self.words[word] = found
        return found

    def rdata(self, rec: RawRecord, rdtype: int, start: int, owner: bytes) -> tuple[bytes, bytes]:
        """(canonical form, wire form) of the record's rdata: the canonical form is what
        dnspython compares rdata by (names lowercased, RFC 4034 §6.2), so duplicates merge alike."""
        items = rec.items
        args = len(items) - start
        if rdtype == _A and args == 1:
            text = items[start]
            if text.__class__ is str and _IPV4.fullmatch(text):
                wire = bytes(map(int, text.split(".")))
                return wire, wire
        elif rdtype == _AAAA and args == 1:
            text = items[start]
            if text.__class__ is str and _IPV6.fullmatch(text):
                wire = _ipv6(text)
                if wire is not None:
                    return wire, wire
        elif rdtype in _NAME_TYPES and args == 1:
            text = items[start]
            if text.__class__ is str:
                wire = self.name(text)
                return wire.lower(), wire
        elif rdtype == _MX and args == 2:
            pref, text = items[start], items[start + 1]
            if pref.__class__ is str and text.__class__ is str and pref.isdigit() and pref.isascii():
                value = int(pref)
                if value <= 0xFFFF:
                    name = self.name(text)
                    head = _LEN.pack(value)
                    return head + name.lower(), head + name
        elif rdtype == _TXT and args:
            wire = _txt(items, start)
            if wire is not None:
                return wire, wire
        return self.parsed(rec, rdtype, start, owner)

    def parsed(self, rec: RawRecord, rdtype: int, start: int, owner: bytes) -> tuple[bytes, bytes]:
        """The rdata by dnspython's parser, as the full load reads it."""
        owner_name = dns.name.Name(key_labels(owner))
        rdata = self.parser.rdata(rec, rdtype, start, self.origin, owner_name, "")
        if rdata is None:
            raise Refused
        return rdata.to_digestable(), rdata.to_wire()

    def name(self, text: str) -> bytes:
        """The wire form of a name in the text (relative to the current origin), as written."""
        found = self.names.get(text)
        if found is not None:
            return found
        if _PLAIN_NAME.fullmatch(text):
            labels = text.encode().split(b".")
            absolute = labels[-1] == b""
            if absolute:
                labels.pop()
            wire = b"".join([_LEN_BYTE[len(label)] + label if len(label) < 64 else _too_long()
                             for label in labels]) + (b"\0" if absolute else self.origin_wire)
            if len(wire) > 255:
                raise Refused
        else:
            try:
                wire = dns.name.from_text(text, self.origin, dns.name.IDNA_DEFAULT).to_wire()
            except dns.exception.DNSException:
                raise Refused from None
        if len(self.names) < 1_000_000:
            self.names[text] = wire
        return wire

    # -- the version ----------------------------------------------------------------------------

    def version(self) -> WireVersion:
        nodes = self.nodes
        apex = self.apex
        apex_node = nodes.get(apex)
        if apex_node is None or _SOA not in apex_node[1] or _NS not in apex_node[1]:
            raise Refused  # `no-soa`, `no-apex-ns`
        cuts = set()
        for key, (_owner, rrsets) in nodes.items():
            if _CNAME in rrsets and len(rrsets) > 1:
                raise Refused  # `cname-and-other-data`
            if key != apex:
                if _SOA in rrsets:
                    raise Refused  # `soa-not-at-apex`
                if _NS in rrsets:
                    cuts.add(key)
        if cuts:
            self.check_cuts(cuts)
        self.check_ns_targets(cuts)
        # Every owner in zone.codec form (the owner before each RRset) into one buffer first; the
        # per-owner bytes are cut from it once the read's own objects are gone, so the version's
        # small objects fill fresh memory instead of pinning the read's half-empty arenas.
        blob = bytearray()
        spans = []
        rr_count = 0
        for owner, rrsets in nodes.values():
            start = len(blob)
            for rdtype, (ttl, rdatas) in rrsets.items():
                blob += owner
                blob += _HEAD.pack(rdtype, 0, ttl, len(rdatas))
                for wire in rdatas.values():
                    blob += _LEN.pack(len(wire))
                    blob += wire
                rr_count += len(rdatas)
            spans.append((len(owner), start, len(blob)))
        cuts = {bytes(key) for key in cuts}
        read, names = nodes, self.names
        self.nodes = self.names = nodes = apex_node = None  # type: ignore[assignment]
        for table in (read, names):  # freed an owner at a time: one cascade held the GIL ~40 ms at 100k
            while table:
                table.popitem()
        view = memoryview(blob)
        packed: dict[bytes, bytes] = {}
        for owner_len, start, end in spans:
            data = bytes(view[start:end])
            packed[data[:owner_len].lower()] = data
        view.release()
        return WireVersion(self.zone_origin, packed, cuts=cuts, rr_count=rr_count)

    def check_cuts(self, cuts: set[bytes]) -> None:
        """Only NS, DS and glue at a delegation point, only glue below it (`occluded-data`)."""
        top = len(self.apex)
        for key, (_owner, rrsets) in self.nodes.items():
            suffix = key
            highest = None
            while len(suffix) > top:
                if suffix in cuts:
                    highest = suffix
                suffix = suffix[suffix[0] + 1:]
            if highest is None:
                continue
            allowed = _AT_CUT if highest == key else _GLUE
            if not allowed.issuperset(rrsets):
                raise Refused

    def check_ns_targets(self, cuts: set[bytes]) -> None:
        """Every in-zone NS target has A or AAAA records (`missing-glue`, `ns-target-no-address`,
        `ns-is-cname`: a CNAME with an address already failed `cname-and-other-data`)."""
        nodes = self.nodes
        for key in (self.apex, *cuts):
            for target in nodes[key][1][_NS][1]:  # canonical: lowercased
                if not in_zone(target, self.apex):
                    continue
                node = nodes.get(target)
                if node is None or (_A not in node[1] and _AAAA not in node[1]):
                    raise Refused


def _simple_tokens(rec: RawRecord) -> bool:
    """A record with quoted strings (no escapes) is still read here; escaped words are not."""
    for item in rec.items:
        if item.__class__ is not str and (item.has_escape or not item.is_quoted_string()):
            return False
    return True


def _ttl(text: str) -> int:
    try:
        ttl = dns.ttl.from_text(text)
    except dns.exception.DNSException:
        raise Refused from None
    if ttl > MAX_TTL:
        raise Refused  # `ttl-out-of-range`
    return ttl


def _too_long() -> bytes:
    raise Refused


def _ipv6(text: str) -> bytes | None:
    """The 16 octets of a hex-groups IPv6 address (RFC 4291 2.2 forms 1 and 2), or None to let
    dnspython decide (embedded IPv4, anything odd)."""
    head, double, tail = text.partition("::")
    if double:
        if "::" in tail:
            return None
        groups = head.split(":") if head else []
        after = tail.split(":") if tail else []
        missing = 8 - len(groups) - len(after)
        if missing < 1:
            return None
        groups += ["0"] * missing + after
    else:
        groups = text.split(":")
        if len(groups) != 8:
            return None
    for group in groups:
        if not 0 < len(group) <= 4:
            return None
    return bytes.fromhex("".join([group.zfill(4) for group in groups]))


def _txt(items: list, start: int) -> bytes | None:
    out = []
    size = 0
    for item in items[start:]:
        value = (item if item.__class__ is str else item.value).encode()
        length = len(value)
        if length > 255:
            return None
        size += length + 1
        out.append(_LEN_BYTE[length] + value)
    return b"".join(out) if size <= _TXT_SHORT else None


def _soa_minimum(wire: bytes) -> int:
    return struct.unpack_from("!I", wire, len(wire) - 4)[0]


def in_zone(key: bytes, apex: bytes) -> bool:
    """The name (lowercased wire) is the apex or below it, on a label boundary."""
    if len(key) < len(apex):
        return False
    pos, end = 0, len(key) - len(apex)
    while pos < end:
        pos += key[pos] + 1
    return pos == end and key[pos:] == apex
