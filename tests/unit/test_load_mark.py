"""reload.load_mark: a reload of a zone file whose bytes (and includes, and config, and keys) did
not change parses nothing, in the same session and after a restart; any change to what a load
depends on loads again; and a Reloader that uses marks and the load memo (whose diff looks only
at the owners the load touched) serves and journals exactly what one that uses neither does,
edit after edit (hypothesis)."""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.reload import plan as plan_module
from hiddenprimary.reload.journal import Journal
from hiddenprimary.reload.zone_state import ZoneState
from hiddenprimary.zone import codec
from hiddenprimary.zone.load import load_zone
from hiddenprimary.zone.wire_load import load_wire
from hiddenprimary.zone.wire_reload import reload_wire
from tests.unit.reloader_setup import ZONE, Setup, zone_file


@pytest.fixture
def loads(monkeypatch):
    """Counts the zone loads a reload makes, by difference, fast or full (the real loaders still run)."""
    calls = []

    refused = []  # the fast load just handed this reload to the full one: one parse, not two

    def counting(*args, **kwargs):
        if not refused:
            calls.append(args[0])
        refused.clear()
        return load_zone(*args, **kwargs)

    def counting_reread(*args, **kwargs):
        calls.append(args[0])
        loaded = reload_wire(*args, **kwargs)
        if loaded is None:
            refused.append(True)
        return loaded

    def counting_wire(*args, **kwargs):
        if not refused:
            calls.append(args[0])
        refused.clear()
        loaded = load_wire(*args, **kwargs)
        if loaded is None:
            refused.append(True)
        return loaded

    monkeypatch.setattr(plan_module, "load_zone", counting)
    monkeypatch.setattr(plan_module, "load_wire", counting_wire)
    monkeypatch.setattr(plan_module, "reload_wire", counting_reread)
    return calls


def history(s: Setup) -> list:
    """The store's IXFR history as wire bytes: what a secondary's IXFR would get."""
    return [(d.serial_from, d.serial_to, codec.encode(d.removed), codec.encode(d.added))
            for d in s.reloader.store.history(ZONE)]


def served(s: Setup) -> tuple[int, bytes]:
    version = s.reloader.store.current(ZONE)
    return version.serial, codec.encode(version.iter_rdatasets())


def test_an_unchanged_file_is_not_parsed_again(tmp_path, loads):
    s = Setup(tmp_path)
    s.start()
    assert len(loads) == 1
    [result] = s.reload()
    assert result.ok and not result.changed and result.new_serial == 2024010101
    assert len(loads) == 1  # read and hashed, not parsed


def test_a_comment_edit_loads_once_then_not_again(tmp_path, loads):
    s = Setup(tmp_path)
    s.start()
    s.zone_path.write_text(s.zone_path.read_text() + "; a comment\n")
    [result] = s.reload()
    assert result.ok and not result.changed and len(loads) == 2
    s.reload()
    assert len(loads) == 2
    # The new mark is kept with the journal, so a restart does not parse the file either.
    s.reloader = s.make()
    [after] = s.start()
    assert after.ok and not after.changed and len(loads) == 2


def test_an_edited_file_is_opened_once_per_reload(tmp_path, monkeypatch):
    """The bytes the unchanged-check read (and hashed) are the ones loaded: one open, one read."""
    from hiddenprimary.zone import source

    s = Setup(tmp_path)
    s.start()
    opened = []
    real_open = source.os.open
    monkeypatch.setattr(source.os, "open", lambda path, *a: opened.append(path) or real_open(path, *a))
    s.zone_path.write_text(zone_file(2024010102, hosts=3))
    [result] = s.reload()
    assert result.ok and result.changed and result.new_serial == 2024010102 and result.added == 1
    assert [path for path in opened if path.endswith(".zone")] == [str(s.zone_path)]  # (not the memo's files)


def test_after_a_restart_an_unchanged_file_is_not_parsed(tmp_path, loads):
    s = Setup(tmp_path)
    s.start()
    s.zone_path.write_text(zone_file(2024010102, hosts=3))
    s.reload()
    assert len(loads) == 2
    s.reloader = s.make()
    [result] = s.start()
    assert result.ok and not result.changed and result.new_serial == 2024010102
    assert len(loads) == 2
    # The mark was committed with the version it describes: the journal holds it.
    journal = Journal(os.path.join(s.config.data_dir, "journal.sqlite"), ZONE)
    try:
        assert '"file_serial": 2024010102' in journal.load_mark()
    finally:
        journal.close()


def test_a_file_put_back_after_a_restart_is_loaded(tmp_path, loads):
    """The mark is that of the served version, never an older one: going back to the first
    file's bytes after a restart is a change like any other."""
    s = Setup(tmp_path, serial="increment")
    first = zone_file(2024010101)
    s.start()
    s.zone_path.write_text(zone_file(2024010101, hosts=3))
    s.reload()
    s.reloader = s.make()
    s.zone_path.write_text(first)
    [result] = s.start()
    assert result.changed and result.removed == 1 and len(loads) == 3


