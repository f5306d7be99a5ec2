"""zone.owner_shards: a sharded owner map reads and evolves exactly as a dict (its plain twin),
shares every shard a change does not touch, and cuts a new layout when the size moves fourfold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenprimary.zone import owner_shards
from hiddenprimary.zone.owner_shards import ShardedDict

KEYS = st.binary(min_size=1, max_size=6)
CHANGES = st.dictionaries(KEYS, st.one_of(st.none(), st.binary(min_size=1, max_size=4)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(start=st.dictionaries(KEYS, st.binary(min_size=1, max_size=4), max_size=300),
       steps=st.lists(CHANGES, max_size=6), per_shard=st.sampled_from([2, 8, 4096]))
def test_a_sharded_map_evolves_as_a_dict(start, steps, per_shard):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owner_shards, "KEYS_PER_SHARD", per_shard)
        _evolve_both(start, steps)


def _evolve_both(start, steps):
    plain, sharded = dict(start), ShardedDict.of(start)
    for changes in steps:
        before_plain, before = dict(plain), sharded
        for key, value in changes.items():
            if value is None:
                plain.pop(key, None)
            else:
                plain[key] = value
        sharded = before.evolved(changes)
        assert dict(sharded.items()) == plain and len(sharded) == len(plain)
        assert all(sharded.get(k) == v and k in sharded and sharded[k] == v for k, v in plain.items())
        assert sorted(sharded) == sorted(plain) and sorted(sharded.values()) == sorted(plain.values())
        assert dict(before.items()) == before_plain  # the old version is untouched
        expected = {k for k in plain.keys() | before_plain.keys() if plain.get(k) != before_plain.get(k)}
        assert set(before.differing_keys(sharded)) == expected == set(sharded.differing_keys(before))
        if len(sharded.maps) == len(before.maps):
            touched = {hash(k) & before.mask for k in changes}
            for i, (old, new) in enumerate(zip(before.maps, sharded.maps)):
                assert (old is new) == (i not in touched)  # only touched shards were copied
        assert (sharded == ShardedDict.of(plain)) and not (sharded == ShardedDict.of({**plain, b"\xff" * 7: b"x"}))


def test_layouts_follow_the_size():
    assert owner_shards.shard_count(0) == 1 and owner_shards.shard_count(4096) == 1
    assert owner_shards.shard_count(1_000_000) == 256  # ~3,900 owners a shard
    grown = ShardedDict.of({b"a": b"1"}).evolved({bytes([i, j]): b"x" for i in range(200) for j in range(100)})
    assert len(grown.maps) == 8 and len(grown) == 20_001  # cut anew: 1 shard -> 8
