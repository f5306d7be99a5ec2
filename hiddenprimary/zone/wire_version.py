"""WireVersion: a zone version held compactly, behind the same read interface as ZoneVersion.

Each owner is one dict entry: its lowercased wire name (bytes: hashed and compared in C) -> its
rdatasets in `zone.codec` form (bytes). No dnspython Name or Rdata object stays resident: a
reader's `get`/`node` decodes the owner it asks for (a small cache keeps the last few thousand),
so a version costs about its wire size, a restart restores one by splitting the journal's
snapshot into owners without parsing any rdata, and the next version is a C-level copy of the
dict plus the owners that changed (`evolve`).

`ZoneVersion` is the plain twin: tests build both from the same nodes and compare every read.
Owner spelling: an owner that exists keeps the spelling it was first stored with when `evolve`
replaces its records (as a dict keeps its first key); names compare case-insensitively anyway."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SOA

from hiddenprimary import big_lists
from hiddenprimary.zone import codec, snapshot_index
from hiddenprimary.zone.owner_shards import ShardedDict
from hiddenprimary.zone.version import Node, Nodes, RdatasetKey, ZoneVersion, canonical_key

_NS = dns.rdatatype.NS
_NSEC3 = dns.rdatatype.NSEC3
_SOA = dns.rdatatype.SOA
_NONE = dns.rdatatype.NONE
_LEN_BYTE = [bytes((i,)) for i in range(256)]
_DECODED_MAX = 4096  # decoded owners kept per version: the hot names of a query mix


def wire_key(name: dns.name.Name) -> bytes:
    """The lowercased uncompressed wire form of an absolute name: one owner's key."""
    return b"".join([_LEN_BYTE[len(label)] + label for label in name.labels]).lower()


def key_labels(key: bytes) -> list[bytes]:
    """The labels of a name in (lowercased) wire form, the root's empty one last."""
    labels, pos = [], 0
    while key[pos]:
        end = pos + 1 + key[pos]
        labels.append(key[pos + 1 : end])
        pos = end
    labels.append(b"")
    return labels


def _canonical(key: bytes) -> bytes:
    return canonical_key(tuple(key_labels(key)))


def _reversed_labels(key: bytes) -> bytes:
    """The labels of `key`, rightmost first (the root's empty one left out), joined by 00 (see
    `_sorted_keys`)."""
    return b"\0".join(key_labels(key)[-2::-1])


def _owner(packed: bytes) -> dns.name.Name:
    """The owner name, in its stored spelling, at the start of an owner's encoded rdatasets."""
    return dns.name.Name(key_labels(packed))


def _decode(packed: bytes) -> dict[RdatasetKey, dns.rdataset.Rdataset]:
    return {(rds.rdtype, rds.covers): rds for _, rds in codec.decode(packed)}


def _encode(owner: dns.name.Name, node: Node) -> bytes:
    return codec.encode([(owner, rds) for rds in node.values()])


def _facts(packed: bytes) -> tuple[int, bool]:
    """(records, holds NS) of one owner's encoded rdatasets."""
    count, ns = 0, False
    for rdtype, covers, _ttl, n in codec.heads(packed):
        count += n
        ns = ns or (rdtype == _NS and covers == _NONE)
    return count, ns


def _holds(packed: bytes, rdtype: int) -> bool:
    """One owner's encoded rdatasets hold one of `rdtype` (covers NONE). Walked inline, stopping
    at the first match: a restart asks this of every owner (the denial proofs' index)."""
    offset, end = 0, len(packed)
    while offset < end:
        while packed[offset]:
            offset += packed[offset] + 1
        offset += 1
        if (packed[offset] << 8 | packed[offset + 1]) == rdtype and not (packed[offset + 2] or packed[offset + 3]):
            return True
        count = packed[offset + 8] << 8 | packed[offset + 9]
        offset += 10
        for _ in range(count):
            offset += 2 + (packed[offset] << 8 | packed[offset + 1])
    return False


def _below(keys: Iterable[bytes], apex: bytes) -> ShardedDict:
    """For each name between the owners `keys` and the apex (both excluded) that has owners below
    it, how many: the empty non-terminals (RFC 4592 2.2.2) are the ones that are not owners, and
    the counts let an owner's removal tell which of its ancestors stay (a set of every name that
    exists cost a 1M zone 32 MiB more, and its removals a rebuild)."""
    top = len(apex)
    level = Counter(parent for parent in (key[key[0] + 1 :] for key in keys) if len(parent) > top)
    below: Counter = Counter()
    while level:  # a level of ancestors at a time, the counts carried up
        below.update(level)
        up: Counter = Counter()
        for name, count in level.items():
            parent = name[name[0] + 1 :]
            if len(parent) > top:
                up[parent] += count
        level = up
    return ShardedDict.of(below)  # laid out for its own size: evolve keeps that layout


