"""The journal: what goes in comes back out, across reopen, trimming and damage."""

import dataclasses
import hashlib
import os
import sqlite3

import dns.name
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.clock import SystemClock
from hiddenprimary.config import ZoneConfig
from hiddenprimary.reload.commit import commit, restore
from hiddenprimary.reload.journal import (
    Journal,
    JournalCorrupt,
    JournalDb,
    JournalError,
    JournalUnavailable,
    journal_path,
)
from hiddenprimary.reload.journal_file import JournalFile
from hiddenprimary.reload.plan import ReloadPlan
from hiddenprimary.reload.served_serials import ServedSerials
from hiddenprimary.zone.diff import apply, diff, nodes_equal
from tests.unit.versions import ORIGIN, make_version, records


def open_journal(tmp_path, name="j"):
    return Journal(str(tmp_path / f"{name}.journal"), ORIGIN)


def history(record_sets):
    """Versions with increasing serials for each content in `record_sets`."""
    return [make_version(100 + i, r) for i, r in enumerate(record_sets)]


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(records, min_size=1, max_size=6))
def test_every_serial_in_the_journal_leads_to_the_current_version(tmp_path_factory, contents):
    tmp_path = tmp_path_factory.mktemp("j")
    versions = history(contents)
    j = open_journal(tmp_path)
    j.save_first(versions[0])
    for a, b in zip(versions, versions[1:]):
        j.append(diff(a, b), b, max_entries=100, max_bytes=10**6)
    current = versions[-1]
    for v in versions[:-1]:
        steps = j.since(v.serial)
        assert steps is not None
        rebuilt = v
        for d in steps:
            rebuilt = apply(d, rebuilt)
        assert nodes_equal(rebuilt.nodes(), current.nodes())
    assert j.since(current.serial) == []
    assert j.since(99) is None
    # Read back after reopening: the same current version and the same history.
    j.close()
    j = open_journal(tmp_path)
    assert nodes_equal(j.load().nodes(), current.nodes())
    # What a restart reads in one go is what the single reads give.
    saved = j.read_all()
    assert nodes_equal(saved.version.nodes(), current.nodes()) and saved.version.serial == current.serial
    assert saved.info == j.info() and len(saved.history) == len(j.diffs())
    assert [(d.serial_from, d.serial_to) for d in saved.history] == [(d.serial_from, d.serial_to) for d in j.diffs()]
    info = j.info()
    assert (info.first_serial, info.last_serial, info.entries) == (100, current.serial, len(versions) - 1)
    j.close()


def test_diffs_read_back_equal_what_went_in(tmp_path):
    a = make_version(1, {("www", "A"): (300, ("192.0.2.1", "192.0.2.2")), ("t", "TXT"): (60, ('"x"',))})
    b = make_version(2, {("www", "A"): (300, ("192.0.2.1", "192.0.2.3")), ("mail", "A"): (60, ("192.0.2.9",))})
    d = diff(a, b)
    j = open_journal(tmp_path)
    j.save_first(a)
    j.append(d, b, max_entries=10, max_bytes=10**6)
    [back] = j.since(1)
    assert back == d


def test_oldest_diffs_are_trimmed_to_the_entry_limit(tmp_path):
    versions = [make_version(10 + i, {("www", "A"): (300, (f"192.0.2.{i + 1}",))}) for i in range(8)]
    j = open_journal(tmp_path)
    j.save_first(versions[0])
    for a, b in zip(versions, versions[1:]):
        j.append(diff(a, b), b, max_entries=3, max_bytes=10**6)
    info = j.info()
    assert info.entries == 3 and info.first_serial == 14 and info.last_serial == 17
    assert j.since(13) is None and j.since(14) is not None
    assert nodes_equal(j.load().nodes(), versions[-1].nodes())


def test_byte_limit_trims_but_the_current_version_survives(tmp_path):
    versions = [make_version(10 + i, {("www", "A"): (300, (f"192.0.2.{i + 1}",))}) for i in range(6)]
    j = open_journal(tmp_path)
    j.save_first(versions[0])
    for a, b in zip(versions, versions[1:]):
        j.append(diff(a, b), b, max_entries=100, max_bytes=1)
    assert nodes_equal(j.load().nodes(), versions[-1].nodes())
    assert j.since(10) is None


