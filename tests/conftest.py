"""Fixtures shared by the test folders. Each folder's conftest.py has its own (integration: our
daemon; interop: real BIND and Knot peers). Helpers to import are in tests/helpers.py (ports,
waiting, tools, paths), tests/zones.py (zone texts) and tests/r53_peer.py (moto, fault proxy)."""

from __future__ import annotations

import pathlib

import pytest

from tests.helpers import ROOT
from tests.r53_peer import moto_server


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    """The repository's top folder (conf/, zones/, tests/ ...)."""
    return ROOT


@pytest.fixture(scope="module")
def moto_url():
    """moto's Route 53 in server mode on a free loopback port, one per test module: its URL."""
    with moto_server() as url:
        yield url
