"""plan_reload: read a zone file and decide what the next version is. Pure (no reactor, no
publishing): it runs in a worker thread and its result is published by the reactor thread."""

from __future__ import annotations

import dataclasses

from hiddenprimary.clock import Clock
from hiddenprimary.config import ZoneConfig
from hiddenprimary.errors import ZoneProblem
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone.diff import Diff, diff
from hiddenprimary.zone.load import load_zone
from hiddenprimary.zone.version import ZoneVersion


@dataclasses.dataclass(frozen=True)
class ReloadPlan:
    zone: str
    old: ZoneVersion | None
    new: ZoneVersion | None  # None: nothing changed, keep serving `old`
    diff: Diff | None  # None on a first load or when nothing changed
    warnings: tuple[ZoneProblem, ...]

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


def plan_reload(current: ZoneVersion | None, zone_cfg: ZoneConfig, clock: Clock) -> ReloadPlan:
    """Load `zone_cfg.file` and plan the version that follows `current`.

    Raises ZoneRejected (file problems) or SerialError (the serial policy refuses the change).
    Identical content is a no-op: no new version, no serial bump (the `keep` policy compares the
    file's serial too, so raising only the serial in the file publishes a new version)."""
    zone_text = zone_cfg.name.to_text(omit_final_dot=True)
    loaded = load_zone(zone_cfg.file, zone_cfg.name)
    candidate = ZoneVersion(zone_cfg.name, loaded.rdatasets)
    warnings = tuple(loaded.warnings)
    file_serial = candidate.serial
    policy = zone_cfg.serial

    if current is None:
        first = serials.first_serial(policy, file_serial, clock.wall())
        new = candidate if first == file_serial else candidate.with_serial(first)
        return ReloadPlan(zone_text, None, new, None, warnings)

    if policy == "keep":
        changes = diff(current, candidate)
        if changes.is_empty():
            return ReloadPlan(zone_text, current, None, None, warnings)
        # Raises unless the file's serial went up (RFC 1982), naming the case.
        serials.next_serial(zone_text, policy, current.serial, file_serial, clock.wall())
        return ReloadPlan(zone_text, current, candidate, changes, warnings)

    # The file's serial does not drive these policies: compare content as if it carried ours.
    if diff(current, candidate.with_serial(current.serial)).is_empty():
        return ReloadPlan(zone_text, current, None, None, warnings)
    new_serial = serials.next_serial(zone_text, policy, current.serial, file_serial, clock.wall())
    new = candidate if new_serial == file_serial else candidate.with_serial(new_serial)
    return ReloadPlan(zone_text, current, new, diff(current, new), warnings)
