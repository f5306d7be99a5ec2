"""The rdata of one record: the tokens after its type, parsed by dnspython's own parser for that
type (fed through `zone.record_tokens`), checked to fit a zone transfer (`zone.limits`), and
remembered by text, so a text met again (in this load or the previous one) costs no parsing.
A bad rdata becomes one `syntax` problem worded for a zone author."""

from __future__ import annotations

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.tokenizer import QUOTED_STRING

from hiddenprimary.zone.limits import MAX_MESSAGE, MAX_RDATA, TSIG_RESERVE, max_transferable_rdata
from hiddenprimary.zone.problems import Problems, detail
from hiddenprimary.zone.record_tokens import RecordTokens
from hiddenprimary.zone.scan import Item, RawRecord, raw_text
from hiddenprimary.zone.source import clip

RdataCaches = dict[tuple[bytes, ...], dict[str, dns.rdata.Rdata]]  # by the origin's labels

# A token adds at most ~128 octets of wire per character of text (a 1-character relative name
# becomes up to 255 octets with the origin), so rdata of up to this much text cannot exceed what
# a record may carry at any owner (names of 255 octets) and is not rendered to check.
SHORT_RDATA_TEXT = (MAX_MESSAGE - TSIG_RESERVE - 1024) // 128
_RDATA_CACHE_SIZE = 10_000_000  # distinct rdata texts remembered per load (and in its memo)

_IN = dns.rdataclass.IN
_SOA = dns.rdatatype.SOA
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


