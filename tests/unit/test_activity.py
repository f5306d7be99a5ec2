"""activity.Activity: SOA queries are counted in memory on the caller's thread and written in
batches elsewhere (issue 11 item 11); the totals shown never depend on how far a flush got."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from hiddenprimary.transfer.activity import Activity


class _NoSqlite:
    """Stands in for the main connection: any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"sqlite used on the recording thread ({name})")


def _rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT zone, secondary, peer, count, last_at FROM soa_queries ORDER BY peer").fetchall()


def test_recording_soa_queries_touches_no_sqlite(tmp_path):
    activity = Activity(str(tmp_path))
    main_db, activity._db = activity._db, _NoSqlite()
    for i in range(1000):
        activity.soa_query("example.com", "lab", "127.0.0.2" if i % 2 else "127.0.0.3", 100.0 + i)
    activity._db = main_db
    assert activity.secondary_view("example.com", "lab")["soa_queries"] == 1000
    assert activity.secondary_view("example.com", "lab")["last_soa_query"] == 1099.0
    assert _rows(activity.path) == []  # nothing written yet


def test_flush_in_another_thread_writes_one_batch_and_totals_stay_exact(tmp_path):
    activity = Activity(str(tmp_path))
    for i in range(300):
        activity.soa_query("example.com", "lab", "127.0.0.2", 100.0 + i)
    batch = activity.take_soa_queries()
    assert activity.take_soa_queries() == {}  # handed over once
    activity.soa_query("example.com", "lab", "127.0.0.2", 500.0)  # while the batch is in flight
    assert activity.secondary_view("example.com", "lab")["soa_queries"] == 301
    errors = []

    def flush():
        try:
            activity.write_soa_queries(batch, worker=True)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    worker = threading.Thread(target=flush)
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and errors == []
    assert _rows(activity.path) == [("example.com", "lab", "127.0.0.2", 300, 399.0)]
    assert activity.secondary_view("example.com", "lab")["soa_queries"] == 301  # not counted twice
    activity.write_soa_queries(activity.take_soa_queries())  # at shutdown: on this thread
    assert _rows(activity.path) == [("example.com", "lab", "127.0.0.2", 301, 500.0)]
    activity.close()
    again = Activity(str(tmp_path))  # after a restart the totals come from the table
    assert again.secondary_view("example.com", "lab")["soa_queries"] == 301
    assert again.secondary_view("example.com", "open")["soa_queries"] == 0


def test_a_failed_flush_is_written_by_the_next(tmp_path):
    activity = Activity(str(tmp_path))
    for _ in range(5):
        activity.soa_query("example.com", "lab", "127.0.0.2", 100.0)
    batch = activity.take_soa_queries()
    activity._db.execute("DROP TABLE soa_queries")
    with pytest.raises(sqlite3.Error):
        activity.write_soa_queries(batch)
    activity.return_soa_queries(batch)
    activity.soa_query("example.com", "lab", "127.0.0.2", 200.0)
    activity._db.executescript("CREATE TABLE soa_queries (zone TEXT NOT NULL, secondary TEXT NOT NULL,"
                               " peer TEXT NOT NULL, count INTEGER NOT NULL, last_at REAL NOT NULL,"
                               " PRIMARY KEY (zone, secondary, peer))")
    activity.write_soa_queries(activity.take_soa_queries())
    assert _rows(activity.path) == [("example.com", "lab", "127.0.0.2", 6, 200.0)]