def test_garbage_file_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "bad.journal"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalCorrupt) as err:
        Journal(str(path), ORIGIN)
    assert str(path) in str(err.value)


def test_zones_share_one_file_and_each_sees_only_its_own(tmp_path):
    db = JournalDb(str(tmp_path / "journal.sqlite"))
    other = dns.name.from_text("example.net.")
    a, b = db.journal(ORIGIN), db.journal(other)
    v1, v2 = make_version(1, {("www", "A"): (60, ("192.0.2.1",))}), make_version(2, {("www", "A"): (60, ("192.0.2.2",))})
    a.save_first(v1)
    b.save_first(_net_version(7))
    a.append(diff(v1, v2), v2, max_entries=10, max_bytes=10**6)
    b.save_first(_net_version(8))  # drops b's diffs only
    assert (a.info().entries, a.info().last_serial, b.info().entries, b.info().last_serial) == (1, 2, 0, 8)
    assert a.since(1) is not None and b.since(1) is None
    db.close()
    db = JournalDb(str(tmp_path / "journal.sqlite"))
    assert nodes_equal(db.journal(ORIGIN).load().nodes(), v2.nodes()) and db.journal(other).load().serial == 8
    with pytest.raises(JournalCorrupt, match="not a journal of every zone"):
        journal_at_v1(str(tmp_path), 3)
        JournalDb(journal_path(str(tmp_path), ORIGIN))


def test_journal_path_is_per_zone(tmp_path):
    assert journal_path("/d", dns.name.from_text("Example.COM.")) == os.path.join("/d", "zones", "example.com.journal")


# -- access problems are not damage (issue 11, item 2) ------------------------------------------


def _fingerprint(path) -> bytes:
    return open(path, "rb").read()


def test_a_locked_journal_is_waited_for_then_unavailable_and_left_untouched(tmp_path):
    import time

    path = str(tmp_path / "j.journal")
    j = Journal(path, ORIGIN)
    j.save_first(make_version(4, {("www", "A"): (60, ("192.0.2.1",))}))
    j.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")  # as a backup tool or the sqlite3 CLI may leave it
    holder.execute("BEGIN EXCLUSIVE")
    before = _fingerprint(path)
    started = time.monotonic()
    with pytest.raises(JournalUnavailable, match="locked") as err:
        Journal(path, ORIGIN, lock_wait=0.5)
    took = time.monotonic() - started
    assert 0.5 <= took < 5, took
    assert "left as it is" in str(err.value)
    assert _fingerprint(path) == before
    holder.execute("ROLLBACK")
    holder.close()
    assert Journal(path, ORIGIN).load().serial == 4  # once released, all there


def test_a_journal_that_cannot_be_opened_is_unavailable_not_corrupt(tmp_path):
    path = tmp_path / "j.journal"
    path.mkdir()  # what sqlite reports as "unable to open database file", like a permission problem
    with pytest.raises(JournalUnavailable, match="unable to open"):
        Journal(str(path), ORIGIN, lock_wait=0.2)
    assert path.is_dir()


def journal_at(data_dir: str, serial: int) -> str:
    """The journal file under `data_dir` whose last version of ORIGIN has `serial`; its path."""
    path = os.path.join(data_dir, "journal.sqlite")
    j = Journal(path, ORIGIN)
    j.save_first(make_version(serial, {}))
    j.close()
    return path


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE diffs (seq INTEGER PRIMARY KEY AUTOINCREMENT, serial_from INTEGER NOT NULL, serial_to INTEGER NOT NULL,
    soa_from BLOB NOT NULL, soa_to BLOB NOT NULL, removed BLOB NOT NULL, added BLOB NOT NULL, size INTEGER NOT NULL);
CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), serial INTEGER NOT NULL, after_seq INTEGER NOT NULL,
    content BLOB NOT NULL);
CREATE TABLE snapshot_index (id INTEGER PRIMARY KEY CHECK (id = 1), snapshot_sha256 TEXT NOT NULL,
    sha256 TEXT NOT NULL, content BLOB NOT NULL);