def _ancestors(key: bytes, top: int) -> Iterator[bytes]:
    """The names between `key` and the apex (of wire length `top`), both excluded."""
    key = key[key[0] + 1 :]
    while len(key) > top:
        yield key
        key = key[key[0] + 1 :]


def _sorted_in_runs(keys: list[bytes], key) -> list[bytes]:
    """`sorted(keys, key=key)` (sort keys unique), a slice at a time (big_lists)."""
    ordered = big_lists.sorted_in_runs([(key(k), k) for k in keys])
    keys = [k for _, k in ordered]
    big_lists.release(ordered)  # its sort keys, a slice at a time
    return keys


class WireVersion:
    """An immutable zone version in wire form (see the module docstring)."""

    __slots__ = ("origin", "_packed", "_apex", "_below", "_cuts", "_sorted", "_chains", "_nsec3",
                 "rr_count", "cache", "_decoded", "_soa")

    def __init__(self, origin: dns.name.Name, packed: dict[bytes, bytes] | ShardedDict, *,
                 below: ShardedDict | None = None, cuts: set[bytes] | None = None, rr_count: int | None = None):
        """Takes `packed` (lowercased owner wire -> encoded rdatasets; a dict is cut into shards):
        callers build a fresh one and never change it afterwards. `below` (see `_below`), `cuts`,
        `rr_count`: already known (from `evolve`), or worked out here."""
        self.origin = origin
        if not isinstance(packed, ShardedDict):
            packed = ShardedDict.of(packed)
        self._packed = packed
        self._apex = apex = wire_key(origin)
        if apex not in packed or not _holds(packed[apex], _SOA):
            raise ValueError(f"zone {origin} has no SOA at the apex")
        if cuts is None or rr_count is None:
            cuts, rr_count = set(), 0
            for key, data in packed.items():
                count, ns = _facts(data)
                rr_count += count
                if ns and key != apex:
                    cuts.add(key)
        self._below = below if below is not None else _below(packed, apex)
        self._cuts = cuts
        self.rr_count = rr_count
        self._sorted: list[bytes] | None = None
        self._chains: dict[int, tuple[list[bytes], list[bytes]]] = {}
        self._nsec3: tuple[list[bytes], list[bytes]] | None = None
        self._decoded: dict[bytes, dict[RdatasetKey, dns.rdataset.Rdataset]] = {}
        self._soa: dns.rdataset.Rdataset | None = None
        self.cache: dict = {}  # rendered answers and transfers of this version (it never changes)

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_nodes(cls, origin: dns.name.Name, nodes: Nodes) -> WireVersion:
        return cls(origin, {wire_key(name): _encode(name, node) for name, node in nodes.items() if node})

    @classmethod
    def from_codec(cls, origin: dns.name.Name, data: bytes) -> WireVersion:
        """The version `codec.encode(version.iter_rdatasets())` (or `to_codec`) wrote, split into
        owners without parsing rdata. Raises ValueError on bytes `encode` did not make."""
        packed: dict[bytes, bytes] = {}
        for key, run in codec.owner_runs(data):
            packed[key] = packed[key] + run if key in packed else run  # the apex SOA comes first, alone
        return cls(origin, packed)

    @classmethod
    def from_snapshot(cls, origin: dns.name.Name, data: bytes, index: bytes) -> WireVersion:
        """As `from_codec`, cut by the `snapshot_index` that `to_snapshot` wrote with `data`.
        Raises ValueError when the index does not fit `data`."""
        keys, values, rr_count, cuts, below = snapshot_index.decode(index, data)
        packed = ShardedDict.of(zip(keys, values), len(keys))
        if len(packed) != len(keys):
            raise ValueError("the snapshot index names an owner twice")
        return cls(origin, packed, cuts=cuts, rr_count=rr_count, below=ShardedDict.of(below))

    def to_codec(self) -> bytes:
        """The version in `zone.codec` form (the journal's snapshot), as stored: no encoding.
        The apex first, the other owners in no particular order."""
        return self.to_snapshot()[0]

    def to_snapshot(self) -> tuple[bytes, bytes]:
        """`to_codec`'s bytes and their `snapshot_index`."""
        values, index = self.snapshot_parts()
        # One join (no `head + rest`): the snapshot is the size of the zone, copied once.
        return b"".join(values), index

    def snapshot_parts(self) -> tuple[list[bytes], bytes]:
        """The owners' encoded rdatasets whose concatenation is `to_codec`'s bytes (the journal
        writes them a piece at a time: one join of a signed 100k zone held the GIL ~25 ms), and
        their `snapshot_index`."""
        apex = self._apex
        keys, values = [apex], [self._packed[apex]]
        for shard in self._packed.maps:  # C-level copies of each shard's keys and values, in step
            keys.extend(shard)
            values.extend(shard.values())
        at = keys.index(apex, 1)  # the apex comes first, once
        del keys[at], values[at]
        return values, snapshot_index.encode(keys, values, self.rr_count, self._cuts, self._below.items())

    def evolve(self, changes: Mapping[dns.name.Name, Node]) -> WireVersion:
        """A new version: this one with the owners in `changes` holding those nodes instead (an
        empty node removes the owner). Costs a C-level copy of the owner dict plus the changes.
        An owner that exists keeps its stored spelling."""
        packed: dict[bytes, bytes | None] = {}
        for name, node in changes.items():
            key = wire_key(name)
            old = self._packed.get(key)
            packed[key] = _encode(name if old is None else _owner(old), node) if node else None
        return self.evolve_packed(packed)

    def evolve_packed(self, changes: Mapping[bytes, bytes | None]) -> WireVersion:
        """As `evolve`, with each changed owner given by its key and its encoded rdatasets (None
        removes it), taken as they are (spelling included). The owner map and the counts of
        owners below names are copied only in the shards the changes fall in (zone.owner_shards)."""
        current = self._packed
        cuts = set(self._cuts)
        rr_count = self.rr_count
        top = len(self._apex)
        counts: dict[bytes, int] = {}  # ancestors of owners that come or go: their new counts
        below = self._below
        applied: dict[bytes, bytes | None] = {}
        for key, data in changes.items():
            old = current.get(key)
            if old is not None:
                rr_count -= _facts(old)[0]
            cuts.discard(key)
            if data:
                applied[key] = data
                count, ns = _facts(data)
                rr_count += count
                if ns and key != self._apex:
                    cuts.add(key)
                if old is None:
                    for name in _ancestors(key, top):
                        counts[name] = counts.get(name, below.get(name, 0)) + 1
            elif old is not None:
                applied[key] = None
                for name in _ancestors(key, top):
                    counts[name] = counts.get(name, below.get(name, 0)) - 1
        packed = current.evolved(applied)
        below = below.evolved({name: count or None for name, count in counts.items()})
        return WireVersion(self.origin, packed, below=below, cuts=cuts, rr_count=rr_count)

    def same_owners(self, packed: dict[bytes, bytes], rr_count: int) -> WireVersion:
        """A version with this one's owners, holding `packed` (the same keys, other records:
        what signing makes of it, plus at most owners right below the apex without NS, NSEC3's
        hashed names) and `rr_count` records; the same cuts (callers keep every NS as it is) and
        the same names below names (owners right below the apex add none), shared, not worked
        out again."""
        return WireVersion(self.origin, packed, below=self._below, cuts=self._cuts, rr_count=rr_count)

    def differing_keys(self, other: WireVersion) -> Iterator[bytes]:
        """The owners whose encoded rdatasets differ between the two versions (or that one
        lacks), compared as bytes; shards the two share are skipped."""
        return self._packed.differing_keys(other._packed)

    def keys(self) -> Iterator[bytes]:
        """Every owner's key (lowercased wire), in no particular order."""
        return iter(self._packed)

    def packed_items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, encoded rdatasets) of every owner, in no particular order."""
        return iter(self._packed.items())

    def packed_at(self, key: bytes) -> bytes | None:
        """The encoded rdatasets of the owner `key` (lowercased wire), None when there is none."""
        packed = self._packed
        return packed.maps[hash(key) & packed.mask].get(key)  # ShardedDict.get, inlined: answers ask

    def name_key_exists(self, key: bytes) -> bool:
        """`name_exists` for a name in lowercased wire form (`key`): an owner or an empty
        non-terminal."""
        return key in self._packed or key in self._below

    def has_cuts(self) -> bool:
        return bool(self._cuts)

    def under_cut(self, key: bytes) -> bool:
        """The name `key` (lowercased wire, in the zone) is a delegation point or below one."""
        top = len(self._apex)
        while len(key) > top:
            if key in self._cuts:
                return True
            key = key[key[0] + 1:]
        return False

    def with_serial(self, serial: int) -> WireVersion:
        """A copy whose SOA carries `serial`."""
        old = self.soa
        soa = dns.rdataset.Rdataset(dns.rdataclass.IN, _SOA)
        soa.update_ttl(old.ttl)
        soa.add(old[0].replace(serial=serial))
        apex = dict(self._node_at(self._apex))
        apex[(_SOA, _NONE)] = soa
        return self.evolve({self.origin: apex})

    def owners_differing(self, other: ZoneVersion | WireVersion) -> list[dns.name.Name]:
        """The owners where `other` may differ from this one: those whose records encode to
        other bytes than ours (same records in another order or spelling count too, so callers
        compare those by value), and ours that `other` lacks. Encoding a node costs a fraction of
        decoding one: a full diff against a compact version pays this, not a decode of every
        owner; against another compact version it compares bytes only."""
        packed, seen, out = self._packed, set(), []
        if isinstance(other, WireVersion):
            theirs = other._packed
            for key in packed.differing_keys(theirs):
                data = theirs.get(key)
                out.append(_owner(data if data is not None else packed[key]))
            return out
        for name, node in other.nodes().items():
            key = wire_key(name)
            seen.add(key)
            if packed.get(key) != _encode(name, node):
                out.append(name)
        out.extend(_owner(data) for key, data in packed.items() if key not in seen)
        return out

    def prepare(self) -> None:
        """As ZoneVersion.prepare: here the tree index is built with the version."""

    # -- the read interface (as ZoneVersion) ------------------------------------------------

    def _node_at(self, key: bytes) -> dict[RdatasetKey, dns.rdataset.Rdataset]:
        node = self._decoded.get(key)
        if node is None:
            data = self._packed.get(key)
            if data is None:
                return {}
            node = _decode(data)
            if len(self._decoded) >= _DECODED_MAX:
                self._decoded.clear()
            self._decoded[key] = node
        return node

    @property
    def soa(self) -> dns.rdataset.Rdataset:
        if self._soa is None:
            self._soa = self._node_at(self._apex)[(_SOA, _NONE)]
        return self._soa

    def soa_wire(self) -> tuple[int, bytes]:
        """(TTL, rdata in wire form) of the apex SOA, from its bytes."""
        picked = codec.pick(self._packed.get(self._apex, b""), _SOA, _SOA)
        if picked is None or not picked[2]:
            soa = self.soa
            return soa.ttl, soa[0].to_wire()
        return picked[1], picked[2][0]

    def apex_holds(self, rdtype: int, covers: int = _NONE) -> bool:
        """Whether the apex has an rdataset of this type, read from its bytes (nothing decoded)."""
        return any(t == rdtype and c == covers for t, c, _ttl, _n in codec.heads(self._packed.get(self._apex, b"")))

    @property
    def serial(self) -> int:
        # Read from the apex's bytes (no decode): publishing, NOTIFY and status ask often, and a
        # start of 10,000 small zones asks 10,000 times.
        if self._soa is None:
            picked = codec.pick(self._packed.get(self._apex, b""), _SOA, _SOA)
            if picked is not None and picked[2] and len(picked[2][0]) >= 20:
                return int.from_bytes(picked[2][0][-20:-16], "big")
        soa: dns.rdtypes.ANY.SOA.SOA = self.soa[0]
        return soa.serial

    def get(self, name: dns.name.Name, rdtype: int, covers: int = _NONE) -> dns.rdataset.Rdataset | None:
        return self._node_at(wire_key(name)).get((rdtype, covers))

    def rdatasets_at(self, name: dns.name.Name) -> list[dns.rdataset.Rdataset]:
        return list(self._node_at(wire_key(name)).values())

    def node(self, name: dns.name.Name) -> Mapping[RdatasetKey, dns.rdataset.Rdataset]:
        return self._node_at(wire_key(name))

    def name_exists(self, name: dns.name.Name) -> bool:
        """True for owners and for empty non-terminals."""
        return self.name_key_exists(wire_key(name))

    def delegation_above(self, name: dns.name.Name) -> dns.name.Name | None:
        """The topmost zone cut (NS below the apex) at or above `name`, or None."""
        if not self._cuts:
            return None
        key = wire_key(name)
        starts, pos = [], 0  # starts[i]: where the suffix without the first i labels begins
        while key[pos]:
            starts.append(pos)
            pos += key[pos] + 1
        labels = name.labels
        for i in range(len(labels) - len(self.origin) - 1, -1, -1):
            if key[starts[i] :] in self._cuts:
                return dns.name.Name(labels[i:])
        return None

    def closest_encloser(self, name: dns.name.Name) -> dns.name.Name:
        """The longest existing ancestor-or-self of `name` (RFC 4592 3.3.1)."""
        key, top = wire_key(name), len(self._apex)
        while len(key) > top and not self.name_key_exists(key):
            key = key[key[0] + 1 :]
            name = name.parent()
        return name

    def _sorted_keys(self) -> list[bytes]:
        if self._sorted is None:
            keys = list(self._packed)
            # Without a 00 octet inside a label (one 00 in the key: the root's), the labels
            # rightmost first joined by 00 sort as canonical_key does, for less work a key.
            simple = all(key.count(0) == 1 for key in keys)
            self._sorted = _sorted_in_runs(keys, _reversed_labels if simple else _canonical)
        return self._sorted

    @property
    def apex_key(self) -> bytes:
        return self._apex

    def packed_in_order(self) -> Iterator[bytes]:
        """Each owner's encoded rdatasets (`zone.codec`), owners in canonical order."""
        maps, mask = self._packed.maps, self._packed.mask
        for key in self._sorted_keys():
            yield maps[hash(key) & mask][key]  # ShardedDict's [], inlined: a whole zone asks

    def names(self) -> list[dns.name.Name]:
        """Owner names (not empty non-terminals) in DNSSEC canonical order (RFC 4034 6.1)."""
        return [_owner(self._packed[key]) for key in self._sorted_keys()]

    def predecessor(self, name: dns.name.Name, rdtype: int) -> tuple[dns.name.Name, Node] | None:
        """As ZoneVersion.predecessor."""
        chain = self._chains.get(rdtype)
        if chain is None:
            pairs = sorted((canonical_key(tuple(key_labels(key))), key)
                           for key, data in self._packed.items() if _holds(data, rdtype))
            chain = self._chains[rdtype] = ([p[0] for p in pairs], [p[1] for p in pairs])
        return self._before(chain, canonical_key(tuple(key_labels(wire_key(name)))))

    def nsec3_predecessor(self, hash_label: bytes) -> tuple[dns.name.Name, Node] | None:
        """As ZoneVersion.nsec3_predecessor."""
        if self._nsec3 is None:
            apex = self._apex
            # A SHA-1 hash label is 32 characters (RFC 5155 3.3): only those owners are looked into.
            pairs = sorted((key[1 : 1 + key[0]], key) for key, data in self._packed.items()
                           if key[0] == 32 and key[key[0] + 1 :] == apex and _holds(data, _NSEC3))
            self._nsec3 = ([p[0] for p in pairs], [p[1] for p in pairs])
        return self._before(self._nsec3, hash_label.lower())

    def _before(self, chain: tuple[list[bytes], list[bytes]], sort_key: bytes) -> tuple[dns.name.Name, Node] | None:
        keys, owners = chain
        if not owners:
            return None
        key = owners[bisect.bisect_right(keys, sort_key) - 1]  # -1 wraps around
        return _owner(self._packed[key]), self._node_at(key)

    def iter_rdatasets(self) -> Iterator[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
        """Every rdataset in canonical name order, the SOA first."""
        yield self.origin, self.soa
        apex = self._apex
        for key in self._sorted_keys():
            for name, rds in codec.decode(self._packed[key]):
                if key == apex and rds.rdtype == _SOA and rds.covers == _NONE:
                    continue
                yield name, rds

    def nodes(self) -> Nodes:
        """A read-only mapping owner -> node that decodes as it is read (whole-zone readers)."""
        return _Nodes(self)


class _Nodes(Mapping):
    """`WireVersion.nodes()`: the version as a Mapping[Name, node], decoded on access."""

    def __init__(self, version: WireVersion):
        self._version = version
        self._packed = version._packed

    def __getitem__(self, name: dns.name.Name) -> Node:
        key = wire_key(name)
        if key not in self._packed:
            raise KeyError(name)
        return self._version._node_at(key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, dns.name.Name) and wire_key(name) in self._packed

    def __iter__(self) -> Iterator[dns.name.Name]:
        return (_owner(data) for data in self._packed.values())

    def __len__(self) -> int:
        return len(self._packed)

    def items(self):  # type: ignore[override]  # one decode per owner, no key computed again
        return ((_owner(data), _decode(data)) for data in self._packed.values())

    def values(self):  # type: ignore[override]
        return (_decode(data) for data in self._packed.values())
