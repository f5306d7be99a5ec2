"""Every change of what a zone serves, in one place: the restore at start, a reload of the zone
file (hpctl reload, SIGHUP) and the re-sign timer all go through `Reloader._run`:

1. wait for the zone's earlier events (one at a time per zone, `events.ZoneEvents`);
2. in a worker thread, the garbage collector paused (`gc_pause`): plan the next version
   (`plan.plan_reload` / `plan_resign`, or `commit.restore` from the journal) and make it
   durable (`commit.commit`);
3. on the reactor thread, `_publish`: swap the version into the store, call the listeners
   (NOTIFY, API sync), re-arm the re-sign timer, and hand back a `ReloadResult`.

A failure at step 2 publishes nothing: the zone keeps serving what it served. The Reloader owns
each zone's runtime state (`zone_state.ZoneState`); nothing else writes it."""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import threading
from collections.abc import Callable

import dns.name
from twisted.internet import defer, threads

from hiddenprimary import data_dir
from hiddenprimary.clock import Clock, utc_text
from hiddenprimary.config import Config
from hiddenprimary.dnssec import wire_signer, zone_signer
from hiddenprimary.errors import HiddenPrimaryError
from hiddenprimary.logs import event
from hiddenprimary.reload.commit import commit_many, restore
from hiddenprimary.reload.events import ZoneEvents
from hiddenprimary.reload import heap
from hiddenprimary.reload.gc_pause import gc_paused
from hiddenprimary.reload.journal import Journal, JournalInfo
from hiddenprimary.reload.journal_file import JournalFile
from hiddenprimary.reload.load_mark import LoadMark, load_context
from hiddenprimary.reload.plan import ReloadPlan, Signing, SigningChanged, plan_reload, plan_resign
from hiddenprimary.reload.result import ReloadResult
from hiddenprimary.reload.served_serials import ServedSerials
from hiddenprimary.reload.zone_state import ZoneState
from hiddenprimary.zone import wire_reload
from hiddenprimary.zone.catalog import write_catalog
from hiddenprimary.zone.source import ReadLimits, file_stats, files_digest
from hiddenprimary.zone.store import Store
from hiddenprimary.zone.version import ZoneVersion
from hiddenprimary.zone.wire_load import TextMemo
from hiddenprimary.zone.wire_version import WireVersion

log = logging.getLogger("hiddenprimary.reload")

RESIGN_RETRY_S = 60  # a failed re-sign is tried again after this
RESIGN_RETRY_NEEDS_RELOAD_S = 600  # ... or this, when only a reload can help (keys or denial changed)
RESIGN_CHECK_S = 86400.0  # the re-sign timer looks at least this often
# A zone file shorter than this keeps no text memo (zone.wire_reload): read whole, it reloads in a
# few ms, and 10,000 small zones would keep 10,000 memo files and their text.
MEMO_MIN_BYTES = 256 * 1024
# After a load of at least this many records, free heap pages go back to the system (malloc_trim
# walks the whole heap: ~1 ms each, too much for each of 10,000 small zones at start).
GIVE_BACK_RECORDS = 5000

Listener = Callable[[dns.name.Name, ZoneVersion], object]


def _zone_text(zone: dns.name.Name) -> str:
    return zone.to_text(omit_final_dot=True)


@dataclasses.dataclass(frozen=True)
class _Step:
    """What the worker thread of `_run` hands to `_publish`: the plan, already committed."""

    plan: ReloadPlan
    info: JournalInfo | None
    history: tuple | None = None  # the store's history after publishing; None: the store's + plan.diff
    retime: bool = False  # re-arm the re-sign timer from `expires`
    expires: int | None = None  # the earliest signature expiration of the version
    restored: _Restored | None = None
    file_stats: tuple | None = None  # (files, their stats taken before the load read them)
    commit: tuple | None = None  # (journal, plan, zone config) still to commit (`_Commits`)


@dataclasses.dataclass(frozen=True)
class _Restored:
    """What only a restore brings: the journal itself, the served-serial floor and the keys."""

    journal: Journal | None  # None: it could not be opened (see `problem`); nothing restored
    served_floor: int | None
    problem: str | None
    keys: tuple | None
    key_error: Exception | None


