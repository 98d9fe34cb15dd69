"""A full queue makes the producer wait (bounded) for room; only then is an item dropped."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from otel_obs.exporters.mapping import Rows
from otel_obs.exporters.store_choice import thread_store

ITEMS = 40


def run_row(n: int) -> Rows:
    rows = Rows()
    rows.add("task_list_execution_runs", {"id": f"e{n}", "started_at": "2026-01-01T00:00:00Z"})
    return rows


def hold_write_lock(db: Path) -> sqlite3.Connection:
    blocker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    return blocker


def stored(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM task_list_execution_runs").fetchone()[0]
    finally:
        conn.close()


# The writer process has the same wait, but its pipe's buffer absorbs a small
# queue's worth of items before the wait can start; these tests use the thread.
@pytest.mark.parametrize("kind", [thread_store])
def test_a_slow_store_slows_the_producer_and_loses_nothing(tmp_path: Path, kind):
    db = tmp_path / "obs.db"
    store = kind(
        db, tmp_path / "t", queue_capacity=4, batch_items=2, flush_interval_ms=10,
        busy_timeout_ms=20_000, block_timeout_ms=10_000,
    )  # fmt: skip
    assert store.flush(30)  # the database exists: the writer can be held on its lock
    blocker = hold_write_lock(db)
    release_after = 0.6
    threading.Timer(release_after, blocker.execute, ("ROLLBACK",)).start()
    started = time.monotonic()
    accepted = sum(store.put_rows(run_row(n)) for n in range(ITEMS))
    waited = time.monotonic() - started
    assert store.flush(30)
    stats = store.stats()
    store.close()
    blocker.close()
    assert accepted == ITEMS and stats["queue_overflow"] == 0
    assert stats["queue_waits"] > 0 and waited >= release_after * 0.8
    assert stored(db) == ITEMS


@pytest.mark.parametrize("kind", [thread_store])
def test_when_the_wait_runs_out_items_are_dropped_and_counted(tmp_path: Path, kind):
    db = tmp_path / "obs.db"
    store = kind(
        db, tmp_path / "t", queue_capacity=4, batch_items=2, flush_interval_ms=10,
        busy_timeout_ms=20_000, block_timeout_ms=50,
    )  # fmt: skip
    assert store.flush(30)
    blocker = hold_write_lock(db)
    started = time.monotonic()
    accepted = sum(store.put_rows(run_row(n)) for n in range(ITEMS))
    waited = time.monotonic() - started
    blocker.execute("ROLLBACK")
    blocker.close()
    assert store.flush(30)
    stats = store.stats()
    store.close()
    dropped = ITEMS - accepted
    assert dropped > 1 and stats["queue_overflow"] == dropped
    # One wait ran its bounded time; while the writer stayed stuck, the rest
    # dropped at once instead of each waiting its time (a hung disk).
    assert 0.05 * 0.8 <= waited < 0.05 * 3 + 0.5
    assert stored(db) == accepted
