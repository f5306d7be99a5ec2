"""plan_reload: read a zone file and decide what the next version is; plan_resign: the re-sign
timer's version (same records, fresh signatures where due). Pure (no reactor, no publishing): both
run in a worker thread and their result is published by the reactor thread."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import dns.name
import dns.rdatatype

from hiddenprimary.clock import Clock
from hiddenprimary.config import ZoneConfig
from hiddenprimary.dnssec import denial, wire_input, wire_signer, zone_signer
from hiddenprimary.dnssec.zone_signer import SignStats, SigningPolicy
from hiddenprimary.errors import HiddenPrimaryError, SerialError, Severity, ZoneProblem, ZoneRejected
from hiddenprimary.reload.load_mark import LoadMark, load_context
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone import source
from hiddenprimary.zone.diff import Diff, diff, diff_at
from hiddenprimary.zone.load import ZoneMemo, load_zone
from hiddenprimary.zone.source import ReadLimits
from hiddenprimary.zone.version import ZoneVersion
from hiddenprimary.zone.wire_load import TextMemo, WireLoaded, load_wire
from hiddenprimary.zone.wire_reload import reload_wire
from hiddenprimary.zone.wire_version import WireVersion, key_labels, wire_key


if TYPE_CHECKING:
    from hiddenprimary.dnssec.keys import SigningKey

@dataclasses.dataclass(frozen=True)
class Signing:
    """What signing a zone needs besides the zone: its keys, the policy, and the serial the zone
    file had at the last published load (the `keep` policy compares the file with that, since a
    signed zone's served serial also moves on re-signs)."""

    keys: tuple[SigningKey, ...]
    policy: SigningPolicy
    last_file_serial: int | None = None
    # The batch signatures go to (`dnssec.wire_signer.InThread` when None): e.g. worker
    # processes for big runs (`dnssec.parallel.ParallelSigner.batch`).
    sign_data: Callable | None = None


@dataclasses.dataclass(frozen=True)
class ReloadPlan:
    zone: str
    old: ZoneVersion | None
    new: ZoneVersion | None  # None: nothing changed, keep serving `old`
    diff: Diff | None  # None on a first load or when nothing changed
    warnings: tuple[ZoneProblem, ...]
    file_serial: int | None = None  # the zone file's own serial (None: not read, a re-sign)
    signed: SignStats | None = None  # what signing did, for signed zones
    memo: object | None = None  # zone.load's memo of this file, for the next load (skips unchanged records)
    mark: LoadMark | None = None  # what the load read (or found unchanged), for the next reload

    @property
    def changed(self) -> bool:
        return self.new is not None

    @property
    def old_serial(self) -> int | None:
        return None if self.old is None else self.old.serial

    @property
    def new_serial(self) -> int | None:
        version = self.new or self.old
        return None if version is None else version.serial


class ReloadTimeout(HiddenPrimaryError):
    """The reload ran past limits.reload_timeout_s; nothing of it is published."""


def plan_reload(current: ZoneVersion | None, zone_cfg: ZoneConfig, clock: Clock,
                signing: Signing | None = None, memo=None, last_file_serial: int | None = None,
                served_floor: int | None = None, limits: ReadLimits | None = None,
                mark: LoadMark | None = None) -> ReloadPlan:
    """Load `zone_cfg.file` and plan the version that follows `current` (see `_plan_reload`).
    `memo`, the previous plan's, lets the load skip records whose text did not change, and hands
    back their RRsets as the very objects `current` holds. `served_floor`, for a first version
    (nothing restored), is the highest serial ever served: the first version goes above it.
    `limits` bound what the load reads and when it must be done: past the deadline, the load
    stops (ZoneRejected, file:line) or the finished plan is dropped (ReloadTimeout), so a plan is
    never handed on late. `mark`, the last good load's: when the files it read have the same
    bytes (and nothing else it depends on changed), nothing is parsed and nothing changes."""
    context = load_context(zone_cfg, None if signing is None else signing.keys, limits)
    preread: source.Preread = {}
    if (current is not None and mark is not None and mark.files and mark.files[0] == zone_cfg.file
            and source.unchanged(list(mark.files), limits or ReadLimits(), context, mark.digest, preread)):
        return ReloadPlan(zone_cfg.name.to_text(omit_final_dot=True), current, None, None, mark.warnings,
                          mark.file_serial, mark=mark)
    # Read only what changed since the last fast load (zone.wire_reload), else the whole file
    # fast (zone.wire_load); either hands anything it cannot prove clean to load_zone. A signed
    # zone's reload starts from its unsigned input.
    text_memo = memo if isinstance(memo, TextMemo) else None
    loaded = (reload_wire(zone_cfg.file, zone_cfg.name, limits, text_memo, _reload_base(current), preread)
              or load_wire(zone_cfg.file, zone_cfg.name, limits, preread))
    if loaded is not None and signing is not None:
        loaded = _with_touched(loaded, current)
    if (loaded is not None and signing is not None and zone_cfg.dnssec is not None
            and not _ttls_fit(loaded, zone_cfg, current)):
        loaded = None  # the full load names the RRset over the re-sign margin at its line
    if loaded is None:
        loaded = load_zone(zone_cfg.file, zone_cfg.name, memo if isinstance(memo, ZoneMemo) else None, limits)
        if signing is not None and zone_cfg.dnssec is not None:
            _check_resign_margin(loaded, zone_cfg)
    plan = _indexed(_plan_reload(current, loaded, zone_cfg, clock, signing, last_file_serial, served_floor))
    if limits is not None and limits.expired():  # signing a big zone can take long too
        raise ReloadTimeout(f"zone {plan.zone}: {limits.timeout_text()}; nothing published")
    read = LoadMark(tuple(path for path, _ in loaded.sources), source.files_digest(loaded.sources, context),
                    plan.file_serial, tuple(str(w) for w in loaded.warnings))
    return dataclasses.replace(plan, memo=loaded.memo, mark=read)


def _check_resign_margin(loaded, zone_cfg: ZoneConfig) -> None:
    """A signature is re-signed when `refresh` of its validity is left. Until then a secondary may
    still serve the old one for `propagation_delay`, and a cache keep it for the RRset's TTL, so
    every signed RRset's TTL must fit in refresh - propagation_delay (Knot warns "rrsig-refresh too
    low to prevent expired RRSIGs in resolver caches"; we refuse). The config checks the rest.
    Raises ZoneRejected at the RRset with the largest TTL over it. Records the signer makes or
    leaves unsigned do not count: RRSIG/NSEC/NSEC3, our apex DNSKEY/CDS/CDNSKEY/NSEC3PARAM, and
    what sits at or below a delegation (NS, glue), DS aside."""
    dnssec = zone_cfg.dnssec
    room = dnssec.refresh - dnssec.propagation_delay
    origin = zone_cfg.name
    over = [(rds.ttl, owner, rdtype) for owner, node in loaded.rdatasets.items()
            for (rdtype, _), rds in node.items() if rds.ttl > room]
    if not over:
        return
    cuts = {owner for owner, _, _ in loaded.ns_records if owner != origin}
    over = [(ttl, owner, rdtype) for ttl, owner, rdtype in over
            if rdtype not in zone_signer.SIGNER_TYPES
            and not (owner == origin and rdtype in zone_signer.SIGNER_APEX_TYPES)
            and not (owner in cuts and rdtype != dns.rdatatype.DS) and not _below_a_cut(owner, origin, cuts)]
    if not over:
        return
    ttl, owner, rdtype = max(over, key=lambda o: o[0])
    key_path = f"zones.{origin.to_text(omit_final_dot=True)}.dnssec"
    more = f" ({len(over) - 1} more RRsets over it)" if len(over) > 1 else ""
    message = (f"{owner} {dns.rdatatype.to_text(rdtype)}: TTL {ttl} is longer than {key_path}.refresh "
               f"({dnssec.refresh}s) minus propagation_delay ({dnssec.propagation_delay}s): its cached "
               f"signatures could expire before re-signed ones replace them; lower the TTL or raise "
               f"refresh{more}")
    problem = ZoneProblem("ttl-over-resign-margin", Severity.ERROR, message, loaded.location(owner, rdtype),
                          owner.to_text())
    raise ZoneRejected(origin.to_text(omit_final_dot=True), [problem, *loaded.warnings])


TTL_ROOM = "dnssec.ttl_room"  # a signed version's cache: the re-sign margin its TTLs were checked against


def _unsigned_of(current) -> WireVersion | None:
    """The unsigned input `current` was signed from, when the wire signer made it."""
    return current.cache.get(wire_signer.UNSIGNED) if isinstance(current, WireVersion) else None


def _reload_base(current) -> WireVersion | None:
    """The version the text memo's bytes were read into, for `reload_wire` to evolve: `current`
    when unsigned, a signed version's unsigned input (whether or not the zone is still signed:
    a signed base would carry its signatures into the next read), None when unknown (a
    restored signed version: the whole file is read)."""
    unsigned = _unsigned_of(current)
    if unsigned is not None:
        return unsigned
    return None if zone_signer.is_signed(current) else current


def _ttls_fit(loaded: WireLoaded, zone_cfg: ZoneConfig, current) -> bool:
    """`_check_resign_margin` for a fast read: at the owners it touched when the margin is the
    one `current` was checked against, else at every owner."""
    room = zone_cfg.dnssec.refresh - zone_cfg.dnssec.propagation_delay
    keys = None
    if loaded.touched is not None and current is not None and current.cache.get(TTL_ROOM) == room:
        keys = {wire_key(name) for name in loaded.touched}
    return wire_input.ttls_fit(loaded.version, room, keys)


def _with_touched(loaded: WireLoaded, current) -> WireLoaded:
    """A whole read of a signed zone's file (delegations, directives) with the owners whose
    bytes differ from the last signed input's named, as a reload by difference names them: the
    rest of the plan then costs those owners (a C-level walk of both owner maps), not the zone."""
    before = _unsigned_of(current)
    if loaded.touched is not None or before is None:
        return loaded
    keys = set(loaded.version.differing_keys(before))
    keys.add(loaded.version.apex_key)
    return dataclasses.replace(loaded, touched={dns.name.Name(key_labels(key)) for key in keys})


def _below_a_cut(owner, origin, cuts: set) -> bool:
    """`owner` is strictly below a delegation (glue: served unsigned)."""
    name = owner
    while name != origin and len(name) > len(origin):
        name = name.parent()
        if name in cuts:
            return True
    return False


def _indexed(plan: ReloadPlan) -> ReloadPlan:
    """The plan with its new version compact (unsigned zones) and its denial-proof index built,
    here in the worker thread, not on the reactor thread at its first negative DO=1 answer."""
    if plan.new is None:
        return plan
    if plan.signed is None:
        plan = dataclasses.replace(plan, new=_compact(plan.new, plan.old, plan.diff))
    denial.prepare(plan.new)
    return plan


def _compact(new: ZoneVersion | WireVersion, old: ZoneVersion | WireVersion | None,
             changes: Diff | None) -> WireVersion:
    """`new` as a WireVersion: the old one evolved at the owners `changes` (old -> new) names
    and the apex, when it is one; otherwise every owner encoded. Signed versions stay plain
    until the signer reads wire data (issue 14): it tells unchanged RRsets by identity."""
    if isinstance(new, WireVersion):
        return new
    if isinstance(old, WireVersion) and changes is not None:
        names = {name for name, _ in changes.removed}
        names.update(name for name, _ in changes.added)
        names.add(new.origin)
        return old.evolve({name: new.node(name) for name in names})
    return WireVersion.from_nodes(new.origin, new.nodes())


def _first_serial(policy: str, file_serial: int, wall: float,
                  served_floor: int | None) -> tuple[int, tuple[ZoneProblem, ...]]:
    """A first version's serial, raised above any serial served before (a lost, damaged or older
    journal must not send secondaries backwards), with a warning when it had to be raised."""
    first = serials.first_serial(policy, file_serial, wall)
    if served_floor is None or serials.compare(first, served_floor) is serials.Order.GREATER:
        return first, ()
    raised = serials.add(served_floor, 1)
    return raised, (ZoneProblem("serial-below-served", Severity.WARNING,
                                f"serial {first} is not above the last served serial {served_floor} "
                                f"(journal lost, damaged or behind): serving {raised}"),)


def _plan_reload(current: ZoneVersion | None, loaded, zone_cfg: ZoneConfig, clock: Clock,
                 signing: Signing | None, last_file_serial: int | None = None,
                 served_floor: int | None = None) -> ReloadPlan:
    """Load `zone_cfg.file` and plan the version that follows `current`.

    Raises ZoneRejected (file problems) or SerialError (the serial policy refuses the change).
    Identical content is a no-op: no new version, no serial bump (the `keep` policy compares the
    file's serial too, so raising only the serial in the file publishes a new version)."""
    candidate = loaded.version if isinstance(loaded, WireLoaded) else ZoneVersion(zone_cfg.name, loaded.rdatasets)
    warnings = tuple(loaded.warnings)
    if signing is not None:
        return _plan_signed(current, loaded, zone_cfg, clock, signing, warnings, served_floor)
    zone_text = zone_cfg.name.to_text(omit_final_dot=True)
    file_serial = candidate.serial
    policy = zone_cfg.serial
    unchanged = ReloadPlan(zone_text, current, None, None, warnings, file_serial)

    if current is None:
        first, raised = _first_serial(policy, file_serial, clock.wall(), served_floor)
        new = candidate if first == file_serial else candidate.with_serial(first)
        warnings += raised
        return ReloadPlan(zone_text, None, new, None, warnings, file_serial)

    signed = zone_signer.is_signed(current)
    # The memo's zone has `current`'s content (but maybe the apex SOA): it produced it, or a
    # reload found no change against it. Not so for a signed `current` (signatures, NSEC).
    differ = _differ(None if signed else loaded.touched, zone_cfg.name)
    if policy == "keep":
        if not signed and last_file_serial is not None and last_file_serial != current.serial:
            return _plan_keep_raised(current, candidate, zone_cfg, clock, warnings, last_file_serial, differ)
        changes = differ(current, candidate)
        if changes.is_empty():
            return unchanged
        if signed:
            return _plan_unsigning(current, candidate, zone_cfg, clock, warnings, last_file_serial)
        # Raises unless the file's serial went up (RFC 1982), naming the case.
        serials.next_serial(zone_text, policy, current.serial, file_serial, clock.wall())
        return ReloadPlan(zone_text, current, candidate, changes, warnings, file_serial)

    # The file's serial does not drive these policies: compare content as if it carried ours.
    if differ(current, candidate.with_serial(current.serial)).is_empty():
        return unchanged
    new_serial = serials.next_serial(zone_text, policy, current.serial, file_serial, clock.wall())
    new = candidate if new_serial == file_serial else candidate.with_serial(new_serial)
    return ReloadPlan(zone_text, current, new, differ(current, new), warnings, file_serial)


def _differ(touched: set | None, apex) -> Callable[[ZoneVersion, ZoneVersion], Diff]:
    """`diff`, or when the load knows which owners it touched, `diff_at` those and the apex
    (whose SOA a serial policy may change): what changed costs, not the zone's size."""
    if touched is None:
        return diff
    names = touched | {apex}
    return lambda a, b: diff_at(a, b, names)


def _plan_unsigning(current: ZoneVersion, candidate: ZoneVersion, zone_cfg: ZoneConfig, clock: Clock,
                    warnings: tuple, last_file_serial: int | None) -> ReloadPlan:
    """`dnssec:` removed from a zone served signed, under `keep`. The served serial moved on
    re-signs, so the file is compared with its own last serial, as while signed: dropping the
    signatures alone goes out as served + 1; an edit needs the file's serial to go up."""
    zone_text = zone_cfg.name.to_text(omit_final_dot=True)
    file_serial = candidate.serial
    last_file = current.serial if last_file_serial is None else last_file_serial
    edited = _file_edited(zone_signer.unsigned_changes(current, candidate), zone_cfg.name, current, candidate)
    new = candidate.with_serial(_keep_serial(zone_text, current, file_serial, last_file, edited, clock.wall()))
    return ReloadPlan(zone_text, current, new, diff(current, new), warnings, file_serial)


def _plan_keep_raised(current: ZoneVersion, candidate: ZoneVersion, zone_cfg: ZoneConfig, clock: Clock,
                      warnings: tuple, last_file: int, differ=diff) -> ReloadPlan:
    """`keep`, but the served serial is above the file's (raised over a lost journal's served
    serial): the file is compared with its own last serial, as for a signed zone, so an unchanged
    file stays a no-op and an edit needs the file's serial to go above its last one; the served
    serial is then max(file serial, served + 1) until the file's catches up."""
    zone_text = zone_cfg.name.to_text(omit_final_dot=True)
    file_serial = candidate.serial
    if file_serial == last_file and differ(current, candidate.with_serial(current.serial)).is_empty():
        return ReloadPlan(zone_text, current, None, None, warnings, file_serial)
    new = candidate.with_serial(_keep_serial(zone_text, current, file_serial, last_file, True, clock.wall()))
    return ReloadPlan(zone_text, current, new, differ(current, new), warnings, file_serial)


def _keep_serial(zone_text: str, current: ZoneVersion, file_serial: int, last_file: int, file_edited: bool,
                 wall: float) -> int:
    """The `keep` serial of a zone that is or was signed, whose served serial also moves on
    re-signs. A change only the signer makes (signing on or off, NSEC <-> NSEC3, keys) needs no
    file edit: served + 1, like a re-sign. Otherwise the file's serial must go above its own last
    one (SerialError naming the case), and the served serial is max(file serial, served + 1)."""
    if file_serial == last_file and not file_edited:
        return serials.add(current.serial, 1)
    try:
        serials.next_serial(zone_text, "keep", last_file, file_serial, wall)
    except SerialError as e:
        raise SerialError(zone_text, e.kind, last_file, file_serial, "file's last serial") from None
    return serials.at_least_next(file_serial, current.serial)


def _plan_signed(current, loaded, zone_cfg: ZoneConfig, clock: Clock, signing: Signing, warnings: tuple,
                 served_floor: int | None = None) -> ReloadPlan:
    """A signed zone's next version. The served serial follows the file's where it can and moves
    by one for each re-sign in between (as Knot does): under `keep`, a file edit needs a serial
    above the file's last one, and the served serial is max(file serial, last served + 1). What
    changed is found at the owners the load touched (every owner after a full read) and signed
    there alone (dnssec.wire_signer)."""
    zone_text = zone_cfg.name.to_text(omit_final_dot=True)
    if isinstance(loaded, WireLoaded):
        file_version, touched = loaded.version, loaded.touched
    else:  # the full loader's: records of the signer's types (a signed file) are ours to make
        nodes = {name: {key: rds for key, rds in node.items() if key[0] not in zone_signer.SIGNER_TYPES}
                 for name, node in loaded.rdatasets.items()}
        file_version, touched = WireVersion.from_nodes(zone_cfg.name, {n: node for n, node in nodes.items() if node}), None
    file_serial = file_version.serial
    policy = zone_cfg.serial
    wall = clock.wall()
    unsigned = wire_input.signer_input(file_version, signing.keys, signing.policy)
    dnssec = zone_cfg.dnssec
    room = None if dnssec is None else dnssec.refresh - dnssec.propagation_delay

    def sign(version: WireVersion, previous=None, changed=None):
        new, stats = wire_signer.sign_wire(version, signing.keys, signing.policy, int(wall), previous=previous,
                                           changed=changed, sign_batch=signing.sign_data)
        new.cache[TTL_ROOM] = room
        return new, stats

    if current is None:
        first, raised = _first_serial(policy, file_serial, wall, served_floor)
        new, stats = sign(unsigned.with_serial(first))
        return ReloadPlan(zone_text, None, new, None, warnings + raised, file_serial, stats)

    previous = current if isinstance(current, WireVersion) else WireVersion.from_nodes(current.origin, current.nodes())
    candidates = None
    if touched is not None and _unsigned_of(current) is not None:
        candidates = {wire_key(name) for name in touched} | {unsigned.apex_key}
    changes, operator_edit = wire_input.changed_owners(previous, unsigned, candidates)
    current.cache[TTL_ROOM] = room  # checked against it above (a no-op plan keeps `current`)
    resign_all = zone_signer.signing_mismatch(current, signing.keys, signing.policy) is not None
    soa_same = _same_soa_fields(current, unsigned)
    edited = bool(changes) or not soa_same or resign_all
    last_file = current.serial if signing.last_file_serial is None else signing.last_file_serial
    if policy == "keep":
        if not edited and file_serial == last_file:
            return ReloadPlan(zone_text, current, None, None, warnings, file_serial)
        new_serial = _keep_serial(zone_text, current, file_serial, last_file, operator_edit or not soa_same, wall)
    else:
        if not edited:
            return ReloadPlan(zone_text, current, None, None, warnings, file_serial)
        new_serial = serials.next_serial(zone_text, policy, current.serial, file_serial, wall)
    new, stats = sign(unsigned.with_serial(new_serial), previous, None if resign_all else changes)
    return ReloadPlan(zone_text, current, new, _signed_diff(current, new, stats), warnings, file_serial, stats)


def plan_resign(current: ZoneVersion, zone_cfg: ZoneConfig, clock: Clock, signing: Signing) -> ReloadPlan:
    return _indexed(_plan_resign(current, zone_cfg, clock, signing))


class SigningChanged(HiddenPrimaryError):
    """The re-sign timer found the zone's keys or denial settings changed since it was signed:
    only a reload (which rebuilds the apex records from the file) may take that in."""


def _plan_resign(current: ZoneVersion, zone_cfg: ZoneConfig, clock: Clock, signing: Signing) -> ReloadPlan:
    """The re-sign timer's plan: the same records with every signature that is due made afresh,
    under the next serial (keep: +1; other policies: their next value). No-op when nothing was due
    (only the SOA would have been signed)."""
    zone_text = zone_cfg.name.to_text(omit_final_dot=True)
    mismatch = zone_signer.signing_mismatch(current, signing.keys, signing.policy)
    if mismatch is not None:
        raise SigningChanged(f"zone {zone_text}: re-sign postponed: {mismatch}; "
                             "the next successful reload signs with the new settings")
    wall = clock.wall()
    policy = zone_cfg.serial
    new_serial = (serials.add(current.serial, 1) if policy == "keep"
                  else serials.next_serial(zone_text, policy, current.serial, current.serial, wall))
    if not isinstance(current, WireVersion):  # a version signed before the wire signer
        current = WireVersion.from_nodes(current.origin, current.nodes())
    unsigned = (_unsigned_of(current) or wire_input.strip(current)).with_serial(new_serial)
    new, stats = wire_signer.sign_wire(unsigned, signing.keys, signing.policy, int(wall), previous=current,
                                       changed=set(), sign_batch=signing.sign_data,
                                       refresh=wire_signer.REFRESH_SLICE)
    if TTL_ROOM in current.cache:
        new.cache[TTL_ROOM] = current.cache[TTL_ROOM]
    if stats.signed <= 1 and stats.denial_changed == 0:
        return ReloadPlan(zone_text, current, None, None, (), None, stats)
    return ReloadPlan(zone_text, current, new, _signed_diff(current, new, stats), (), None, stats)


def _signed_diff(current: ZoneVersion, new: ZoneVersion, stats: SignStats) -> Diff:
    """The journal entry: only at the owners signing touched when it knows them (O(changes))."""
    return diff(current, new) if stats.touched is None else diff_at(current, new, stats.touched)


def _file_edited(changes: set, origin, current: ZoneVersion, unsigned: ZoneVersion) -> bool:
    """Whether the operator's part of the zone changed (not only the records the signer adds)."""
    if not _same_soa_fields(current, unsigned):
        return True
    return any(name != origin or key[0] not in zone_signer.SIGNER_APEX_TYPES for name, key in changes)


def _same_soa_fields(a: ZoneVersion, b: ZoneVersion) -> bool:
    """The SOA RRsets are equal apart from the serial."""
    sa, sb = a.soa, b.soa
    return sa.ttl == sb.ttl and sa[0].replace(serial=0) == sb[0].replace(serial=0)

