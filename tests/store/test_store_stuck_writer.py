"""A writer that stops progressing costs the agent one bounded wait, and shutdown a bounded time."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from test_store_failures import emit

from otel_obs.config import attach
from otel_obs.exporters.store_choice import process_store, thread_store

BLOCK_S = 0.3


def timed_emits(pipeline, rounds: int) -> list[float]:
    """Seconds each round of a task with 20 tool uses took the agent."""
    took = []
    for i in range(rounds):
        started = time.monotonic()
        emit(pipeline, f"exec-{i}", 20)
        took.append(time.monotonic() - started)
    return took


def test_a_frozen_writer_process_costs_one_wait_then_drops_at_once(tmp_path: Path):
    store = process_store(
        tmp_path / "obs.db", tmp_path / "t", queue_capacity=50, flush_interval_ms=10,
        block_timeout_ms=int(BLOCK_S * 1000),
    )  # fmt: skip
    pipeline = attach(TracerProvider(), store)
    assert store.flush(30)
    pid = store.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the writer stops progressing, as on a hung disk
    try:
        took = timed_emits(pipeline, 200)  # far more than the queue and the pipe hold
        stats = store.stats()
        assert stats["queue_overflow"] > 0  # what could not be held is counted
        # One wait ran its time; every later call that met the full queue dropped at once.
        assert sum(took) < BLOCK_S * 3 + 2.0, sum(took)
        started = time.monotonic()
        store.close(2.0)
        assert time.monotonic() - started < 2.0 + 1.5  # shutdown is bounded too
        assert store.stats()["lost_items"] > 0  # what the frozen writer held is counted
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_a_writer_thread_held_off_the_database_costs_one_wait_then_drops(tmp_path: Path):
    db = tmp_path / "obs.db"
    store = thread_store(
        db, tmp_path / "t", queue_capacity=50, flush_interval_ms=10, busy_timeout_ms=50,
        block_timeout_ms=int(BLOCK_S * 1000),
    )  # fmt: skip
    pipeline = attach(TracerProvider(), store)
    assert store.flush(30)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the writer keeps its batch and retries, taking no more
    took = timed_emits(pipeline, 100)
    assert sum(took) < BLOCK_S * 3 + 2.0, sum(took)
    overflow = store.stats()["queue_overflow"]
    assert overflow > 0
    blocker.execute("ROLLBACK")
    blocker.close()
    assert store.flush(30)
    # Room again: the next calls are accepted and stored.
    emit(pipeline, "exec-after", 3)
    assert store.flush(30)
    stats = store.stats()
    store.close()
    assert stats["queue_overflow"] == overflow and stats["dropped_rows"] == 0
    conn = sqlite3.connect(db)
    assert conn.execute(
        "SELECT count(*) FROM tool_uses WHERE execution_id = 'exec-after'"
    ).fetchone() == (3,)