class Reloader:
    """Runs every reload of every configured zone and is the only writer of new versions."""

    def __init__(self, config: Config, reactor, clock: Clock, store: Store, reload_done: Callable[[str, float], None],
                 in_thread: Callable[..., defer.Deferred] = threads.deferToThread):
        self.config = config
        self.reactor = reactor
        self.clock = clock
        self.store = store
        self.listeners: list[Listener] = []  # called with (zone, version) after each publish
        self.zones = {z: ZoneState() for z in config.zones}
        self.events = ZoneEvents()
        self.served: ServedSerials | None = None
        # One journal file for every zone, its connection (and the served-serial file's) shared
        # by the worker threads under one lock.
        self._lock = threading.RLock()
        self.journals = JournalFile(config.data_dir, clock, config.limits.journal_lock_wait_s, self._lock)
        self._reload_done = reload_done  # metrics: (zone, seconds) of each reload and re-sign
        self._in_thread = in_thread  # tests run the worker step on the calling thread
        self._stopping = False
        self._commits = _Commits(lambda jobs: self._in_thread(lambda: commit_many(jobs, self.served)))

    # -- the entry points -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the served-serial record (before anything is served; JournalError: exit 1)."""
        # Its own lock: a batch of journal commits holds the journal's while it writes, and a
        # restore's look at its zone's floor need not wait for that.
        self.served = ServedSerials(self.config.data_dir, self.clock.wall(), threading.RLock())
        if self.served.problem is not None:
            event(log, "served_serial.corrupt", logging.ERROR, error=self.served.problem)

    def start(self) -> defer.Deferred:
        """Restore every zone's last committed version, then reload its file (a file edited while
        we were down is a reload like any other)."""
        for zone in self.config.zones:
            self.events.run(zone, lambda zone=zone: self._restore(zone))
        return self.reload(list(self.config.zones), retry_restore=False)  # each zone was just restored

    def reload(self, zones: list[dns.name.Name], retry_restore: bool = True) -> defer.Deferred:
        """Reload `zones`; fires with one ReloadResult per zone, in the order given. A zone whose
        journal could not be opened is restored first (the operator may have fixed it). Catalog
        zones go after the other zones: a secondary told of a new member finds it served."""
        catalogs = self.config.catalogs
        first = [z for z in zones if z not in catalogs]
        then = [z for z in zones if z in catalogs]

        def run(batch: list[dns.name.Name]) -> defer.Deferred:
            results: list = []
            waiting = []
            for z in batch:
                # A zone with no event running and files as its last load found them: its result
                # now (the same as the event's), without the event's machinery (10,000 zones).
                quick = self._unchanged_now(z) if self.events.idle(z) else None
                if quick is not None:
                    results.append(quick)
                else:
                    waiting.append((len(results), self.events.run(z, lambda z=z: self._reload_or_restore(z, retry_restore))))
                    results.append(None)
            if not waiting:
                return defer.succeed(results)

            def fill(done: list) -> list:
                for (i, _), result in zip(waiting, done):
                    results[i] = result
                return results

            return defer.gatherResults([d for _, d in waiting], consumeErrors=True).addCallback(fill)

        def in_order(first_results: list, then_results: list) -> list:
            by_zone = {**dict(zip(first, first_results)), **dict(zip(then, then_results))}
            return [by_zone[z] for z in zones]

        if not then:
            return run(first)
        return run(first).addCallback(lambda done: run(then).addCallback(lambda more: in_order(done, more)))

    def reconfigure(self, config: Config) -> tuple[list[dns.name.Name], list[dns.name.Name]]:
        """Take a re-read config (`hpctl reload`, SIGHUP): zones it adds get a fresh state (their
        first reload restores them from their journal, if one is on disk), zones it drops lose
        theirs once their running event is over (the journal closed, kept on disk). Events that
        start afterwards read the new zone configs. Returns (added, removed)."""
        added = [z for z in config.zones if z not in self.zones]
        removed = [z for z in self.zones if z not in config.zones]
        old, self.config = self.config, config
        for zone in added:
            self.zones[zone] = ZoneState()
        for zone, state in self.zones.items():
            if old.zones.get(zone) != config.zones.get(zone):
                state.file_stats = None  # other settings: the files are read again
        for zone in removed:
            state = self.zones.pop(zone)
            _cancel_resign(state)
            self.events.run(zone, lambda state=state: _close_journal(state))
        return added, removed

    def stop(self) -> None:
        """No new work: events still queued (a start of 10,000 zones) end at once, unpublished.
        The journal file stays open for the worker steps still running; `close` follows them."""
        self._stopping = True
        for state in self.zones.values():
            _cancel_resign(state)

    def close(self) -> None:
        """After the worker threads stopped (the reactor's shutdown)."""
        self.journals.close()

    # -- the one path ------------------------------------------------------------------------------

    def _run(self, zone: dns.name.Name, why: str, work: Callable[[], _Step]) -> defer.Deferred:
        """Run `work` (plan + commit) in a worker thread, then publish what it made; `why` is
        restore, reload or resign. Fires with a ReloadResult (None for a restore)."""
        started = self.clock.monotonic()
        state = self.zones[zone]

        def paused() -> _Step:
            if self._stopping:
                raise ShuttingDown("the server is stopping")
            with gc_paused():
                return work()

        def published(step: _Step) -> ReloadResult | None:
            if self.zones.get(zone) is not state:  # a config reload dropped the zone meanwhile
                return self._dropped(zone, step, why)
            return self._publish(zone, step, why, started)

        def failed(failure) -> ReloadResult | None:
            if self.zones.get(zone) is not state:
                return self._dropped(zone, None, why)
            return self._failed(zone, failure, why)

        def committed(step: _Step) -> defer.Deferred | _Step:
            if step.commit is None:
                return step
            d = self._commits.add(step.commit)
            return d.addCallback(lambda info: dataclasses.replace(step, info=info, commit=None))

        d = self._in_thread(paused)
        d.addCallback(committed)
        d.addCallbacks(published, failed)
        d.addErrback(self._publish_failed, zone, why)
        return d

    def _publish(self, zone: dns.name.Name, step: _Step, why: str, started: float) -> ReloadResult | None:
        state = self.zones[zone]
        plan = step.plan
        if step.restored is not None and not self._take_restored(zone, step.restored):
            return None
        if step.info is not None:
            state.journal_info = step.info
        if plan.file_serial is not None:
            state.file_serial = plan.file_serial
        if plan.memo is not None:
            state.load_memo = plan.memo
            if isinstance(plan.memo, TextMemo) and plan.memo.text is not None:
                if len(plan.memo.text) < MEMO_MIN_BYTES:
                    state.load_memo = None  # a small file is read whole again: no file, no memory
                else:
                    self._spill(zone, plan.memo)
        if plan.mark is not None:
            state.load_mark = plan.mark
        state.file_stats = step.file_stats
        if step.retime:
            self._schedule_resign(zone, step.expires)
        if plan.new is not None:
            history = step.history if step.history is not None else self._history_after(zone, plan, step.info)
            self.store.publish(zone, plan.new, history)
            # A zone version is many long-lived objects without cycles (freed by reference
            # counting when replaced): keep the cyclic collector from rescanning them all.
            gc.freeze()
            for listener in self.listeners:  # after publishing, never waited for
                listener(zone, plan.new)
        if why == "restore":
            if plan.new is not None:
                event(log, "zone.restored", zone=plan.zone, serial=plan.new.serial)
            return None
        took_ms = round((self.clock.monotonic() - started) * 1000, 1)
        self._reload_done(plan.zone, took_ms / 1000)
        result = ReloadResult.published(plan, took_ms)
        state.last = {"when": utc_text(self.clock.wall()), "ok": True, "error": None}
        for w in result.warnings:
            event(log, "zone.warning", logging.WARNING, zone=plan.zone, problem=w)
        event(log, f"{why}.ok" if plan.changed else f"{why}.unchanged", zone=plan.zone,
              serial=f"{_serial_text(plan.old_serial)}->{plan.new_serial}", added=result.added,
              removed=result.removed, signed=result.signatures_made, ms=took_ms)
        return result

    def _dropped(self, zone: dns.name.Name, step: _Step | None, why: str) -> ReloadResult | None:
        """The zone left the config while its event ran: nothing is published (what was
        committed stays in its journal, for the day it comes back)."""
        if step is not None and step.restored is not None and step.restored.journal is not None:
            step.restored.journal.close()  # opened for a state that is gone
        event(log, f"{why}.dropped", zone=_zone_text(zone), reason="no longer in the config")
        if why != "reload":
            return None
        return ReloadResult.rejected(_zone_text(zone), None, message="the zone is no longer in the config")

    def _unchanged_now(self, zone: dns.name.Name) -> ReloadResult | None:
        """The result of a reload of `zone` when its files are as the version's load found them
        (a stat per file, on this thread: no read, no hash, no worker), else None."""
        state = self.zones.get(zone)
        if state is None or state.file_stats is None or state.file_stats[1] is None or state.journal is None \
                or self._stopping or zone in self.config.catalogs:
            return None
        current = self.store.current(zone)
        if current is None or file_stats(state.file_stats[0]) != state.file_stats[1]:
            return None
        return self._unchanged(zone, current)

    def _unchanged(self, zone: dns.name.Name, current: ZoneVersion) -> ReloadResult:
        """A reload that found the zone's files as the last load left them (`file_stats`)."""
        state = self.zones[zone]
        mark = state.load_mark
        if state.text is None:
            state.text = _zone_text(zone)
        serial = current.serial
        result = ReloadResult(state.text, True, False, serial, serial, warnings=mark.warnings if mark is not None else ())
        state.last = {"when": utc_text(self.clock.wall()), "ok": True, "error": None}
        self._reload_done(result.zone, 0.0)
        # At debug: a reload of 10,000 untouched zones is no news, and each line cost as much as
        # the reload itself.
        if log.isEnabledFor(logging.DEBUG):
            event(log, "reload.unchanged", logging.DEBUG, zone=result.zone, serial=f"{serial}->{serial}", stat=True)
        return result

    def _take_restored(self, zone: dns.name.Name, restored: _Restored) -> bool:
        """Keep what a restore brought; False when the journal could not be opened."""
        state = self.zones[zone]
        state.served_floor = restored.served_floor
        if restored.keys is not None:
            state.keys = restored.keys
        if restored.key_error is not None:
            state.key_error = restored.key_error
        if restored.journal is None:  # locked or unreadable: nothing restored, nothing moved
            state.last = {"when": utc_text(self.clock.wall()), "ok": False, "error": restored.problem}
            return False
        state.journal = restored.journal
        if restored.problem:
            state.last = {"when": utc_text(self.clock.wall()), "ok": False, "error": restored.problem}
        return True

    def _history_after(self, zone: dns.name.Name, plan: ReloadPlan, info: JournalInfo) -> tuple:
        """The store's IXFR history once `plan` is published: what the journal now holds (it
        trims the oldest first), i.e. the newest `info.entries` diffs."""
        if plan.diff is None:
            return ()
        history = self.store.history(zone) + (plan.diff,)
        return history[len(history) - info.entries:] if info.entries else ()

    def _failed(self, zone: dns.name.Name, failure, why: str) -> ReloadResult | None:
        text = _zone_text(zone)
        if failure.check(ShuttingDown):  # not a problem of the zone: nothing to log or record
            return ReloadResult.rejected(text, self._serving(zone), failure) if why == "reload" else None
        state = self.zones[zone]
        if why == "restore":
            log.error("zone.restore_failed zone=%s error=%s", text, failure.getErrorMessage())
            state.last = {"when": utc_text(self.clock.wall()), "ok": False, "error": failure.getErrorMessage()}
            return None
        if why == "resign":
            event(log, "resign.failed", logging.ERROR, zone=text, error=failure.getErrorMessage())
            retry = RESIGN_RETRY_NEEDS_RELOAD_S if failure.check(SigningChanged) else RESIGN_RETRY_S
            self._schedule_resign(zone, int(self.clock.wall()) + self.config.zones[zone].dnssec.refresh + retry)
            return None
        return self._rejected(zone, ReloadResult.rejected(text, self._serving(zone), failure))

    def _rejected(self, zone: dns.name.Name, result: ReloadResult) -> ReloadResult:
        if result.crash is not None:
            log.error("reload.crashed zone=%s\n%s", result.zone, result.crash)
        for e in result.errors:
            event(log, "reload.rejected", logging.ERROR, zone=result.zone, serving=result.old_serial, problem=e)
        self.zones[zone].last = {"when": utc_text(self.clock.wall()), "ok": False,
                                 "error": result.errors[0] if result.errors else None}
        return result

    def _publish_failed(self, failure, zone: dns.name.Name, why: str) -> ReloadResult | None:
        """After the commit: log it, never leave it unhandled (the next event starts over)."""
        log.error("%s.publish_failed zone=%s\n%s", why, _zone_text(zone), failure.getTraceback())
        if why != "reload":
            return None
        return ReloadResult.rejected(_zone_text(zone), self._serving(zone), failure)

    def _serving(self, zone: dns.name.Name) -> int | None:
        current = self.store.current(zone)
        return None if current is None else current.serial

    # -- the three kinds of work (worker threads) ----------------------------------------------------

    def _restore(self, zone: dns.name.Name) -> defer.Deferred:
        def work() -> _Step:
            r = restore(self.journals, zone, self.clock, self.served)
            # Keys are made only for a zone never served signed (else its DS is already out).
            keys, key_error = self._load_keys(zone, create=not zone_signer.is_signed(r.version))
            signed = zone_signer.is_signed(r.version)
            plan = ReloadPlan(_zone_text(zone), None, r.version, None, (), file_serial=r.file_serial,
                              mark=r.load_mark, memo=self._memo_kept(zone, r.version, r.load_mark))
            return _Step(plan, r.info, history=r.history, retime=r.version is not None,
                         expires=(r.expires if r.expires is not None else _earliest_expiration(r.version))
                         if signed else None,
                         restored=_Restored(r.journal, r.served_floor, r.problem, keys, key_error))

        return self._run(zone, "restore", work)

    def _reload_or_restore(self, zone: dns.name.Name, retry_restore: bool) -> defer.Deferred:
        state = self.zones.get(zone)
        if state is None:  # dropped from the config while this event waited
            return defer.succeed(ReloadResult.rejected(_zone_text(zone), None,
                                                       message="the zone is no longer in the config"))
        if self._stopping:
            return defer.succeed(ReloadResult.rejected(_zone_text(zone), self._serving(zone),
                                                       message="the server is stopping"))
        if state.journal is not None or not retry_restore:
            return self._reload(zone)
        return self._restore(zone).addCallback(lambda _: self._reload(zone))

    def _reload(self, zone: dns.name.Name) -> defer.Deferred:
        zone_cfg = self.config.zones[zone]
        current = self.store.current(zone)
        state = self.zones[zone]
        journal = state.journal
        if journal is None:
            why = state.last.get("error") or "the zone's journal could not be opened"
            return defer.succeed(self._rejected(zone, ReloadResult.rejected(_zone_text(zone), self._serving(zone),
                                                                           message=why)))
        # Only a first version needs the floor: later ones follow `current`, which is above it.
        floor = state.served_floor if current is None else None
        catalog = self.config.catalogs.get(zone)
        quick = self._unchanged_now(zone)
        if quick is not None:
            return defer.succeed(quick)
        files = state.load_mark.files if state.load_mark is not None else (zone_cfg.file,)

        def work() -> _Step:  # parse, check, diff, sign, then the durable write
            if catalog is not None:  # its file is made from the config's members
                write_catalog(zone_cfg.file, catalog.name, catalog.members)
            before = file_stats(files)  # before reading: an edit made meanwhile shows next time
            plan = plan_reload(current, zone_cfg, self.clock, self._signing(zone), state.load_memo,
                               state.file_serial, served_floor=floor, limits=self._read_limits(),
                               mark=state.load_mark)
            if plan.new is not None and plan.new.rr_count >= GIVE_BACK_RECORDS:
                heap.give_back()  # what the load allocated and freed
            # A signing run (even one that changed nothing) knows the next due time.
            expires = None if plan.signed is None else plan.signed.earliest_expiration
            read = plan.mark is not None and plan.mark.files == files
            return _Step(plan, None, retime=plan.signed is not None, expires=expires,
                         file_stats=(files, before) if read else None, commit=(journal, plan, zone_cfg))

        return self._run(zone, "reload", work)

    def _memo_kept(self, zone: dns.name.Name, version, mark: LoadMark | None) -> TextMemo | None:
        """After a restart, the text memo the last run wrote, when it holds the bytes the restored
        version was loaded from (its load mark says which): the first reload then reads only
        what changed. Unsigned zones from one file only, as `zone.wire_reload` reads them."""
        zone_cfg = self.config.zones[zone]
        if (mark is None or zone_cfg.dnssec is not None or not isinstance(version, WireVersion)
                or mark.files != (zone_cfg.file,)):
            return None
        context = load_context(zone_cfg, None, self._read_limits())
        return wire_reload.memo_from_file(
            zone_cfg.file, zone_cfg.name, data_dir.text_memo_path(self.config.data_dir, zone),
            lambda sha256: files_digest([(zone_cfg.file, sha256)], context) == mark.digest)

    def _spill(self, zone: dns.name.Name, memo: TextMemo) -> None:
        """Write the text memo beside the journal, in a worker thread after publishing (a 1M-record
        zone's text takes ~0.1 s to write), then hold its pages' digests instead of the text,
        unless a newer memo came meanwhile. Not written: it stays in memory, and works as well."""
        path = data_dir.text_memo_path(self.config.data_dir, zone)

        def adopt(spilled: TextMemo) -> None:
            state = self.zones.get(zone)
            if state is not None and state.load_memo is memo:
                state.load_memo = spilled
                self._in_thread(heap.give_back)  # the text's pages, once no one holds them

        def failed(failure) -> None:
            event(log, "reload.memo_not_written", logging.WARNING, zone=_zone_text(zone),
                  error=failure.getErrorMessage())

        def spill() -> TextMemo:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            return wire_reload.spill(memo, path)

        d = self._in_thread(spill)
        d.addCallbacks(adopt, failed)

    def _resign(self, zone: dns.name.Name) -> defer.Deferred:
        zone_cfg = self.config.zones.get(zone)
        state = self.zones.get(zone)
        if zone_cfg is None or state is None:  # dropped from the config while this event waited
            return defer.succeed(None)
        current = self.store.current(zone)
        journal = state.journal
        if current is None or journal is None or zone_cfg.dnssec is None:
            return defer.succeed(None)

        def work() -> _Step:
            plan = plan_resign(current, zone_cfg, self.clock, self._signing(zone))
            return _Step(plan, None, retime=True, expires=plan.signed.earliest_expiration,
                         commit=(journal, plan, zone_cfg))

        return self._run(zone, "resign", work)

    def _read_limits(self) -> ReadLimits:
        """What one load may read, its deadline counted from now (the worker thread's start)."""
        limits = self.config.limits
        return ReadLimits(max_bytes=limits.max_zone_file_bytes, max_records=limits.max_zone_records,
                          include_roots=self.config.include_roots,
                          deadline=self.clock.monotonic() + limits.reload_timeout_s,
                          timeout_s=limits.reload_timeout_s, clock=self.clock)

    # -- signing ---------------------------------------------------------------------------------------

    def _load_keys(self, zone: dns.name.Name, create: bool = True) -> tuple[tuple | None, Exception | None]:
        """Load (or on first use create) a signed zone's keys: (keys, None) or (None, why)."""
        dnssec_cfg = self.config.zones[zone].dnssec
        if dnssec_cfg is None:
            return None, None
        from hiddenprimary.dnssec.keys import DnssecKeyError, load_or_create_keys  # signed zones only

        try:
            keys = load_or_create_keys(self.config.data_dir, zone, dnssec_cfg, self.clock.wall(), create)
        except DnssecKeyError as e:
            event(log, "dnssec.keys_failed", logging.ERROR, zone=_zone_text(zone), error=e)
            return None, e
        event(log, "dnssec.keys", zone=_zone_text(zone),
              keys=",".join(f"{k.role}:{k.key_tag}/{k.algorithm}" for k in keys))
        return tuple(keys), None

    def _signing(self, zone: dns.name.Name) -> Signing | None:
        """What plan_reload needs to sign `zone`; None for an unsigned zone. Raises DnssecKeyError
        when the zone should be signed but its keys could not be loaded."""
        dnssec_cfg = self.config.zones[zone].dnssec
        if dnssec_cfg is None:
            return None
        # Signing pulls in cryptography, dns.dnssec, multiprocessing (~15 MiB, ~25 ms of a start):
        # only for signed zones.
        from hiddenprimary.dnssec.keys import DnssecKeyError
        from hiddenprimary.dnssec.parallel import ParallelSigner

        state = self.zones[zone]
        if state.keys is None:
            raise state.key_error or DnssecKeyError(self.config.data_dir, "the zone's keys are not loaded")
        return Signing(state.keys, zone_signer.SigningPolicy.from_config(dnssec_cfg), state.file_serial,
                       sign_data=ParallelSigner().batch)

    def _schedule_resign(self, zone: dns.name.Name, earliest_expiration: int | None) -> None:
        """Arm the re-sign timer `refresh` before the zone's earliest signature expires."""
        dnssec_cfg = self.config.zones[zone].dnssec
        state = self.zones[zone]
        pending, state.resign_call = state.resign_call, None
        if pending is not None and pending.active():
            pending.cancel()
        if dnssec_cfg is None or earliest_expiration is None:
            state.resign_at = None
            return
        due = earliest_expiration - dnssec_cfg.refresh
        state.resign_at = due
        delay = min(max(1.0, due - self.clock.wall()), RESIGN_CHECK_S)
        state.resign_call = self.reactor.callLater(delay, self._resign_timer, zone)

    def _resign_timer(self, zone: dns.name.Name) -> None:
        self.zones[zone].resign_call = None
        self.events.run(zone, lambda: self._resign(zone))


