"""API secondaries (Route 53): push every published version of a zone over the provider's API.

The daemon calls `zone_changed` after each publish (and after the restore at start). Per (zone, API
secondary) one sync runs at a time, on this module's own small thread pool: provider calls block
(HTTP, backoff sleeps, waiting for INSYNC), so they never run on the reactor and never hold up a
reload or a transfer. A version published while a sync runs is taken by the next one (newest
wins: intermediate versions are folded into one plan).

A sync brings the provider from the last serial applied there (`api_state`, survives restarts) to
the current version:
- the first time, or after a failed sync (the provider may hold part of a plan, or someone edited
  the hosted zone): read the hosted zone, plan against our version, apply;
- else from the journal's diffs since that serial (`Store.history`, the same range as the journal
  on disk), translated into a plan touching only the RRsets they changed; when the history no
  longer reaches back, re-plan from a read as above.
Throttling is retried inside the provider; anything else that fails is recorded with the provider's
message and the RRsets concerned, the secondary shows as behind, and the sync is tried again after
the secondary's `retry_s` intervals (a timer; a new version tries at once).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading

import dns.name
import dns.rdatatype
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from twisted.internet import defer, threads
from twisted.python.threadpool import ThreadPool

from hiddenprimary.clock import Clock
from hiddenprimary.config import Config, Secondary
from hiddenprimary.errors import HiddenPrimaryError, UsageError
from hiddenprimary.logs import event
from hiddenprimary.metrics import counter_family
from hiddenprimary.net.pools import LazyPool
from hiddenprimary.providers import api_report
from hiddenprimary.providers.api_state import ApiState, PairState
from hiddenprimary.providers.base import ApplyStats, Plan, Provider, RRsetKey, name_text
from hiddenprimary.providers.incremental import DiffsDoNotFit, chain, plan_from_diffs
from hiddenprimary.providers.registry import make_provider, target_text
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone.version import ZoneVersion

log = logging.getLogger("hiddenprimary.api")

POOL_THREADS = 2


class _Stopping(Exception):
    """The daemon is stopping: a backoff or INSYNC wait was cut short."""


class _Pair:
    """One zone fed to one API secondary."""

    def __init__(self, zone: dns.name.Name, secondary: Secondary, state: PairState):
        self.zone = zone
        self.zone_text = zone.to_text(omit_final_dot=True)
        self.secondary = secondary.name
        self.api = secondary.api
        self.state = state
        self.running = False
        self.pending = False  # a newer version arrived while a sync ran
        self.retry = None  # IDelayedCall of the next try after a failure
        self.full_next = state.error is not None  # re-plan from a read (after a failure, even across a restart)
        self.skipped: dict[RRsetKey, str] | None = None  # what the provider owns or refuses; None: not known yet


@dataclasses.dataclass
class _Outcome:
    serial: int
    mode: str | None = None  # None: nothing to do (the provider already holds this serial)
    why: str | None = None
    plan: Plan | None = None
    stats: ApplyStats | None = None
    seconds: float = 0.0
    error: dict | None = None
    skipped: dict[RRsetKey, str] | None = None


class ApiSync:
    def __init__(self, config: Config, reactor, clock: Clock, store):
        self.config = config
        self.reactor = reactor
        self.clock = clock
        self.store = store
        self.pairs: dict[tuple[dns.name.Name, str], _Pair] = {}
        self._providers: dict[str, Provider] = {}
        self._providers_lock = threading.Lock()
        self._stop = threading.Event()
        self._pool: ThreadPool | None = None
        # `hpctl plan` and `check` read hosted zones on their own threads: never behind a long sync.
        self._check_pool = LazyPool(reactor, "api-check", 2)
        self._state: ApiState | None = None
        self.errors: dict[tuple[str, str, str], int] = {}  # (zone, secondary, code) -> count
        self.changes: dict[tuple[str, str, str], int] = {}  # (zone, secondary, action) -> RRsets
        self.syncs: dict[tuple[str, str, str], int] = {}  # (zone, secondary, mode) -> count

    def _api_secondaries(self, zone: dns.name.Name) -> list[Secondary]:
        return [self.config.secondaries[name] for name in self.config.zones[zone].secondaries
                if self.config.secondaries[name].api is not None]

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._add_pairs([(zone, sec) for zone in self.config.zones for sec in self._api_secondaries(zone)])

    def _add_pairs(self, pairs: list[tuple[dns.name.Name, Secondary]]) -> None:
        if not pairs:
            return  # no API secondaries: no state file, no threads
        if self._state is None:
            self._state = ApiState(self.config.data_dir)
            self._pool = ThreadPool(0, POOL_THREADS, name="api-sync")
            self._pool.start()
            self.reactor.addSystemEventTrigger("during", "shutdown", self._pool.stop)
        saved = self._state.load()
        for zone, sec in pairs:
            state = saved.get((zone.to_text(omit_final_dot=True), sec.name), PairState())
            self.pairs[(zone, sec.name)] = _Pair(zone, sec, state)

    def reconfigure(self, config: Config) -> list[tuple[dns.name.Name, str]]:
        """Take a re-read config: pairs of zones or secondaries that left it stop (a sync running
        finishes, its result saved), a secondary whose API settings changed starts over with a
        new client (its saved state kept), new pairs are set up. Returns the new pairs, which
        sync when their zone publishes (a zone already served: now)."""
        self.config = config
        wanted = {(zone, sec.name): sec for zone in config.zones for sec in self._api_secondaries(zone)}
        for key, pair in list(self.pairs.items()):
            if wanted.get(key) is None or wanted[key].api != pair.api:
                if pair.retry is not None and pair.retry.active():
                    pair.retry.cancel()
                del self.pairs[key]
        with self._providers_lock:
            for name in list(self._providers):
                sec = config.secondaries.get(name)
                if sec is None or not any(p.secondary == name and p.api == sec.api for p in self.pairs.values()):
                    del self._providers[name]
        added = [(zone, sec) for (zone, name), sec in wanted.items() if (zone, name) not in self.pairs]
        self._add_pairs(added)
        for zone, sec in added:
            self._kick(self.pairs[(zone, sec.name)])
        return [(zone, sec.name) for zone, sec in added]

    def stop(self) -> None:
        self._stop.set()  # cuts backoff and INSYNC waits short
        for pair in self.pairs.values():
            if pair.retry is not None and pair.retry.active():
                pair.retry.cancel()

    # -- syncing ---------------------------------------------------------------------------------

    def zone_changed(self, zone: dns.name.Name, version: ZoneVersion | None = None) -> None:
        """A new version of `zone` is published: bring its API secondaries to it."""
        for (z, _), pair in self.pairs.items():
            if z == zone:
                self._kick(pair)

    def _kick(self, pair: _Pair) -> None:
        if self._stop.is_set() or self._pool is None:
            return
        if self.pairs.get((pair.zone, pair.secondary)) is not pair:
            return  # a config reload dropped it
        if pair.running:
            pair.pending = True
            return
        if pair.retry is not None and pair.retry.active():
            pair.retry.cancel()  # a new version is worth trying now
        pair.retry = None
        version = self.store.current(pair.zone)
        if version is None:
            return
        history = self.store.history(pair.zone)
        pair.running, pair.pending = True, False
        d = threads.deferToThreadPool(self.reactor, self._pool, self._sync, pair, version, history,
                                      pair.state.serial, pair.full_next, pair.skipped)
        d.addErrback(self._crashed, pair, version)
        d.addCallback(self._done, pair)

    def _sync(self, pair: _Pair, version: ZoneVersion, history, applied: int | None, full: bool,
              skipped: dict[RRsetKey, str] | None) -> _Outcome | None:
        """In a worker thread: plan and apply, return what happened (never raises but _Stopping)."""
        started = self.clock.monotonic()
        out = _Outcome(serial=version.serial)
        provider = None
        try:
            provider = self._provider(pair)
            steps = None if applied is None or full else chain(history, applied, version.serial)
            if steps == []:
                return out  # the provider holds this serial already
            plan = None
            if steps is not None:
                try:
                    plan = plan_from_diffs(provider, steps, version)
                    out.mode = "incremental"
                except DiffsDoNotFit as e:
                    out.why = str(e)
            if plan is None:
                out.mode = "full"
                out.why = out.why or ("first sync" if applied is None else "after a failed sync" if full
                                      else f"the journal no longer reaches back to serial {applied}")
                plan = provider.plan(name_text(pair.zone), version)  # reads the hosted zone
            out.plan = plan
            out.skipped = self._skipped_after(provider, plan, version, skipped, out.mode == "full")
            out.stats = provider.apply(plan) if not plan.is_empty() else ApplyStats()
        except _Stopping:
            return None
        except Exception as e:  # noqa: BLE001 - every failure is recorded and retried, never lost
            out.error = _error(e)
            if not isinstance(e, (provider or Provider).known_errors):
                log.exception("api.sync.crashed zone=%s secondary=%s", pair.zone_text, pair.secondary)
        out.seconds = round(self.clock.monotonic() - started, 3)
        return out

    def _skipped_after(self, provider: Provider, plan: Plan, version: ZoneVersion,
                       before: dict[RRsetKey, str] | None, full: bool) -> dict[RRsetKey, str]:
        """What the provider owns or refuses in `version`: the whole list from a full plan, the
        previous list updated with the RRsets the diffs touched from an incremental one."""
        if full or before is None:
            if full:
                return {(s.name, s.rdtype): s.reason for s in plan.skipped}
            return {(s.name, s.rdtype): s.reason for s in provider.desired(version)[1]}
        after = dict(before)
        for s in plan.skipped:
            name = dns.name.from_text(s.name)
            if any(dns.rdatatype.to_text(k[0]) == s.rdtype for k in version.node(name)):
                after[(s.name, s.rdtype)] = s.reason
            else:
                after.pop((s.name, s.rdtype), None)
        return after

    def _provider(self, pair: _Pair) -> Provider:
        with self._providers_lock:
            provider = self._providers.get(pair.secondary)
            if provider is None:
                provider = make_provider(pair.api, sleep=self._sleep)
                self._providers[pair.secondary] = provider
            return provider

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopping()

    def _crashed(self, failure, pair: _Pair, version: ZoneVersion) -> _Outcome:
        log.error("api.sync.crashed zone=%s secondary=%s\n%s", pair.zone_text, pair.secondary,
                  failure.getTraceback())
        return _Outcome(serial=version.serial, error={"message": f"internal error: {failure.getErrorMessage()}",
                                                      "code": "internal", "rrsets": []})

    def _done(self, out: _Outcome | None, pair: _Pair) -> None:
        """On the reactor thread: record the outcome, then go on (newest version) or retry later."""
        pair.running = False
        if out is None:
            return
        st, now = pair.state, self.clock.wall()
        if self._stop.is_set():
            # Shutting down: start nothing new, but remember a sync that went through, so the
            # next start does not replay diffs the provider already holds (it would reject them).
            if out.error is None and st.serial != out.serial:
                st.serial, st.applied_at, st.error, st.failures = out.serial, now, None, 0
                self._save(pair)
            return
        who = {"zone": pair.zone_text, "secondary": pair.secondary}
        if out.skipped is not None:
            self._note_skipped(pair, out.skipped)
        if out.error is None:
            if out.mode is not None:
                counts = out.plan.counts
                st.last_sync = {"mode": out.mode, "why": out.why, "serial": out.serial, "deletes": counts["deletes"],
                                "upserts": counts["upserts"], "creates": counts["creates"],
                                "requests": out.stats.requests, "attempts": out.stats.attempts,
                                "seconds": out.seconds, "at": now}
                for action in ("deletes", "upserts", "creates"):
                    key = (pair.zone_text, pair.secondary, action)
                    self.changes[key] = self.changes.get(key, 0) + counts[action]
                key = (pair.zone_text, pair.secondary, out.mode)
                self.syncs[key] = self.syncs.get(key, 0) + 1
                event(log, "api.sync.ok", **who, serial=f"{_text(st.serial)}->{out.serial}", mode=out.mode,
                      why=out.why, deleted=counts["deletes"], upserted=counts["upserts"], created=counts["creates"],
                      requests=out.stats.requests, retries=out.stats.retries, seconds=out.seconds)
            if st.serial != out.serial:
                st.applied_at = now
            st.serial, st.error, st.failures = out.serial, None, 0
            pair.full_next = False
            self._save(pair)
            current = self.store.current(pair.zone)
            if pair.pending or (current is not None and current.serial != st.serial):
                self._kick(pair)
            return
        st.error = {**out.error, "at": now, "serial": out.serial}
        st.failures += 1
        pair.full_next = True
        key = (pair.zone_text, pair.secondary, out.error.get("code") or "error")
        self.errors[key] = self.errors.get(key, 0) + 1
        retry_s = pair.api.retry_s
        delay = retry_s[min(st.failures, len(retry_s)) - 1] * random.uniform(0.9, 1.1)
        pair.retry = self.reactor.callLater(delay, self._retry, pair)
        rrsets = out.error.get("rrsets") or []
        event(log, "api.sync.failed", logging.ERROR, **who, serial=f"{_text(st.serial)}->{out.serial}",
              mode=out.mode, error=out.error["message"], code=out.error.get("code"),
              rrsets=",".join(f"{a}:{n}/{t}" for n, t, a in rrsets[:10]) or None, failures=st.failures,
              retry_in_s=round(delay, 1))
        self._save(pair)

    def _retry(self, pair: _Pair) -> None:
        pair.retry = None
        self._kick(pair)

    def _note_skipped(self, pair: _Pair, skipped: dict[RRsetKey, str]) -> None:
        """Log what the provider owns or refuses once (when it first appears), not at every sync."""
        new = sorted(set(skipped.items()) - set((pair.skipped or {}).items()))
        pair.skipped = skipped
        pair.state.skipped = api_report.skipped_summary(skipped)
        by_reason: dict[str, list[RRsetKey]] = {}
        for key, reason in new:
            by_reason.setdefault(reason, []).append(key)
        for reason, keys in by_reason.items():
            event(log, "api.skipped", logging.WARNING if reason == "unsupported-type" else logging.INFO,
                  zone=pair.zone_text, secondary=pair.secondary, reason=reason, count=len(keys),
                  rrsets=",".join(f"{n}/{t}" for n, t in keys[:10]) + (",..." if len(keys) > 10 else ""))

    def _save(self, pair: _Pair) -> None:
        try:
            self._state.save(pair.zone_text, pair.secondary, pair.state)
        except Exception as e:  # noqa: BLE001 - bookkeeping must never break syncing
            event(log, "api.state.write_failed", logging.WARNING, error=e)

    # -- status, plan, check, metrics --------------------------------------------------------------

    def _target(self, pair: _Pair) -> str:
        provider = self._providers.get(pair.secondary)
        known = pair.api.hosted_zone(pair.zone) or (
            getattr(provider, "hosted_zones", {}).get(name_text(pair.zone)) if provider else None)
        return target_text(pair.api, known)

    def status(self, zone: dns.name.Name, name: str) -> dict:
        pair = self.pairs[(zone, name)]
        st = pair.state
        version = self.store.current(zone)
        lag = behind = None
        if version is not None:
            if st.serial is not None:
                lag = serials.lag(version.serial, st.serial)
            behind = st.serial != version.serial or st.error is not None
        retry_in = None
        if pair.retry is not None and pair.retry.active():
            retry_in = max(0.0, pair.retry.getTime() - self.reactor.seconds())
        return {"secondary": name, "kind": "api", "api": pair.api.kind, "target": self._target(pair),
                "serial": st.serial, "applied_at": st.applied_at, "behind": behind, "lag": lag,
                "syncing": pair.running, "last_sync": st.last_sync, "error": st.error, "failures": st.failures,
                "retry_in_s": retry_in, "skipped": st.skipped}

    def plan(self, zones: list[dns.name.Name], options: dict) -> defer.Deferred:
        """`hpctl plan ZONE [--secondary NAME]`: what a sync would change, nothing applied."""
        if len(zones) != 1:
            raise UsageError("plan takes exactly one zone")
        zone = zones[0]
        names = [s.name for s in self._api_secondaries(zone)]
        wanted = options.get("secondary")
        zone_text = zone.to_text(omit_final_dot=True)
        if not names:
            raise UsageError(f"zone {zone_text} has no API secondary (api: route53) to plan for")
        if wanted is None:
            if len(names) > 1:
                raise UsageError(f"zone {zone_text} has several API secondaries; pick one with --secondary "
                                 f"({', '.join(names)})")
            wanted = names[0]
        if wanted not in names:
            raise UsageError(f"{wanted!r} is not an API secondary of {zone_text} (those are: {', '.join(names)})")
        version = self.store.current(zone)
        if version is None:
            raise UsageError(f"zone {zone_text} is not loaded: nothing to plan from")
        pair = self.pairs[(zone, wanted)]
        return threads.deferToThreadPool(self.reactor, self._check_pool.get(), self._plan, pair, version)

    def _plan(self, pair: _Pair, version: ZoneVersion) -> dict:
        try:
            return api_report.plan_result(self._provider(pair), pair.secondary, self._target(pair), pair.zone,
                                          version)
        except Exception as e:  # noqa: BLE001 - reported as a failed command, one line
            raise HiddenPrimaryError(f"{pair.secondary}: cannot read the hosted zone: {_error(e)['message']}") from e

    def extend_check(self, d: defer.Deferred, zone: dns.name.Name, version: ZoneVersion | None) -> defer.Deferred:
        """Add this zone's API secondaries to the `hpctl check` report that `d` fires with."""
        pairs = [p for (z, _), p in self.pairs.items() if z == zone]
        if not pairs:
            return d
        rows = [threads.deferToThreadPool(self.reactor, self._check_pool.get(), self._check_row, p, version) for p in pairs]
        both = defer.gatherResults([d, defer.gatherResults(rows, consumeErrors=True)], consumeErrors=True)
        return both.addCallback(lambda r: api_report.merge_check(r[0], r[1]))

    def _check_row(self, pair: _Pair, version: ZoneVersion | None) -> dict:
        try:
            provider = self._provider(pair)
        except Exception as e:  # noqa: BLE001
            return {"secondary": pair.secondary, "target": self._target(pair), "serial": pair.state.serial,
                    "lag": None, "time_ms": None, "state": "unreachable", "error": _error(e)["message"]}
        row = api_report.check_row(provider, pair.secondary, self._target(pair), pair.zone, version,
                                   pair.state.serial, self.clock)
        row["target"] = self._target(pair)  # the ID is known once read
        event(log, "check.target", zone=pair.zone_text, secondary=pair.secondary, target=row["target"],
              serial=row["serial"], state=row["state"], error=row["error"])
        return row

    def collect(self):
        """Prometheus families (scraped on the reactor thread)."""
        serial = GaugeMetricFamily("hiddenprimary_api_serial", "Serial last applied to an API secondary",
                                   labels=["zone", "secondary"])
        lag = GaugeMetricFamily("hiddenprimary_api_lag", "Serials an API secondary is behind (RFC 1982 distance)",
                                labels=["zone", "secondary"])
        failing = GaugeMetricFamily("hiddenprimary_api_failures",
                                    "Consecutive failed syncs of an API secondary (0: healthy)",
                                    labels=["zone", "secondary"])
        for (zone, name), pair in sorted(self.pairs.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            s = self.status(zone, name)
            if s["serial"] is not None:
                serial.add_metric([pair.zone_text, name], s["serial"])
            if s["lag"] is not None:
                lag.add_metric([pair.zone_text, name], s["lag"])
            failing.add_metric([pair.zone_text, name], pair.state.failures)
        yield serial
        yield lag
        yield failing
        requests = CounterMetricFamily("hiddenprimary_api_requests", "Provider API calls sent (retries included)",
                                       labels=["secondary", "operation"])
        for name, provider in sorted(self._providers.items()):
            for operation, n in sorted(dict(getattr(provider, "requests", {})).items()):
                requests.add_metric([name, operation], n)
        yield requests
        yield counter_family("hiddenprimary_api_errors", "Failed syncs, by provider error code",
                             ["zone", "secondary", "code"], self.errors)
        yield counter_family("hiddenprimary_api_rrset_changes", "RRsets changed at API secondaries",
                             ["zone", "secondary", "action"], self.changes)
        yield counter_family("hiddenprimary_api_syncs", "Successful syncs, full (read+plan) or incremental",
                             ["zone", "secondary", "mode"], self.syncs)


def _error(e: BaseException) -> dict:
    """{"message", "code", "provider_message", "rrsets": [[name, type, action]]} for state and status."""
    code = getattr(e, "code", None)
    response = getattr(e, "response", None)
    if not code and isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
    changes = getattr(e, "changes", None) or []
    return {"message": api_report.error_text(e), "code": code or type(e).__name__,
            "provider_message": getattr(e, "aws_message", None),
            "rrsets": [[c.name, c.rdtype, action] for action, c in changes]}


def _text(serial: int | None) -> str:
    return "none" if serial is None else str(serial)
