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
from hiddenprimary.reload.journal import Journal, JournalCorrupt, JournalError, JournalInfo, JournalUnavailable, journal_path
from hiddenprimary.reload.journal_file import JournalFile, move_aside
from hiddenprimary.logs import event
from hiddenprimary.reload.load_mark import LoadMark
from hiddenprimary.reload.plan import ReloadPlan
from hiddenprimary.reload.served_serials import ServedSerials
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone.version import ZoneVersion

log = logging.getLogger("hiddenprimary.commit")


@dataclasses.dataclass
class Restored:
    journal: Journal | None  # None: the journal could not be opened (see `problem`); nothing moved
    version: ZoneVersion | None  # the last committed version, None when there is none
    info: JournalInfo | None
    history: tuple  # the journal's diffs, oldest first (what IXFR can serve)
    problem: str | None  # why the saved state could not be used, if it could not
    file_serial: int | None = None  # the zone file's serial at the last committed load
    served_floor: int | None = None  # the highest serial ever served: the next must be above it
    load_mark: LoadMark | None = None  # what the load of the last committed version read
    expires: int | None = None  # the earliest signature expiration the journal recorded with it


def _fault(point: str) -> None:
    """Crash-test hook: HIDDENPRIMARY_FAULT=<point> makes the process die right here."""
    if os.environ.get("HIDDENPRIMARY_FAULT") == point:
        os._exit(99)


def restore(journals: JournalFile, zone: dns.name.Name, clock: Clock, served: ServedSerials) -> Restored:
    """Open the zone's journal and rebuild its last committed version.

    A zone whose journal is damaged has it moved aside (into a file of its own, never deleted:
    it may hold the only copy of history) and starts a fresh one; a journal file that is locked
    past the wait or cannot be opened is left untouched and nothing is restored (the zone answers
    SERVFAIL until a reload opens it). A journal older than a serial already served (a backup put
    back) would send the zone backwards: it is moved aside too, and the next load starts above
    the served serial."""
    try:
        floor = served.get(zone)
    except JournalError as e:
        event(log, "served_serial.unreadable", logging.ERROR, zone=zone, error=e)
        return Restored(None, None, None, (), str(e))
    journal = None
    try:
        journal, _ = journals.journal(zone)
        saved = journal.read_all()
        version, file_serial, expires, history, info = (saved.version, saved.file_serial, saved.expires,
                                                        saved.history, saved.info)
        load_mark = LoadMark.from_text(saved.load_mark)
    except JournalUnavailable as e:
        event(log, "journal.unavailable", logging.ERROR, zone=zone, error=e)
        return Restored(None, None, None, (), str(e))
    except JournalCorrupt as e:
        aside = _move_aside(journals, journal, zone, "corrupt", clock)
        event(log, "journal.corrupt", logging.ERROR, zone=zone, error=e, moved_to=aside, served_serial=floor)
        journal, _ = journals.journal(zone)
        return Restored(journal, None, journal.info(), (), f"{e}; moved to {aside}", served_floor=floor)
    if version is None and floor is not None and journals.moved_aside is not None:
        # Served before, and its journal was in the file found damaged (moved aside whole).
        event(log, "journal.corrupt", logging.ERROR, zone=zone, error=journals.moved_aside, served_serial=floor)
        return Restored(journal, None, info, (), journals.moved_aside, served_floor=floor)
    if version is not None and floor is not None and serials.compare(version.serial, floor) is serials.Order.LESS:
        aside = _move_aside(journals, journal, zone, "behind", clock)
        problem = (f"{journals.path}: the journal's serial {version.serial} of {zone} is below the served "
                   f"serial {floor} (an older copy?); moved to {aside}, the zone file is loaded above {floor}")
        event(log, "journal.behind", logging.ERROR, zone=zone, journal_serial=version.serial, served_serial=floor,
              moved_to=aside)
        return Restored(journal, None, journal.info(), (), problem, None, floor)
    if version is not None:
        _record_served(served, zone, version.serial)  # a crash between commit and record, or an old data_dir
        denial.prepare(version)  # the proof index, here rather than on the reactor thread
    return Restored(journal, version, info, history, None, file_serial, floor, load_mark, expires)


