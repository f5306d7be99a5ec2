"""A compact version's owner map (and its counts of owners below names), cut into shards by hash
so that the next version copies only the shards its changes touch.

A reload of a million-owner zone used to clone the whole owner dict and name set: ~40 ms each of
C code that never lets go of the GIL, so queries waited that long (issue 13: p99 during a 1M
reload <= 10 ms). With ~4,096 keys a shard, a 10-record edit copies a few shards of a few
hundred microseconds each, the next version shares every other shard with this one, and a diff
of two versions with the same layout compares only the shards that are not the same object.

Keys are bytes (owner names in lowercased wire form): their hash is cached in the object, so
routing a lookup costs one `&`. A layout is fixed for a version's line of descendants until it
grows or shrinks fourfold, then it is cut anew. Shards are never changed once a version holds
them (`evolved` copies before it writes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

KEYS_PER_SHARD = 4096
MAX_SHARDS = 1 << 12


def shard_count(size: int) -> int:
    """The power of two that gives about KEYS_PER_SHARD keys a shard (1 for small zones)."""
    count = 1
    while count < MAX_SHARDS and count * KEYS_PER_SHARD < size:
        count <<= 1
    return count


def _relayout(count: int, size: int) -> bool:
    """Whether a layout of `count` shards is far enough from `size` keys to be cut anew."""
    wanted = shard_count(size)
    return wanted >= count * 4 or wanted * 4 <= count


class ShardedDict:
    """bytes -> a value (owner data, counts), read like a dict (get, in, [], len, iteration over
    keys, items, values)."""

    __slots__ = ("maps", "mask", "size")

    def __init__(self, maps: list[dict[bytes, bytes]], size: int):
        self.maps = maps
        self.mask = len(maps) - 1
        self.size = size

    @classmethod
    def of(cls, items: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]], size: int | None = None) -> ShardedDict:
        if size is None:
            size = len(items)  # type: ignore[arg-type]
        maps: list[dict[bytes, bytes]] = [{} for _ in range(shard_count(size))]
        mask = len(maps) - 1
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            maps[hash(key) & mask][key] = value
        return cls(maps, sum(len(m) for m in maps))

    def get(self, key: bytes, default=None):
        return self.maps[hash(key) & self.mask].get(key, default)

    def __getitem__(self, key: bytes) -> bytes:
        return self.maps[hash(key) & self.mask][key]

    def __contains__(self, key: object) -> bool:
        return key in self.maps[hash(key) & self.mask]

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        for shard in self.maps:
            yield from shard

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for shard in self.maps:
            yield from shard.items()

    def values(self) -> Iterator[bytes]:
        for shard in self.maps:
            yield from shard.values()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ShardedDict):
            return NotImplemented
        return self.size == other.size and all(other.get(key) == value for key, value in self.items())

    __hash__ = None  # type: ignore[assignment]

    def evolved(self, changes: Mapping[bytes, bytes | None]) -> ShardedDict:
        """A new map: this one with `changes` applied (None removes a key); the shards no change
        falls in are shared."""
        size = self.size
        final = size
        for key, value in changes.items():
            if key in self:
                final -= value is None
            else:
                final += value is not None
        if _relayout(len(self.maps), final):
            merged = dict(self.items())
            for key, value in changes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            return ShardedDict.of(merged)
        maps = list(self.maps)
        mask = self.mask
        copied: set[int] = set()
        for key, value in changes.items():
            index = hash(key) & mask
            if index not in copied:
                maps[index] = dict(maps[index])
                copied.add(index)
            shard = maps[index]
            if value is None:
                if shard.pop(key, None) is not None:
                    size -= 1
            else:
                if key not in shard:
                    size += 1
                shard[key] = value
        return ShardedDict(maps, size)

    def differing_keys(self, other: ShardedDict) -> Iterator[bytes]:
        """Keys whose values differ between the two maps (or that one lacks). Shards the two
        share are skipped without a look when the layouts agree."""
        if self.mask != other.mask:
            yield from (key for key, value in self.items() if other.get(key) != value)
            yield from (key for key in other if key not in self)
            return
        for mine, theirs in zip(self.maps, other.maps):
            if mine is theirs:
                continue
            yield from (key for key, value in mine.items() if theirs.get(key) != value)
            yield from (key for key in theirs if key not in mine)
