"""providers.api_sync.ApiSync with a fake provider and a fake thread pool: what a zone change
pushes (full, then incremental), retries after a provider error on the `retry_s` backoff, status
(failing, then ok; lag), a change arriving while a push is in flight, state across a restart, and
stop(). The provider here is a stand-in (the real Route 53 one meets moto in the integration
tests); versions come from the real zone loader and the real Store, state from the real sqlite.

Syncs run on a pool the test drives: `ThreadPool` in api_sync is replaced by `FakePool`, which
queues work until the test runs it (on the test's thread), and the reactor's callFromThread calls
at once, so `deferToThreadPool` completes synchronously. Time is the MemoryReactorClock's."""

from __future__ import annotations

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from hiddenprimary.clock import FixedClock
from hiddenprimary.providers import api_sync
from hiddenprimary.providers.api_state import ApiState
from hiddenprimary.providers.base import ApplyStats, Plan, Provider, ProviderError, RRsetChange, RRsets
from hiddenprimary.zone.store import Store
from tests.unit.transfer_setup import HOSTS, ORIGIN, SERIAL, applied, load_versions, make_config, publish

ZONE = "example.com."
CONFIG = """
secondaries:
  r53: {api: route53, hosted_zones: {example.com: Z0123456789ABC}, retry_s: [5, 20]}
zones:
  example.com: {file: example.com.zone, secondaries: [r53]}
"""
OWNED = {(ZONE, "SOA"): (900, ("ns-1.awsdns. hostmaster. 1 7200 900 1209600 86400",)),
         (ZONE, "NS"): (172800, ("ns-1.awsdns.",))}
CONTENTS = [HOSTS, {**HOSTS, "h0": "192.0.2.200"}, {**HOSTS, "h0": "192.0.2.200", "new": "192.0.2.201"},
            {**HOSTS, "h1": "192.0.2.202"}]


class Rejected(ProviderError):
    """What the provider raises for a change it refuses (Route 53's ChangeRejected has the same fields)."""

    code = "InvalidChangeBatch"

    def __init__(self, change: RRsetChange):
        self.changes = [("UPSERT", change)]
        super().__init__(f"rejected: {change}")


class FakeProvider(Provider):
    """A hosted zone in memory that applies plans with Route 53's rules (a DELETE or UPSERT must
    match what is held, a CREATE must be new) and records what it was asked. `failures`: what the
    next apply() calls raise, in turn. MX is not supported here, so it is skipped."""

    supported_types = frozenset({"A", "NS", "SOA", "TXT"})

    def __init__(self):
        self.hosted: RRsets = dict(OWNED)
        self.reads = 0
        self.plans: list[Plan] = []
        self.failures: list[Exception] = []

    def read(self, zone: str) -> RRsets:
        assert zone == ZONE
        self.reads += 1
        return dict(self.hosted)

    def apply(self, plan: Plan) -> ApplyStats:
        self.plans.append(plan)
        if self.failures:
            raise self.failures.pop(0)
        self.hosted = applied(self.hosted, plan)
        return ApplyStats(requests=1, attempts=1)

    def holds(self) -> RRsets:
        return {k: v for k, v in self.hosted.items() if k not in OWNED}


class FakePool:
    """Stands in for twisted's ThreadPool: work waits in `queue` until step() or run()."""

    def __init__(self, *args, **kwargs):
        self.queue: list = []
        self.started = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def callInThreadWithCallback(self, on_result, f, *args, **kwargs) -> None:
        self.queue.append((on_result, f, args, kwargs))

    def step(self) -> None:
        on_result, f, args, kwargs = self.queue.pop(0)
        try:
            result = f(*args, **kwargs)
        except Exception:  # noqa: BLE001 - as ThreadPool: the failure goes to the callback
            on_result(False, Failure())
        else:
            on_result(True, result)

    def run(self) -> int:
        """Run queued work (and what it queues) until none is left; how many syncs ran."""
        ran = 0
        while self.queue:
            assert ran < 10, "syncs keep queuing more syncs"
            self.step()
            ran += 1
        return ran


class Reactor(MemoryReactorClock):
    def callFromThread(self, f, *args, **kwargs) -> None:
        f(*args, **kwargs)  # the "thread" is the test's own: the reactor thread


