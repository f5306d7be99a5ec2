"""Fixtures of the integration tests: our daemon serving example.com and example.net, and our
daemon as the primary of the "lab" and "open" secondaries (tests/integration/secondaries.py)."""

import pytest

from tests.integration.harness import Daemon
from tests.integration.secondaries import SECONDARY_CONFIG
from tests.zones import NET_ZONE, example_com


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path, {"example.com": example_com(), "example.net": NET_ZONE},
               extra_zone_config={"example.net": {"serial": "increment"}},
               extra_config="limits:\n  tcp_idle_timeout_s: 1.5\n")
    d.start(wait_zones=["example.com", "example.net"])
    yield d
    d.stop()


@pytest.fixture
def primary(tmp_path):
    """example.com with lab and open as its secondaries."""
    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab, open]"}},
               extra_config=SECONDARY_CONFIG)
    d.start(wait_zones=["example.com"])
    yield d
    d.stop()
