"""A writer process's store checkpoints its WAL on a thread of its own, not in its commits."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from otel_obs.exporters.items import Op
from otel_obs.exporters.mapping import Rows
from otel_obs.exporters.wal_checkpoint import CHECKPOINT_ROWS
from otel_obs.exporters.writer import StoreWriter


def runs(first: int, count: int) -> Rows:
    rows = Rows()
    for n in range(first, first + count):
        rows.add("task_list_execution_runs", {"id": f"e{n}", "started_at": "2026-01-01T00:00:00Z"})
    return rows


def in_database_file(db: Path) -> int:
    """Rows in the database file itself, ignoring the WAL (what checkpoints have copied)."""
    for _ in range(50):
        conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
        try:
            return conn.execute("SELECT count(*) FROM task_list_execution_runs").fetchone()[0]
        except sqlite3.OperationalError:  # not even the schema has been copied yet
            return 0
        except sqlite3.DatabaseError:
            # Read while a checkpoint was copying pages in ("malformed"): an
            # immutable reader takes no lock, so it can see a half-copied file.
            time.sleep(0.02)
        finally:
            conn.close()
    raise AssertionError("the database file never read whole")


def test_committed_rows_reach_the_database_file_while_the_writer_stays_open(tmp_path: Path):
    db = tmp_path / "obs.db"
    store = StoreWriter(db, tmp_path / "t", dedicated=True)
    total = CHECKPOINT_ROWS + 10
    store.write_items([(Op.ROWS, runs(0, total))])
    conn = store._conn
    assert conn is not None
    # The writer's own connection never checkpoints automatically...
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    deadline = time.monotonic() + 10
    while in_database_file(db) < total and time.monotonic() < deadline:
        time.sleep(0.02)
    # ...yet everything committed is in the database file: the checkpoint thread copied it.
    assert in_database_file(db) == total
    store.close()


def test_few_rows_stay_in_the_wal_until_the_threshold(tmp_path: Path):
    db = tmp_path / "obs.db"
    store = StoreWriter(db, tmp_path / "t", dedicated=True)
    store.write_items([(Op.ROWS, runs(0, 5))])
    time.sleep(0.2)
    assert in_database_file(db) == 0  # below the threshold: no checkpoint (and no sync) yet
    store.write_items([(Op.ROWS, runs(5, CHECKPOINT_ROWS))])
    deadline = time.monotonic() + 10
    while in_database_file(db) < CHECKPOINT_ROWS + 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_database_file(db) == CHECKPOINT_ROWS + 5
    store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM task_list_execution_runs").fetchone() == (
        CHECKPOINT_ROWS + 5,
    )
    conn.close()