"""


def v1_journal(path: str, origin, versions) -> None:
    """A zone's journal file of schema 1 (one file per zone, before issue 15) holding `versions`
    (the first saved whole, the others as diffs), as that code wrote it."""
    scratch = path + ".v2"
    j = Journal(scratch, origin)
    j.save_first(versions[0])
    for a, b in zip(versions, versions[1:]):
        j.append(diff(a, b), b, max_entries=100, max_bytes=10**6, file_serial=b.serial, load_mark="mark")
    j.close()
    new = sqlite3.connect(scratch)
    old = sqlite3.connect(path)
    old.executescript(V1_SCHEMA)
    old.executemany("INSERT INTO meta VALUES (?, ?)", [("schema", "1"), ("zone", origin.to_text())]
                    + new.execute("SELECT key, value FROM meta").fetchall())
    old.executemany("INSERT INTO diffs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    new.execute("SELECT seq, serial_from, serial_to, soa_from, soa_to, removed, added, size "
                                "FROM diffs").fetchall())
    old.executemany("INSERT INTO snapshot VALUES (1, ?, ?, ?)",
                    new.execute("SELECT serial, after_seq, content FROM snapshot").fetchall())
    old.executemany("INSERT INTO snapshot_index VALUES (1, ?, ?, ?)",
                    new.execute("SELECT snapshot_sha256, sha256, content FROM snapshot_index").fetchall())
    old.commit()
    old.close()
    new.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(scratch + suffix):
            os.unlink(scratch + suffix)


def journal_at_v1(data_dir: str, serial: int) -> str:
    path = journal_path(data_dir, ORIGIN)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    v1_journal(path, ORIGIN, [make_version(serial, {})])
    return path


def journals(data_dir: str, lock_wait: float = 10.0) -> JournalFile:
    return JournalFile(data_dir, SystemClock(), lock_wait)


def exclusive_lock(path: str):
    """Another process's lock as the sqlite3 CLI or a backup tool may hold it."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_restore_moves_nothing_when_the_journal_is_locked(tmp_path):
    data_dir = str(tmp_path)
    path = journal_at(data_dir, 4)
    served = ServedSerials(data_dir, 0)
    holder = exclusive_lock(path)
    files = journals(data_dir, lock_wait=0.3)
    before = sorted(os.listdir(data_dir))
    r = restore(files, ORIGIN, SystemClock(), served)
    assert r.journal is None and r.version is None and "locked" in r.problem
    assert sorted(os.listdir(data_dir)) == before
    holder.execute("ROLLBACK")
    holder.close()
    r = restore(files, ORIGIN, SystemClock(), served)
    assert r.version.serial == 4 and r.problem is None and served.get(ORIGIN) == 4


def test_a_journal_behind_the_served_serial_is_moved_aside_not_served(tmp_path):
    data_dir = str(tmp_path)
    path = journal_at(data_dir, 3)
    served = ServedSerials(data_dir, 0)
    served.record(ORIGIN, 7)  # an older copy of the journal was put back
    r = restore(journals(data_dir), ORIGIN, SystemClock(), served)
    assert r.version is None and r.served_floor == 7 and "below the served" in r.problem
    assert r.journal.load() is None  # a fresh journal; the old copy kept beside it
    [aside] = [n for n in os.listdir(os.path.join(data_dir, "zones")) if ".behind-" in n]
    assert aside.startswith("example.com.journal.behind-")
    assert Journal(os.path.join(data_dir, "zones", aside), ORIGIN).load().serial == 3


def test_a_failed_commit_never_raises_the_served_floor(tmp_path):
    """Review finding: a commit that fails (locked, disk full) must not leave the floor above the
    journal, or the next start would throw the good journal and its history away."""
    data_dir = str(tmp_path)
    path = journal_at(data_dir, 2)
    served = ServedSerials(data_dir, 0)
    r = restore(journals(data_dir), ORIGIN, SystemClock(), served)
    assert served.get(ORIGIN) == 2
    cfg = ZoneConfig(ORIGIN, "unused", (), "increment", None)
    new = make_version(3, {("www", "A"): (60, ("192.0.2.3",))})
    plan = ReloadPlan("example.com", r.version, new, diff(r.version, new), ())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the journal past our busy wait
    r.journal._db.execute("PRAGMA busy_timeout=100")
    with pytest.raises(JournalError, match="locked"):
        commit(r.journal, plan, cfg, served)
    holder.execute("ROLLBACK")
    holder.close()
    assert served.get(ORIGIN) == 2
    again = restore(journals(data_dir), ORIGIN, SystemClock(), served)
    assert again.version.serial == 2 and again.problem is None
    commit(again.journal, dataclasses.replace(plan, old=again.version), cfg, served)
    assert served.get(ORIGIN) == 3