def _move_aside(journals: JournalFile, journal: Journal | None, zone: dns.name.Name, why: str, clock: Clock) -> str:
    """The zone's journal to `zones/<zone>.journal.<why>-<time>`: its rows copied out of the shared
    file (then dropped there), or, when it failed to import, its file of schema 1 renamed."""
    path = journal_path(journals.data_dir, zone)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if journal is None:
        return move_aside(path, why, clock)
    aside = f"{path}.{why}-{int(clock.wall())}"
    journal.move_aside(aside)
    return aside


def _record_served(served: ServedSerials, zone: dns.name.Name, serial: int) -> None:
    """Raise the served-serial floor; a failure is logged, not fatal: the journal, already
    committed, is what a restart restores, and it holds this serial too."""
    _record_served_many(served, [(zone, serial)])


def _record_served_many(served: ServedSerials, serials_of: list[tuple[dns.name.Name, int]]) -> None:
    try:
        served.record_many(serials_of)
    except JournalError as e:
        for zone, serial in serials_of:
            event(log, "served_serial.not_recorded", logging.ERROR, zone=zone, serial=serial, error=e)


def commit(journal: Journal, plan: ReloadPlan, zone_cfg: ZoneConfig, served: ServedSerials) -> JournalInfo:
    """Make `plan` durable. After this returns, a crash restarts with `plan.new`."""
    if plan.new is not None:
        _fault("journal.before_commit")
    _write(journal, plan, zone_cfg)
    if plan.new is not None:
        _fault("journal.after_commit")
        # After the journal, before publishing: a failed commit never raises the floor above what
        # is served, and what is published is always covered by the floor or the journal.
        _record_served(served, zone_cfg.name, plan.new.serial)
    return journal.info()


Job = tuple[Journal, ReloadPlan, ZoneConfig]


def commit_many(jobs: list[Job], served: ServedSerials) -> list[JournalInfo | JournalError]:
    """`commit` of several zones' plans in one journal transaction and one served-serial
    transaction: two fsyncs for the lot instead of two per zone (a first start of 10,000 zones).
    Each item of the result is that zone's JournalInfo, or the JournalError its commit raised:
    when the batch fails, each plan is committed on its own, so a zone's problem stays its own."""
    stores = {id(journal.store) for journal, _, _ in jobs}
    if len(jobs) > 1 and len(stores) == 1:
        writing = any(plan.new is not None for _, plan, _ in jobs)
        if writing:
            _fault("journal.before_commit")
        try:
            with jobs[0][0].store.transaction():
                for job in jobs:
                    _write(*job)
        except JournalError:
            pass  # one by one, below: which one failed, and the others still go in
        else:
            if writing:
                _fault("journal.after_commit")
                _record_served_many(served, [(cfg.name, plan.new.serial) for _, plan, cfg in jobs
                                             if plan.new is not None])
            return [journal.info() for journal, _, _ in jobs]
    return [_one(job, served) for job in jobs]


def _one(job: Job, served: ServedSerials) -> JournalInfo | JournalError:
    try:
        return commit(*job, served)
    except JournalError as e:
        return e


def _write(journal: Journal, plan: ReloadPlan, zone_cfg: ZoneConfig) -> None:
    """The journal's part of a commit (in the caller's transaction, if any)."""
    mark = None if plan.mark is None else plan.mark.to_text()
    if plan.new is not None:
        expires = None if plan.signed is None else plan.signed.earliest_expiration
        if plan.diff is None:
            journal.save_first(plan.new, plan.file_serial, mark, expires)
        else:
            journal.append(plan.diff, plan.new, max_entries=zone_cfg.journal_max_entries,
                           max_bytes=zone_cfg.journal_max_bytes, file_serial=plan.file_serial, load_mark=mark,
                           expires=expires)
    elif mark is not None and mark != journal.load_mark():
        journal.save_load_mark(mark)  # same version, other bytes read (a comment edited)
