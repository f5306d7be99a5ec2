"""transfer.prerender: a published version's AXFR is rendered on a thread into the version's own
rendering, so the first secondary to ask streams ready bytes (or what is ready, rendering the
rest as it goes, never a message twice); zones no transfer secondary takes are left alone."""

from __future__ import annotations

import os

import dns.name
import pytest
from twisted.internet import defer, task

from hiddenprimary.config.parse import parse_config
from hiddenprimary.transfer import prerender, xfr
from hiddenprimary.zone.wire_version import WireVersion
from tests.zones import QUERY_ZONE, version_from_text

CONFIG = """
listen: ['127.0.0.1:0']
secondaries:
  lab: {allow: [127.0.0.0/8]}
  r53: {api: route53, hosted_zones: {api.example: Z0123456789ABC}}
zones:
  example.com: {file: example.com.zone, secondaries: [lab]}
  api.example: {file: api.example.zone, secondaries: [r53]}
"""


@pytest.fixture
def now(monkeypatch):
    """deferToThreadPool runs the work at once (the thread is not what is tested here)."""
    monkeypatch.setattr(prerender.threads, "deferToThreadPool",
                        lambda reactor, pool, work, *args: defer.maybeDeferred(work, *args))
    monkeypatch.setattr(prerender.LazyPool, "get", lambda self: None)
    monkeypatch.setattr(prerender, "PRERENDER_MIN_RECORDS", 0)  # these zones are small


def _version() -> WireVersion:
    plain = version_from_text(QUERY_ZONE)
    return WireVersion.from_nodes(plain.origin, plain.nodes())


def test_a_published_version_gets_its_axfr_rendered(tmp_path, now):
    config = parse_config(CONFIG, str(tmp_path / "hp.yaml"))
    version = _version()
    prerender.AxfrPrerender(config, task.Clock()).zone_changed(dns.name.from_text("example.com."), version)
    rendering = version.cache["axfr"]
    assert rendering.done and rendering.messages == xfr.new_axfr_rendering(version).render_all()
    assert xfr.axfr_rendering(version) is rendering  # what a transfer takes


def test_a_zone_with_only_api_secondaries_is_left_alone(tmp_path, now):
    config = parse_config(CONFIG, str(tmp_path / "hp.yaml"))
    version = _version()
    prerender.AxfrPrerender(config, task.Clock()).zone_changed(dns.name.from_text("api.example."), version)
    assert "axfr" not in version.cache


def test_a_rendering_a_transfer_started_meanwhile_is_kept(tmp_path, now):
    config = parse_config(CONFIG, str(tmp_path / "hp.yaml"))
    version = _version()
    first = xfr.axfr_rendering(version)
    prerender.AxfrPrerender(config, task.Clock()).zone_changed(dns.name.from_text("example.com."), version)
    assert version.cache["axfr"] is first


def test_only_a_zones_first_version_is_rendered_ahead(tmp_path, now):
    config = parse_config(CONFIG, str(tmp_path / "hp.yaml"))
    prerender_ = prerender.AxfrPrerender(config, task.Clock())
    first, second = _version(), _version()
    zone = dns.name.from_text("example.com.")
    prerender_.zone_changed(zone, first)
    prerender_.zone_changed(zone, second)  # a reload: its AXFR renders when a secondary reads it
    assert "axfr" in first.cache and "axfr" not in second.cache


def test_a_transfer_reading_while_the_thread_renders_gets_every_message_once():
    """Two readers of one rendering, as at start: the prerender thread and a transfer on another
    thread. Each message is rendered once, by whichever needs it first, and both read the same
    stream as a rendering made alone."""
    import threading

    plain = version_from_text(QUERY_ZONE + "".join(f"h{i} A 192.0.2.{i % 250}\nh{i} TXT \"{'x' * 40}\"\n"
                                                   for i in range(3000)))
    version = WireVersion.from_nodes(plain.origin, plain.nodes())
    alone = xfr.new_axfr_rendering(version).render_all()
    assert len(alone) > 10
    shared = xfr.axfr_rendering(version)
    shared.lock = threading.Lock()  # as AxfrPrerender sets it
    calls = []
    render_next = shared._render_next

    def counted():
        calls.append(threading.current_thread().name)
        render_next()

    shared._render_next = counted
    read = []
    ahead = threading.Thread(target=shared.render_all, name="prerender")
    ahead.start()
    index = 0
    while (message := shared.message(index)) is not None:
        read.append(message)
        index += 1
    ahead.join(10)
    assert read == alone == shared.messages
    assert len(calls) == len(alone)  # never a message twice (the last call sets `done`)


def test_a_big_rendering_waits_in_a_file_and_reads_back_the_same_bytes(tmp_path, now, monkeypatch):
    from hiddenprimary.transfer import messages

    config = parse_config(CONFIG.replace("listen:", f"data_dir: {tmp_path / 'var'}\nlisten:"), str(tmp_path / "hp.yaml"))
    (tmp_path / "var" / "zones").mkdir(parents=True)
    monkeypatch.setattr(messages, "SPILL_BYTES", 1)  # the test zone is small
    hosts = "".join(f"host{i} A 192.0.2.{i % 250}\n" for i in range(2000))  # a few messages
    plain = version_from_text(QUERY_ZONE + hosts)
    version = WireVersion.from_nodes(plain.origin, plain.nodes())
    prerender.AxfrPrerender(config, task.Clock()).zone_changed(dns.name.from_text("example.com."), version)
    rendering = version.cache["axfr"]
    fresh = xfr.new_axfr_rendering(version).render_all()
    assert isinstance(rendering.messages, messages.SpilledMessages) and len(fresh) > 2
    assert rendering.messages == fresh and [rendering.message(i) for i in range(len(fresh))] == fresh
    assert rendering.message(len(fresh)) is None and rendering.messages[-1] == fresh[-1]
    assert rendering.messages[1:] == fresh[1:]
    assert os.listdir(tmp_path / "var" / "zones") == []  # unlinked: it goes with the rendering
    # Small, or a disk that refuses: kept in memory, as it was.
    small = xfr.new_axfr_rendering(version)
    small.render_all()
    monkeypatch.setattr(messages, "SPILL_BYTES", 10**9)
    assert not small.spill(str(tmp_path)) and isinstance(small.messages, list)
    monkeypatch.setattr(messages, "SPILL_BYTES", 1)
    assert not small.spill(str(tmp_path / "missing")) and small.messages == fresh
    assert not xfr.new_axfr_rendering(version).spill(str(tmp_path))  # not rendered yet


def test_a_small_zone_is_rendered_when_asked_for_not_ahead(tmp_path, now, monkeypatch):
    monkeypatch.setattr(prerender, "PRERENDER_MIN_RECORDS", 10_000)
    config = parse_config(CONFIG, str(tmp_path / "hp.yaml"))
    version = _version()
    prerender.AxfrPrerender(config, task.Clock()).zone_changed(dns.name.from_text("example.com."), version)
    assert "axfr" not in version.cache
