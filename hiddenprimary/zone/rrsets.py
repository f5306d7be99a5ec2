"""The RRsets one zone load builds, record by record, and where each came from.

With the previous load's RRsets (ZoneMemo.rdatasets), an RRset whose records are the previous
one's very rdata objects, in the same order and at the same TTL, is that previous Rdataset
object itself, so `old is new` tells a reload that it did not change (see `_Borrowed`)."""

from __future__ import annotations

import itertools

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype

from hiddenprimary.errors import Location
from hiddenprimary.zone.problems import Problems

RdatasetKey = tuple[int, int]  # (rdtype, covers)
Node = dict[RdatasetKey, dns.rdataset.Rdataset]

_IN = dns.rdataclass.IN
_SOA = dns.rdatatype.SOA
_RRSIG = dns.rdatatype.RRSIG
_NS = dns.rdatatype.NS
_SINGLETONS = frozenset(t for t in dns.rdatatype.RdataType if dns.rdatatype.is_singleton(t))


class RRsets:
    """`rdatasets[owner][(rdtype, covers)]`, with `locations`, `dropped` and `ns_records` as
    `zone.load.LoadedZone` holds them; `prev`: the previous load's `rdatasets`, or {}."""

    def __init__(self, problems: Problems, prev: dict[dns.name.Name, Node]):
        self.rdatasets: dict[dns.name.Name, Node] = {}
        self.locations: dict[tuple[dns.name.Name, int], Location] = {}
        self.dropped: dict[tuple[dns.name.Name, int], list[Location]] = {}
        self.ns_records: list[tuple[dns.name.Name, dns.name.Name, Location]] = []
        self._problems = problems
        # The previous load's nodes, and the same by id() of their owner Name: an owner this load
        # got from the memo's name cache is that same object (the memo keeps it alive, so ids
        # cannot clash), found without hashing a Name (dnspython does that in Python). Other
        # owners are looked up by value. `_borrowed`: RRsets that are, so far, a previous one.
        self._prev_rdatasets = prev
        self._prev_nodes: dict[int, Node] = {id(name): node for name, node in prev.items()}
        self._last_prev: Node | None = None
        self._borrowed: dict[int, _Borrowed] = {}
        # The node of the last owner: records of one owner mostly come one after the other.
        self._last_owner: dns.name.Name | None = None
        self._last_node: Node | None = None
        # (owner, its node, the previous load's node or None) for each owner as first met: what
        # `touched` compares, without hashing a Name again.
        self._met: list[tuple[dns.name.Name, Node, Node | None]] = []

    def add(
        self, owner: dns.name.Name, ttl: int, rdata: dns.rdata.Rdata, path: str, line: int
    ) -> None:
        """`rdata` at `owner` with `ttl`, defined at path:line."""
        if owner is self._last_owner:
            node = self._last_node
            prev = self._last_prev
            assert node is not None
        else:
            known = len(self.rdatasets)
            node = self.rdatasets.setdefault(owner, {})
            prev = None
            if self._prev_rdatasets:
                prev = self._prev_nodes.get(id(owner)) or self._prev_rdatasets.get(owner)
                if len(self.rdatasets) != known:
                    self._met.append((owner, node, prev))
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
            self._problems.warning(
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

    def touched(self) -> set[dns.name.Name] | None:
        """After `settle`: the owners whose RRsets are not all the previous load's very objects
        (new, changed or gone owners), so a diff against the previous load's zone need look
        only there; None without a previous load."""
        if not self._prev_rdatasets:
            return None
        # An owner both loads have is named as the previous load wrote it (case kept), as a
        # diff over every owner of both names it.
        prev_names = {id(node): name for name, node in self._prev_rdatasets.items()}
        out = []
        seen: set[int] = set()
        for owner, node, prev in self._met:
            if prev is None:
                out.append(owner)
                continue
            seen.add(id(prev))
            if len(node) != len(prev) or any(prev.get(key) is not rds for key, rds in node.items()):
                out.append(prev_names[id(prev)])
        if len(seen) != len(self._prev_rdatasets):  # owners the file no longer has
            out.extend(name for name, node in self._prev_rdatasets.items() if id(node) not in seen)
        return set(out)


class _Borrowed:
    """A previous load's Rdataset `old`, put in `node[key]` because the records met so far for
    it are its first `matched` records: the same rdata objects in the same order, the first at
    its TTL (a later one at another TTL is only warned about, as always). `rest` iterates over
    its next records. When a record is not the next one (a duplicate included), or the load ends
    before all of `old` was met, `RRsets._unborrow` replaces it with a new Rdataset of the
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
