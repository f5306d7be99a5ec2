"""Journal diffs -> a provider plan, without reading the hosted zone.

When a provider holds version A of a zone and our journal holds the diffs from A to our current
version B, only the RRsets those diffs touch can differ. For each one the plan needs its state in
A (a DELETE must name exactly the records the provider holds) and in B (an UPSERT carries the whole
new RRset). B is our current version; A is found by walking the diffs backwards from B (each diff
i turns S(i-1) into S(i), so S(i-1) = (S(i) - added(i)) + removed(i), with removed's TTL). Then:
gone -> DELETE, new -> CREATE, changed (records or TTL) -> UPSERT, the same -> nothing (a record
removed and re-added across two diffs). What the provider owns or refuses is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.name
import dns.rdataset
import dns.rdatatype

from hiddenprimary.providers.base import Plan, Provider, RRsetChange, RRsetValue, Skipped, name_text, rdata_text
from hiddenprimary.zone.diff import Diff
from hiddenprimary.zone.version import ZoneVersion

_Key = tuple[dns.name.Name, int, int]  # (owner, rdtype, covers)


class DiffsDoNotFit(ValueError):
    """The diffs do not lead to the version given (the caller re-plans from a full read)."""


def _texts(rds: dns.rdataset.Rdataset, origin: dns.name.Name) -> set[str]:
    return {rdata_text(rd, origin) for rd in rds}


def chain(history: Sequence[Diff], from_serial: int, to_serial: int) -> list[Diff] | None:
    """The diffs of `history` (oldest first) leading from `from_serial` to `to_serial`; [] when
    they are equal; None when the history does not reach back to `from_serial`."""
    if from_serial == to_serial:
        return []
    for i, d in enumerate(history):
        if d.serial_from == from_serial:
            steps = list(history[i:])
            if steps[-1].serial_to != to_serial:
                return None
            for a, b in zip(steps, steps[1:]):
                if a.serial_to != b.serial_from:
                    return None
            return steps
    return None


def plan_from_diffs(provider: Provider, diffs: Sequence[Diff], new: ZoneVersion) -> Plan:
    """The plan that takes a hosted zone holding the version before `diffs` to `new`."""
    origin = new.origin
    zone = name_text(origin)
    if diffs and diffs[-1].serial_to != new.serial:
        raise DiffsDoNotFit(f"the diffs end at serial {diffs[-1].serial_to}, the version is {new.serial}")
    per_diff: list[tuple[dict[_Key, dns.rdataset.Rdataset], dict[_Key, dns.rdataset.Rdataset]]] = []
    touched: dict[_Key, None] = {}  # ordered set
    for d in diffs:
        removed = {(n, r.rdtype, r.covers): r for n, r in d.removed}
        added = {(n, r.rdtype, r.covers): r for n, r in d.added}
        per_diff.append((removed, added))
        touched.update(dict.fromkeys(removed))
        touched.update(dict.fromkeys(added))
    plan = Plan(zone, new.serial)
    skipped: set[tuple[str, str]] = set()
    # In the provider's key order (owner text, type text), as compute_plan lists its changes.
    keyed = sorted((name_text(k[0]), dns.rdatatype.to_text(k[1]), k) for k in touched)
    for owner, type_text, key in keyed:
        name, rdtype, covers = key
        reason = provider.skip_reason(zone, owner, type_text)
        if reason is not None:
            if (owner, type_text) not in skipped:
                skipped.add((owner, type_text))
                plan.skipped.append(Skipped(owner, type_text, reason))
            continue
        now = new.get(name, rdtype, covers)
        after = None if now is None else (now.ttl, _texts(now, origin))
        before = after
        for removed, added in reversed(per_diff):
            ttl, values = before if before is not None else (0, set())
            if key in added:
                missing = _texts(added[key], origin) - values
                if missing:
                    raise DiffsDoNotFit(f"{owner} {type_text}: a diff adds records the next version lacks")
                values = values - _texts(added[key], origin)
            if key in removed:
                values = values | _texts(removed[key], origin)
                ttl = removed[key].ttl
            before = (ttl, values) if values else None
        old = _value(before)
        target = _value(after)
        if old == target:
            continue
        if target is None:
            plan.deletes.append(RRsetChange(owner, type_text, *old))
        elif old is None:
            plan.creates.append(RRsetChange(owner, type_text, *target))
        else:
            plan.upserts.append(RRsetChange(owner, type_text, *target))
    return plan


def _value(state: tuple[int, set[str]] | None) -> RRsetValue | None:
    return None if state is None else (state[0], tuple(sorted(state[1])))
