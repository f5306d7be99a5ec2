"""Durable before visible: restore a zone's last committed version from its journal at start,
and commit a reload plan to the journal before the daemon publishes it. Runs in worker threads
(sqlite writes fsync); the daemon swaps the version in on the reactor thread afterwards."""

from __future__ import annotations

import dataclasses
import logging
import os

import dns.name

from hiddenprimary.clock import Clock
from hiddenprimary.config import ZoneConfig
from hiddenprimary.dnssec import denial
from hiddenprimary.journal import Journal, JournalCorrupt, JournalInfo, journal_path
from hiddenprimary.logs import event
from hiddenprimary.reload import ReloadPlan
from hiddenprimary.zone.version import ZoneVersion

log = logging.getLogger("hiddenprimary.commit")


@dataclasses.dataclass
class Restored:
    journal: Journal
    version: ZoneVersion | None  # the last committed version, None when there is none
    info: JournalInfo
    history: tuple  # the journal's diffs, oldest first (what IXFR can serve)
    problem: str | None  # why the saved state could not be used, if it could not
    file_serial: int | None = None  # the zone file's serial at the last committed load


def _fault(point: str) -> None:
    """Crash-test hook: HIDDENPRIMARY_FAULT=<point> makes the process die right here."""
    if os.environ.get("HIDDENPRIMARY_FAULT") == point:
        os._exit(99)


def restore(data_dir: str, zone: dns.name.Name, clock: Clock) -> Restored:
    """Open the zone's journal and rebuild its last committed version. A damaged journal is moved
    aside (never deleted: it may hold the only copy of history) and a fresh one started."""
    path = journal_path(data_dir, zone)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        journal = Journal(path, zone)
        version = journal.load()
        if version is not None:
            denial.prepare(version)  # the proof index, here rather than on the reactor thread
        history = tuple(journal.diffs()) if version is not None else ()
        return Restored(journal, version, journal.info(), history, None, journal.file_serial())
    except JournalCorrupt as e:
        aside = f"{path}.corrupt-{int(clock.wall())}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.replace(path + suffix, aside + suffix)
        event(log, "journal.corrupt", logging.ERROR, zone=zone, error=e, moved_to=aside)
        journal = Journal(path, zone)
        return Restored(journal, None, journal.info(), (), f"{e}; moved to {aside}")


def commit(journal: Journal, plan: ReloadPlan, zone_cfg: ZoneConfig) -> JournalInfo:
    """Make `plan` durable. After this returns, a crash restarts with `plan.new`."""
    if plan.new is not None:
        _fault("journal.before_commit")
        if plan.diff is None:
            journal.save_first(plan.new, plan.file_serial)
        else:
            journal.append(plan.diff, plan.new, max_entries=zone_cfg.journal_max_entries,
                           max_bytes=zone_cfg.journal_max_bytes, file_serial=plan.file_serial)
        _fault("journal.after_commit")
    return journal.info()