class RdataParser:
    """Parses the rdata of the records of one zone. `failed` holds the (owner, rdtype) of those
    that did not parse or do not fit, `soa_failed` says an SOA did not parse, and `caches` are
    the rdata this load made or reused, for the next load's memo; `prev_caches` are the previous
    load's (ZoneMemo.rdata), read and never written."""

    def __init__(
        self,
        zone_origin: dns.name.Name,
        problems: Problems,
        tokens: RecordTokens,
        prev_caches: RdataCaches | None = None,
    ):
        self.zone_origin = zone_origin
        self.failed: set[tuple[dns.name.Name, int]] = set()
        self.soa_failed = False  # an SOA failed to parse: later "no TTL" errors are its echo
        self._problems = problems
        self._tokens = tokens
        self._classes: dict[int, type[dns.rdata.Rdata]] = {}
        # Rdata by "rdtype tokens", one dict per $ORIGIN (by its exact labels); see ZoneMemo.
        self._origin: dns.name.Name | None = None
        self._cache: dict[str, dns.rdata.Rdata] = {}
        self.caches: RdataCaches = {}
        self._prev_caches: RdataCaches = prev_caches if prev_caches is not None else {}
        self._prev: dict[str, dns.rdata.Rdata] = {}

    def rdata(
        self,
        rec: RawRecord,
        rdtype: dns.rdatatype.RdataType,
        start: int,
        origin: dns.name.Name,
        owner: dns.name.Name,
        path: str,
    ) -> dns.rdata.Rdata | None:
        """The rdata of `rec`, whose tokens from `start` on are its rdata, under `origin`; None
        after reporting why there is none (the record is then in `failed`)."""
        items = rec.items
        # Rdata are immutable, so a record whose rdata text (and origin) repeats an earlier one's,
        # in this load or in the previous one (the memo), shares its object.
        # The key is one string, "rdtype token token ...": plain tokens hold no blank, so it
        # stands for exactly one token list, and one string costs less memory than a tuple.
        # Other records (quoted strings, escapes) get `_careful_key`, which cannot clash with it.
        if rec.plain:
            key = f"{rdtype:d} " + " ".join(items[start:])  # type: ignore[arg-type]
            length = len(key)
        else:
            key = _careful_key(rdtype, items, start)
            length = _text_length(items, start)
        rdata = None
        if key is not None:
            if self._origin is not origin:
                self._origin = origin
                labels = origin.labels
                self._cache = self.caches.setdefault(labels, {})
                self._prev = self._prev_caches.get(labels) or {}
            rdata = self._cache.get(key)
            if rdata is None:
                rdata = self._prev.get(key)
                if rdata is not None and len(self._cache) < _RDATA_CACHE_SIZE:
                    self._cache[key] = rdata
            # Whether it fits a transfer message depends on the owner too: long rdata met
            # before at another owner is measured again here.
            if rdata is not None and length > SHORT_RDATA_TEXT and self.too_long(owner, rdata, path,
                                                                                 rec.line_of(start)):
                self.failed.add((owner, rdtype))
                return None
        if rdata is None:
            try:
                rdata = self._parse(rdtype, items, start, origin)
            except Exception as exc:
                self._bad_rdata(rec, path, rdtype, start, exc)
                self.failed.add((owner, rdtype))
                if rdtype == _SOA:
                    self.soa_failed = True
                return None
            if length > SHORT_RDATA_TEXT and self.too_long(owner, rdata, path, rec.line_of(start)):
                self.failed.add((owner, rdtype))
                return None
            if key is not None and len(self._cache) < _RDATA_CACHE_SIZE:
                self._cache[key] = rdata
        return rdata

    def _parse(
        self, rdtype: dns.rdatatype.RdataType, items: list[Item], start: int, origin: dns.name.Name
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
                rdata = cls.from_text(_IN, rdtype, tokens, origin, False, None)
                tokens.get_eol_as_token()
            return rdata
        return dns.rdata.from_text(_IN, rdtype, tokens, origin, False)

    def too_long(self, owner: dns.name.Name, rdata: dns.rdata.Rdata, path: str, line: int) -> bool:
        """Report rdata over 65,535 octets of wire (RDLENGTH; the journal could not store it), or
        too large for any zone-transfer message with its owner (it would load and answer, but
        no secondary could ever get it)."""
        size = len(rdata.to_wire())
        if size <= max_transferable_rdata(self.zone_origin, owner):
            return False
        why = (f"more than {MAX_RDATA} (RFC 1035 §3.2.1: RDLENGTH is 16 bits)" if size > MAX_RDATA else
               f"too large for a zone-transfer message (at most {max_transferable_rdata(self.zone_origin, owner)} "
               f"octets at this owner, RFC 5936 2.2)")
        self._problems.error(
            "rdata-too-long", f"{dns.rdatatype.to_text(rdata.rdtype)} rdata is {size} octets on the wire, {why}",
            path, line)
        return True

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
        what = detail(exc, _RDATA_HINTS.get(rdtype))
        if not rdata_text:
            message = f"{type_text} record has no rdata ({rfc})"
            consumed = start - 1  # the type's own line
        elif what.startswith("expected EOL or EOF"):
            extra = raw_text(rec.items[min(consumed, len(rec.items) - 1)])
            what = f"unexpected '{clip(extra)}' after the rdata"
            message = f"bad {type_text} rdata '{rdata_text}': {what} ({rfc})"
        else:
            consumed = max(start, consumed)
            message = f"bad {type_text} rdata '{rdata_text}': {what} ({rfc})"
        self._problems.error("syntax", message, path, rec.line_of(consumed))


def _careful_key(rdtype: int, items: list[Item], start: int) -> str:
    """The cache key of rdata tokens that are not all plain: a line per token, each marked by
    kind ("S" plain, "Q" quoted, "E" escaped identifier, then whether it has an escape). No token
    holds a newline (a quoted string ends on its line), so it stands for exactly one token list;
    a plain key holds no newline, so the two never clash."""
    parts = [f"{rdtype:d}"]
    for item in items[start:]:
        if item.__class__ is str:
            parts.append("S" + item)  # type: ignore[operator]
        else:
            quoted = item.ttype == QUOTED_STRING  # type: ignore[union-attr]
            parts.append(("Q" if quoted else "E") + ("1" if item.has_escape else "0") + item.value)  # type: ignore[union-attr]
    return "\n".join(parts)


def _text_length(items: list[Item], start: int) -> int:
    """Characters of the rdata tokens from `start` on, separators counted."""
    return sum(len(item if item.__class__ is str else item.value) + 1 for item in items[start:])  # type: ignore[union-attr]