def test_served_serials_only_go_up_in_rfc1982_terms(tmp_path):
    served = ServedSerials(str(tmp_path), 0)
    assert served.get(ORIGIN) is None
    served.record(ORIGIN, 4294967290)
    served.record(ORIGIN, 5)  # wrapped: greater
    served.record(ORIGIN, 4294967295)  # behind 5: ignored
    served.close()
    assert ServedSerials(str(tmp_path), 0).get(ORIGIN) == 5


def test_a_damaged_served_serial_file_is_moved_aside_and_started_afresh(tmp_path):
    (tmp_path / "served_serials.sqlite").write_bytes(b"not a database" * 100)
    served = ServedSerials(str(tmp_path), 1234)
    assert "damaged" in served.problem and served.get(ORIGIN) is None
    assert (tmp_path / "served_serials.sqlite.corrupt-1234").exists()


def test_one_zone_to_file_name_rule_for_journals_and_keys():
    from hiddenprimary import data_dir as paths

    for zone, journal, keys in [("Example.COM.", "example.com.journal", "example.com."),
                                (".", "root-zone.journal", "root-zone"),
                                (r"a\/b.example.", "a%2Fb.example.journal", "a%2Fb.example.")]:
        name = dns.name.from_text(zone)
        assert paths.journal_path("/d", name) == os.path.join("/d", "zones", journal)
        assert paths.key_directory("/d", name) == os.path.join("/d", "keys", keys)


def test_a_journal_under_the_old_name_is_adopted(tmp_path):
    from hiddenprimary import data_dir as paths

    (tmp_path / "zones").mkdir()
    old = tmp_path / "zones" / "..journal"  # the root zone's journal before one rule
    v1_journal(str(old), dns.name.root, [_root_version(7)])
    r = restore(journals(str(tmp_path)), dns.name.root, SystemClock(), ServedSerials(str(tmp_path), 0))
    assert r.problem is None, r.problem
    assert r.version.serial == 7 and not old.exists()
    assert os.path.exists(paths.journal_path(str(tmp_path), dns.name.root) + ".imported")


def test_a_journal_file_per_zone_is_imported_whole_and_kept(tmp_path):
    """Upgrading from one file per zone: the history IXFR serves, the load mark and the file
    serial come over; the old file stays as `.imported` until the operator removes it."""
    data_dir = str(tmp_path)
    versions = history([{("www", "A"): (60, (f"192.0.2.{i}",))} for i in range(1, 5)])
    path = journal_path(data_dir, ORIGIN)
    os.makedirs(os.path.dirname(path))
    v1_journal(path, ORIGIN, versions)
    served = ServedSerials(data_dir, 0)
    r = restore(journals(data_dir), ORIGIN, SystemClock(), served)
    assert r.problem is None and r.version.serial == 103 and len(r.history) == 3
    assert r.file_serial == 103 and r.journal.load_mark() == "mark"
    steps = r.journal.since(100)
    rebuilt = versions[0]
    for d in steps:
        rebuilt = apply(d, rebuilt)
    assert nodes_equal(rebuilt.nodes(), versions[-1].nodes())
    assert not os.path.exists(path) and os.path.exists(path + ".imported")
    # The next append goes on from there.
    nxt = make_version(104, {("www", "A"): (60, ("192.0.2.9",))})
    r.journal.append(diff(r.version, nxt), nxt, max_entries=100, max_bytes=10**6)
    assert r.journal.info().entries == 4 and r.journal.since(101) is not None