class Harness:
    def __init__(self, tmp_path, monkeypatch, versions=None, provider=None):
        self.config = make_config(tmp_path, CONFIG)
        self.versions = versions or load_versions(tmp_path, *CONTENTS)
        self.store = Store([ORIGIN])
        self.reactor = Reactor()
        self.clock = FixedClock()
        self.provider = provider or FakeProvider()
        pools: list[FakePool] = []
        monkeypatch.setattr(api_sync, "ThreadPool", lambda *a, **kw: pools.append(FakePool()) or pools[-1])
        monkeypatch.setattr(api_sync, "make_provider", lambda api, sleep=None: self.provider)
        self.sync = api_sync.ApiSync(self.config, self.reactor, self.clock, self.store)
        self.sync.start()
        (self.pool,) = pools
        assert self.pool.started

    def publish(self, n: int) -> None:
        """Publish version n (1-based) with the diffs from version 1, and tell ApiSync (as the daemon does)."""
        publish(self.store, self.versions[:n])
        self.sync.zone_changed(ORIGIN, self.versions[n - 1])

    def status(self) -> dict:
        return self.sync.status(ORIGIN, "r53")

    def desired(self, n: int) -> RRsets:
        return self.provider.desired(self.versions[n - 1])[0]

    def retry_in(self) -> float:
        (call,) = self.reactor.getDelayedCalls()
        return call.getTime() - self.reactor.seconds()


@pytest.fixture
def h(tmp_path, monkeypatch) -> Harness:
    return Harness(tmp_path, monkeypatch)


def serial(n: int) -> int:
    """The serial of version n (1-based)."""
    return SERIAL + n - 1


# -- pushing --------------------------------------------------------------------------------------


def test_a_change_pushes_the_zone_then_only_what_changed(h):
    h.publish(1)
    assert h.status()["syncing"] and h.provider.plans == []  # queued on the pool, not run inline
    assert h.pool.run() == 1
    assert h.provider.holds() == h.desired(1) and h.provider.reads == 1
    s = h.status()
    assert (s["serial"], s["behind"], s["lag"], s["error"], s["syncing"]) == (serial(1), False, 0, None, False)
    assert s["last_sync"]["mode"] == "full" and s["last_sync"]["creates"] == len(h.desired(1))
    assert s["skipped"]["counts"] == {"provider-owned": 2, "unsupported-type": 1}  # apex SOA+NS; MX
    assert s["applied_at"] == h.clock.wall()

    h.publish(2)
    h.pool.run()
    assert h.provider.reads == 1  # from the journal's diffs, no read of the hosted zone
    plan = h.provider.plans[-1]
    assert ([c.key for c in plan.upserts], plan.creates, plan.deletes) == ([("h0.example.com.", "A")], [], [])
    assert h.provider.holds() == h.desired(2)
    s = h.status()
    assert (s["serial"], s["lag"], s["last_sync"]["mode"]) == (serial(2), 0, "incremental")


def test_a_version_the_provider_already_holds_is_not_pushed_again(h):
    h.publish(1)
    h.pool.run()
    h.sync.zone_changed(ORIGIN, h.versions[0])  # the daemon's catch-up at start, nothing new
    h.pool.run()
    assert len(h.provider.plans) == 1 and h.status()["serial"] == serial(1)


def test_a_provider_error_is_retried_on_the_backoff_then_status_is_ok(h):
    h.publish(1)
    h.pool.run()
    change = RRsetChange("h0.example.com.", "A", 3600, ("192.0.2.200",))
    h.provider.failures = [Rejected(change), RuntimeError("connection reset"), Rejected(change)]
    h.publish(2)
    h.pool.run()
    s = h.status()
    assert (s["serial"], s["behind"], s["lag"], s["failures"]) == (serial(1), True, 1, 1)
    assert s["error"]["code"] == "InvalidChangeBatch" and s["error"]["serial"] == serial(2)
    assert s["error"]["rrsets"] == [["h0.example.com.", "A", "UPSERT"]] and "rejected" in s["error"]["message"]
    reads = h.provider.reads
    for failures, base in ((1, 5), (2, 20), (3, 20)):  # retry_s [5, 20]: the last step repeats
        delay = h.retry_in()
        assert base * 0.9 <= delay <= base * 1.1 and h.status()["retry_in_s"] == pytest.approx(delay)
        h.reactor.advance(base * 0.9 - 0.01)
        assert h.pool.queue == []  # not before its time
        h.reactor.advance(base * 0.2 + 0.02)
        assert len(h.pool.queue) == 1
        h.pool.run()
        assert h.provider.reads == reads + failures  # after a failure: re-plan from a read
    s = h.status()
    assert (s["serial"], s["behind"], s["lag"], s["error"], s["failures"], s["retry_in_s"]) == (
        serial(2), False, 0, None, 0, None)
    assert s["last_sync"]["why"] == "after a failed sync" and h.provider.holds() == h.desired(2)
    assert h.reactor.getDelayedCalls() == []
    assert h.sync.errors == {("example.com", "r53", "InvalidChangeBatch"): 2, ("example.com", "r53", "RuntimeError"): 1}