class _Commits:
    """Group commit: plans whose worker step finished while a commit ran wait for it, then go in
    together, one transaction (and one fsync) for all of them (`commit.commit_many`): a first
    start of 2,000 zones made 4,000 fsyncs one after the other. One commit job at a time."""

    MAX_BATCH = 500  # zones per transaction: a batch holds the journal's lock while it writes

    def __init__(self, run: Callable[[list], defer.Deferred]):
        self._run = run  # jobs -> Deferred of one result per job (JournalInfo or JournalError)
        self._pending: list[tuple[tuple, defer.Deferred]] = []
        self._running = False

    def add(self, job: tuple) -> defer.Deferred:
        """Fires with the zone's JournalInfo once its plan is durable (or fails with the error)."""
        d = defer.Deferred()
        self._pending.append((job, d))
        self._next()
        return d

    def _next(self) -> None:
        if self._running or not self._pending:
            return
        batch, self._pending = self._pending[:self.MAX_BATCH], self._pending[self.MAX_BATCH:]
        self._running = True

        def done(results: list) -> None:
            self._running = False
            for (_, d), result in zip(batch, results):
                if isinstance(result, BaseException):
                    d.errback(result)
                else:
                    d.callback(result)
            self._next()

        def crashed(failure) -> None:
            self._running = False
            for _, d in batch:
                d.errback(failure)
            self._next()

        self._run([job for job, _ in batch]).addCallbacks(done, crashed)


class ShuttingDown(HiddenPrimaryError):
    """A worker step that had not started when the server began to stop."""


def _cancel_resign(state: ZoneState) -> None:
    if state.resign_call is not None and state.resign_call.active():
        state.resign_call.cancel()
    state.resign_call = None


def _close_journal(state: ZoneState) -> None:
    """A dropped zone's journal, after its last event: closed, kept on disk."""
    if state.journal is not None:
        state.journal.close()
        state.journal = None


def _earliest_expiration(version) -> int | None:
    if isinstance(version, WireVersion):
        return wire_signer.earliest_expiration(version)
    return zone_signer.earliest_expiration(version)


def _serial_text(serial: int | None) -> str:
    return "none" if serial is None else str(serial)
