"""Fixtures that start real peers (BIND / Knot secondaries, a Knot reference primary) in
tmp_path on free loopback ports, and stop them by PID after the test. On failure the tail of each
peer's log is printed (pytest shows it under "Captured stdout teardown").

    def test_x(knot_primary, bind_secondary, knot_secondary, tsig_key):
        p = knot_primary({"example.com": TEXT}, key=tsig_key)
        b = bind_secondary(["example.com"], p.port, key=tsig_key)
        b.wait_serial("example.com", 1)
"""

from __future__ import annotations

import pytest

from tests.interop.peers import BindSecondary, Key, KnotPrimary, KnotSecondary, new_key


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"_interop_{rep.when}_failed", rep.failed)


@pytest.fixture
def tsig_key() -> Key:
    """A fresh random hmac-sha256 TSIG key named xfr-key."""
    return new_key("xfr-key", "hmac-sha256")


@pytest.fixture
def peers(request):
    """Every peer the factories below created; stopped (newest first) after the test."""
    made: list = []
    yield made
    failed = getattr(request.node, "_interop_setup_failed", False) or getattr(
        request.node, "_interop_call_failed", False)
    for peer in reversed(made):
        status = peer.stop()
        if failed:
            print(f"\n{peer!r} exited {status}\n{peer.log_tail(60)}")


def _factory(cls, tmp_path, peers, name):
    def make(*args, start: bool = True, **kw):
        workdir = tmp_path / f"{name}{len([p for p in peers if isinstance(p, cls)]) or ''}"
        peer = cls(workdir, *args, **kw)
        peers.append(peer)
        if start:
            peer.start()
        return peer
    return make


@pytest.fixture
def bind_secondary(tmp_path, peers):
    """make(zones, primary_port, key=None, address="127.0.0.2", start=True) -> BindSecondary"""
    return _factory(BindSecondary, tmp_path, peers, "bind")


@pytest.fixture
def knot_secondary(tmp_path, peers):
    """make(zones, primary_port, key=None, address="127.0.0.3", start=True, notify_key=True) -> KnotSecondary"""
    return _factory(KnotSecondary, tmp_path, peers, "knot")


@pytest.fixture
def knot_primary(tmp_path, peers):
    """make({zone: text}, key=None, address="127.0.0.1", ixfr=True, notify=[], start=True) -> KnotPrimary"""
    return _factory(KnotPrimary, tmp_path, peers, "primary")