def test_lag_counts_the_versions_the_provider_is_behind(h):
    h.publish(1)
    h.pool.run()
    h.provider.failures = [Rejected(RRsetChange("x.example.com.", "A", 60, ("192.0.2.9",)))] * 2
    h.publish(2)
    h.pool.run()
    assert h.status()["lag"] == 1 and len(h.reactor.getDelayedCalls()) == 1
    h.publish(3)  # a new version is tried at once: the retry timer is cancelled
    assert h.reactor.getDelayedCalls() == [] and len(h.pool.queue) == 1
    h.pool.run()
    s = h.status()
    assert (s["serial"], s["lag"], s["behind"], s["failures"]) == (serial(1), 2, True, 2)
    metrics = {f.name: {tuple(x.labels.values()): x.value for x in f.samples} for f in h.sync.collect()}
    assert metrics["hiddenprimary_api_lag"] == {("example.com", "r53"): 2}
    assert metrics["hiddenprimary_api_failures"] == {("example.com", "r53"): 2}
    h.reactor.advance(30)
    h.pool.run()
    assert (h.status()["lag"], h.status()["behind"]) == (0, False) and h.provider.holds() == h.desired(3)


def test_a_change_while_a_push_is_in_flight_is_not_lost(h):
    h.publish(1)
    h.publish(2)  # the first push has not run yet
    h.publish(3)
    assert len(h.pool.queue) == 1  # one push at a time per zone and secondary
    h.pool.step()
    assert [p.serial for p in h.provider.plans] == [serial(1)] and len(h.pool.queue) == 1  # the next one queued
    h.pool.run()
    assert [p.serial for p in h.provider.plans] == [serial(1), serial(3)]  # 2 is folded into 3
    assert h.provider.holds() == h.desired(3)
    assert (h.status()["serial"], h.status()["syncing"], h.pool.queue) == (serial(3), False, [])


def test_a_change_during_a_failing_push_is_taken_by_the_retry(h):
    h.publish(1)
    h.provider.failures = [Rejected(RRsetChange("h0.example.com.", "A", 60, ("192.0.2.9",)))]
    h.publish(2)  # while the first push is in flight, which fails
    h.pool.run()
    assert (h.status()["serial"], h.status()["failures"], h.pool.queue) == (None, 1, [])
    h.reactor.advance(5.5)
    h.pool.run()
    assert h.status()["serial"] == serial(2) and h.provider.holds() == h.desired(2)


# -- restart and stop -------------------------------------------------------------------------------


def test_a_restart_goes_on_from_the_saved_serial(h, tmp_path, monkeypatch):
    h.publish(1)
    h.pool.run()
    h.sync.stop()
    again = Harness(tmp_path, monkeypatch, h.versions, h.provider)
    assert again.status()["serial"] == serial(1)
    again.publish(4)
    again.pool.run()
    assert h.provider.reads == 1  # incremental from the saved serial: no read
    assert [c.key for c in h.provider.plans[-1].upserts] == [("h1.example.com.", "A")]
    assert again.status()["last_sync"]["mode"] == "incremental" and h.provider.holds() == again.desired(4)


def test_a_restart_after_a_failure_re_plans_from_a_read(h, tmp_path, monkeypatch):
    h.publish(1)
    h.pool.run()
    h.provider.failures = [Rejected(RRsetChange("h0.example.com.", "A", 60, ("192.0.2.9",)))]
    h.publish(2)
    h.pool.run()
    h.sync.stop()
    again = Harness(tmp_path, monkeypatch, h.versions, h.provider)
    s = again.status()
    assert (s["serial"], s["failures"], s["error"]["code"]) == (serial(1), 1, "InvalidChangeBatch")
    again.publish(2)
    again.pool.run()
    assert h.provider.reads == 2 and again.status()["last_sync"]["why"] == "after a failed sync"
    assert again.status()["error"] is None


def test_stop_cancels_the_retry_and_starts_nothing_new(h):
    h.provider.failures = [Rejected(RRsetChange("h0.example.com.", "A", 60, ("192.0.2.9",)))]
    h.publish(1)
    h.pool.run()
    assert len(h.reactor.getDelayedCalls()) == 1
    h.sync.stop()
    assert h.reactor.getDelayedCalls() == []
    h.publish(2)
    h.reactor.advance(600)
    assert h.pool.queue == [] and len(h.provider.plans) == 1


def test_a_push_that_completes_during_stop_is_remembered(h, tmp_path):
    h.publish(1)
    h.sync.stop()  # the push is in flight: it goes through, the daemon is stopping
    h.pool.run()
    saved = ApiState(h.config.data_dir).load()[("example.com", "r53")]
    assert saved.serial == serial(1) and saved.error is None