def test_a_damaged_zone_is_moved_aside_alone(tmp_path):
    data_dir = str(tmp_path)
    other = dns.name.from_text("example.net.")
    db = JournalDb(os.path.join(data_dir, "journal.sqlite"))
    db.journal(ORIGIN).save_first(make_version(5, {("www", "A"): (60, ("192.0.2.1",))}))
    db.journal(other).save_first(_net_version(9))
    db.db.execute("UPDATE snapshot SET content = CAST(x'00' || substr(content, 2) AS BLOB) WHERE zone = ?", (db.zone_id(ORIGIN),))
    db.close()
    served = ServedSerials(data_dir, 0)
    files = journals(data_dir)
    r = restore(files, ORIGIN, SystemClock(), served)
    assert r.version is None and "SHA-256" in r.problem and r.journal.load() is None
    assert restore(files, other, SystemClock(), served).version.serial == 9
    [aside] = os.listdir(os.path.join(data_dir, "zones"))
    assert aside.startswith("example.com.journal.corrupt-")


def test_a_damaged_file_is_moved_aside_whole(tmp_path):
    data_dir = str(tmp_path)
    served = ServedSerials(data_dir, 0)
    served.record(ORIGIN, 5)
    (tmp_path / "journal.sqlite").write_bytes(b"\0garbage" * 1000)
    files = journals(data_dir)
    r = restore(files, ORIGIN, SystemClock(), served)
    assert r.version is None and r.served_floor == 5 and "moved to" in r.problem
    assert [n for n in os.listdir(data_dir) if n.startswith("journal.sqlite.corrupt-")]
    assert r.journal.load() is None


def _net_version(serial):
    import dns.rdataset

    from hiddenprimary.zone.version import ZoneVersion

    net = dns.name.from_text("example.net.")
    soa = dns.rdataset.from_text("IN", "SOA", 3600, f"ns1.example.net. h.example.net. {serial} 1 2 3 4")
    ns = dns.rdataset.from_text("IN", "NS", 3600, "ns1.example.com.")
    return ZoneVersion(net, {net: {(6, 0): soa, (2, 0): ns}})


def _root_version(serial):
    import dns.rdataset

    from hiddenprimary.zone.version import ZoneVersion

    soa = dns.rdataset.from_text("IN", "SOA", 3600, f"a.root. h.root. {serial} 1 2 3 4")
    ns = dns.rdataset.from_text("IN", "NS", 3600, "a.root.")
    return ZoneVersion(dns.name.root, {dns.name.root: {(6, 0): soa, (2, 0): ns}})


def test_a_restart_cuts_the_snapshot_by_its_index_and_a_bad_index_is_only_ignored(tmp_path, monkeypatch):
    from hiddenprimary.zone.wire_version import WireVersion

    records_ = {("www", "A"): (300, ("192.0.2.1",)), ("a.b", "TXT"): (60, ('"x"',)), ("sub", "NS"): (60, ("ns.x.",))}
    wire = WireVersion.from_nodes(ORIGIN, make_version(5, records_).nodes())
    j = open_journal(tmp_path)
    j.save_first(wire)
    j.close()
    cut_by_index = []
    real = WireVersion.from_snapshot.__func__
    monkeypatch.setattr(WireVersion, "from_snapshot", classmethod(
        lambda cls, *a: cut_by_index.append(1) or real(cls, *a)))

    def reopened():
        j = open_journal(tmp_path)
        try:
            back = j.load()
        finally:
            j.close()
        assert nodes_equal(back.nodes(), wire.nodes()) and back.serial == 5
        assert (back._cuts, back.rr_count) == (wire._cuts, wire.rr_count) == ({b"\x03sub\x07example\x03com\x00"}, 5)
        return back

    reopened()
    assert cut_by_index == [1]
    db = sqlite3.connect(tmp_path / "j.journal")
    # A damaged index (its own digest no longer matches) is ignored: the snapshot is walked.
    db.execute("UPDATE snapshot_index SET content = substr(content, 1, 20) || x'ff' || substr(content, 22)")
    db.commit()
    reopened()
    assert cut_by_index == [1]
    # So is an index whose digest fits but whose bytes do not fit the snapshot (a bug's), and
    # a journal from before indexes.
    db.execute("UPDATE snapshot_index SET content = x'00', sha256 = ?", (hashlib.sha256(b"\0").hexdigest(),))
    db.commit()
    reopened()
    db.execute("DROP TABLE snapshot_index")
    db.commit()
    db.close()
    reopened()
    assert cut_by_index == [1, 1]  # tried once more (and refused): the digest-fitting bad index