def test_a_config_change_loads_again(tmp_path, loads):
    s = Setup(tmp_path)
    s.start()
    # Same zone file, another serial policy: the mark's context differs, so the file is parsed.
    zones = {**s.config.zones, ZONE: dataclasses.replace(s.config.zones[ZONE], serial="increment")}
    s.reloader.reconfigure(dataclasses.replace(s.config, zones=zones))
    s.reload()
    assert len(loads) == 2
    s.reload()
    assert len(loads) == 2


def test_a_moved_include_symlink_is_followed(tmp_path, loads):
    s = Setup(tmp_path)
    (tmp_path / "a.inc").write_text("h7 IN A 192.0.2.77\n")
    (tmp_path / "b.inc").write_text("h7 IN A 192.0.2.78\n")
    os.symlink("a.inc", tmp_path / "hosts.inc")
    s.zone_path.write_text(zone_file(2024010101) + "$INCLUDE hosts.inc\n")
    s.start()
    s.reload()
    assert len(loads) == 1
    os.remove(tmp_path / "hosts.inc")
    os.symlink("b.inc", tmp_path / "hosts.inc")
    s.zone_path.write_text(zone_file(2024010102) + "$INCLUDE hosts.inc\n")
    [result] = s.reload()
    assert result.changed and len(loads) == 2
    # Retargeted outside the zone's folder, to a file with the same bytes: refused, not skipped.
    outside = tmp_path.parent / f"{tmp_path.name}-outside.inc"
    outside.write_text("h7 IN A 192.0.2.78\n")
    os.remove(tmp_path / "hosts.inc")
    os.symlink(outside, tmp_path / "hosts.inc")
    [refused] = s.reload()
    assert not refused.ok and any("refused" in e for e in refused.errors), refused.errors


class _Forgetful(ZoneState):
    """A zone state that keeps neither a load mark nor a load memo: every reload of it parses
    the whole file and diffs the whole zone (the plain twin of both fast paths)."""

    @property
    def load_mark(self):
        return None

    @load_mark.setter
    def load_mark(self, value) -> None:
        pass

    @property
    def load_memo(self):
        return None

    @load_memo.setter
    def load_memo(self, value) -> None:
        pass


def forgetful(s: Setup) -> None:
    s.reloader.zones = {zone: _Forgetful() for zone in s.reloader.zones}


EDITS = st.sampled_from(["same", "comment", "host", "fewer", "ttl", "serial", "include-content", "bad"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(EDITS, min_size=1, max_size=6), st.sampled_from(["keep", "increment"]))
def test_marks_serve_exactly_what_full_loads_serve(tmp_path_factory, edits, policy):
    """Twin reloaders on twin folders: one with marks, one whose marks are always dropped (every
    reload a full load). After every edit and a restart they serve the same serial and bytes."""
    twins = []
    for _ in range(2):
        s = Setup(tmp_path_factory.mktemp("twin"), serial=policy)
        (s.tmp_path / "more.inc").write_text("inc IN A 192.0.2.99\n")
        twins.append(s)
    marked, plain = twins
    state = {"serial": 2024010101, "hosts": 2, "comment": 0, "inc": 99, "ttl": 300}

    def text() -> str:
        return (zone_file(state["serial"], hosts=state["hosts"]).replace("$TTL 300", f"$TTL {state['ttl']}")
                + "$INCLUDE more.inc\n" + "; note\n" * state["comment"])

    def write(bad: bool = False) -> None:
        for s in twins:
            s.zone_path.write_text(text() + ("broken IN A 300.1.2.3\n" if bad else ""))
            (s.tmp_path / "more.inc").write_text(f"inc IN A 192.0.2.{state['inc']}\n")

    write()
    forgetful(plain)
    for s in twins:
        s.start()
    for edit in edits + ["restart"]:
        bad = False
        if edit == "comment":
            state["comment"] += 1
        elif edit in ("host", "serial"):
            state["hosts" if edit == "host" else "serial"] += 1
            state["serial"] += edit == "host"
        elif edit == "fewer":
            state["hosts"] = max(0, state["hosts"] - 1)
            state["serial"] += 1
        elif edit == "ttl":
            state["ttl"] += 60
            state["serial"] += 1
        elif edit == "include-content":
            state["inc"] += 1
            state["serial"] += 1
        elif edit == "bad":
            bad = True
        write(bad)
        if edit == "restart":
            for s in twins:
                s.reloader = s.make()
            forgetful(plain)
            for s in twins:
                s.start()
        else:
            [r1], [r2] = marked.reload(), plain.reload()
            assert (r1.ok, r1.changed, r1.new_serial, r1.added, r1.removed) == \
                (r2.ok, r2.changed, r2.new_serial, r2.added, r2.removed), edit
        assert served(marked) == served(plain), edits
        assert history(marked) == history(plain), edits
