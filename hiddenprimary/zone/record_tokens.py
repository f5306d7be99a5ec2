"""A dnspython Tokenizer over the tokens `zone.scan` found for one record, so dnspython's own rdata
parsers read a record without a Tokenizer (and a StringIO) of its own, and the names read through
it (owners, and names in rdata) are made once per text and origin."""

from __future__ import annotations

import re

import dns.exception
import dns.name
import dns.tokenizer

from hiddenprimary.zone.scan import Item

_NAME_CACHE_SIZE = 1_000_000  # per origin
_EOL = dns.tokenizer.Token(dns.tokenizer.EOL, "\n")
_IDENTIFIER = dns.tokenizer.IDENTIFIER
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_*-]+(?:\.[A-Za-z0-9_*-]+)*\.?")

NameCaches = dict[tuple[bytes, ...] | None, dict[str, dns.name.Name]]  # by the origin's labels


class RecordTokens(dns.tokenizer.Tokenizer):
    """A dnspython Tokenizer that replays the tokens of one logical record, so dnspython's rdata
    parsers run unchanged without a Tokenizer (and a StringIO) per record. Names met in rdata
    are cached per origin: a zone repeats the same few targets (MX hosts, CNAME targets).
    `prev_names`: the previous load's `names` (ZoneMemo.names), read and never written."""

    # no super().__init__: there is no file to read
    def __init__(self, prev_names: NameCaches | None = None) -> None:
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
        # cached name is exactly what from_text would give.
        self._cache_origin: dns.name.Name | None = None
        self._cache: dict[str, dns.name.Name] = {}
        self._caches: NameCaches = {None: self._cache}
        self._prev_caches: NameCaches = prev_names if prev_names is not None else {}
        self._prev_cache: dict[str, dns.name.Name] = {}

    @property
    def names(self) -> NameCaches:
        """The names this load made or took from the previous load, for the next load's memo."""
        return self._caches

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