def test_the_earliest_signature_expiration_comes_back_with_the_version_it_was_committed_with(tmp_path):
    """A restart arms the re-sign timer from what the journal recorded in the commit's
    transaction (no scan of every signature); an unsigned version records none."""
    from hiddenprimary.dnssec.zone_signer import SignStats

    data_dir = str(tmp_path)
    served = ServedSerials(data_dir, 0)
    r = restore(journals(data_dir), ORIGIN, SystemClock(), served)
    assert r.expires is None
    cfg = ZoneConfig(ORIGIN, "unused", (), "increment", None)
    first = make_version(1, {("www", "A"): (60, ("192.0.2.1",))})
    commit(r.journal, ReloadPlan("example.com", None, first, None, (), signed=SignStats(earliest_expiration=1234)),
           cfg, served)
    r.journal.close()
    again = restore(journals(data_dir), ORIGIN, SystemClock(), served)
    assert again.expires == 1234
    second = make_version(2, {("www", "A"): (60, ("192.0.2.2",))})
    commit(again.journal, ReloadPlan("example.com", first, second, diff(again.version, second), ()), cfg, served)
    again.journal.close()
    assert restore(journals(data_dir), ORIGIN, SystemClock(), served).expires is None


def test_commits_of_many_zones_go_in_together_and_a_failure_stays_its_own(tmp_path):
    from hiddenprimary.reload.commit import commit_many

    data_dir = str(tmp_path)
    served = ServedSerials(data_dir, 0)
    db = JournalDb(os.path.join(data_dir, "journal.sqlite"))
    other = dns.name.from_text("example.net.")
    cfg = ZoneConfig(ORIGIN, "unused", (), "increment", None)
    net_cfg = ZoneConfig(other, "unused", (), "increment", None)
    first = make_version(1, {("www", "A"): (60, ("192.0.2.1",))})
    jobs = [(db.journal(ORIGIN), ReloadPlan("example.com", None, first, None, ()), cfg),
            (db.journal(other), ReloadPlan("example.net", None, _net_version(5), None, ()), net_cfg)]
    infos = commit_many(jobs, served)
    assert [i.last_serial for i in infos] == [1, 5] and (served.get(ORIGIN), served.get(other)) == (1, 5)
    # A zone whose journal cannot be written (another file, locked by another process) fails
    # alone; the others are committed one by one.
    locked_path = str(tmp_path / "locked.sqlite")
    locked = Journal(locked_path, ORIGIN, lock_wait=0.1)
    holder = sqlite3.connect(locked_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds it past our busy wait
    locked._db.execute("PRAGMA busy_timeout=100")
    second = make_version(2, {("www", "A"): (60, ("192.0.2.2",))})
    results = commit_many([(db.journal(ORIGIN), ReloadPlan("example.com", first, second, diff(first, second), ()), cfg),
                           (locked, ReloadPlan("example.com", None, first, None, ()), cfg)], served)
    holder.execute("ROLLBACK")
    holder.close()
    assert results[0].last_serial == 2 and isinstance(results[1], JournalError)
    assert served.get(ORIGIN) == 2


def test_a_zone_gets_its_id_with_its_first_write_and_loses_it_if_that_rolls_back(tmp_path):
    path = str(tmp_path / "journal.sqlite")
    db = JournalDb(path)
    j = db.journal(ORIGIN)
    assert j.read_all().version is None and j.info().last_serial is None
    assert db.db.execute("SELECT count(*) FROM zones").fetchone()[0] == 0  # reading writes nothing
    v = make_version(3, {("www", "A"): (60, ("192.0.2.1",))})
    with pytest.raises(RuntimeError):
        with db.transaction():  # as a batch of commits that fails after this zone's part
            j.save_first(v)
            raise RuntimeError("the batch failed")
    assert db.db.execute("SELECT count(*) FROM zones").fetchone()[0] == 0 and j.load() is None
    j.save_first(v)
    db.close()
    assert JournalDb(path).journal(ORIGIN).load().serial == 3
