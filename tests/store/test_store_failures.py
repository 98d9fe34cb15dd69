"""Storage trouble never reaches the agent: it is counted, logged once, and survived."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from span_factory import AGENT, SpanFactory, current

from otel_obs.config import get_pipeline
from otel_obs.exporters.items import Op
from otel_obs.exporters.jsonl import transcript_path
from otel_obs.exporters.mapping import Rows
from otel_obs.exporters.store_choice import thread_store


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make ``paths`` unwritable, also for root (which ignores permission bits)."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a directory read-only")
        for path in paths:
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if done.returncode != 0:
                pytest.skip(f"cannot make {path} immutable: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            for path in paths:
                subprocess.run(["chattr", "-i", str(path)], check=False)
    else:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


def emit(pipeline, execution: str, n_tools: int = 3) -> int:
    """A task with a decision and ``n_tools`` tool uses; returns the number of entries."""
    f = SpanFactory(pipeline.tracer, execution, AGENT)
    agent = f.agent()
    with current(agent):
        task = f.task("T1", f"{execution}-ts")
        with current(task):
            pipeline.add_event(task, "obs.decision", f.entry_attrs(f"{execution}-d", "decision"))
            for i in range(n_tools):
                f.end_tool(f.tool(f"{execution}-tu{i}", f"{execution}-te{i}"))
        f.end_task(task, f"{execution}-te")
    agent.end()
    return 3 + n_tools


def sequences(conn: sqlite3.Connection, execution: str) -> list[int]:
    """The execution's entry sequence numbers, in order (1..n when none is missing)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT sequence FROM transcript_entries WHERE execution_id = ? ORDER BY 1",
            (execution,),
        )
    ]


def jsonl(transcripts: Path, execution: str) -> list[dict]:
    path = transcript_path(transcripts, execution)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_read_only_database_directory(tmp_path: Path):
    db_dir = tmp_path / "ro"
    db_dir.mkdir()
    with read_only(db_dir):
        pipe = get_pipeline(db_dir / "obs.db", tmp_path / "transcripts")
        entries = emit(pipe, "exec-ro")  # no exception reaches the caller
        assert pipe.flush(10)
        stats = pipe.store.stats()
        pipe.shutdown()
    assert stats["failures"] >= 1 and stats["dropped_rows"] > 0 and not stats["sqlite_ok"]
    assert not (db_dir / "obs.db").exists()
    # The transcript survives in JSONL, without sequence numbers.
    lines = jsonl(tmp_path / "transcripts", "exec-ro")
    assert len(lines) == entries and {line["sequence"] for line in lines} == {None}


def test_read_only_existing_database(tmp_path: Path):
    db_dir = tmp_path / "db"
    first = thread_store(db_dir / "obs.db", tmp_path / "t")
    first.close()
    with read_only(db_dir / "obs.db", db_dir):
        pipe = get_pipeline(db_dir / "obs.db", tmp_path / "t")
        emit(pipe, "exec-ro2")
        assert pipe.flush(10)
        stats = pipe.store.stats()
        pipe.shutdown()
    assert stats["failures"] >= 1
    assert sqlite3.connect(db_dir / "obs.db").execute(
        "SELECT count(*) FROM transcript_entries"
    ).fetchone() == (0,)


def test_vanished_directory_is_recreated_and_writing_goes_on(tmp_path: Path):
    db_dir, transcripts = tmp_path / "db", tmp_path / "transcripts"
    pipe = get_pipeline(db_dir / "obs.db", transcripts)
    emit(pipe, "exec-a")
    assert pipe.flush(10)
    shutil.rmtree(db_dir)
    shutil.rmtree(transcripts)
    entries = emit(pipe, "exec-b")
    assert pipe.flush(10)
    stats = pipe.store.stats()
    pipe.shutdown()
    assert stats["failures_by_kind"].get("vanished") == 1
    conn = sqlite3.connect(db_dir / "obs.db")
    assert conn.execute("SELECT DISTINCT execution_id FROM transcript_entries").fetchall() == [
        ("exec-b",)
    ]
    sequences = [r[0] for r in conn.execute("SELECT sequence FROM transcript_entries")]
    assert sorted(sequences) == list(range(1, entries + 1))
    assert len(jsonl(transcripts, "exec-b")) == entries


def test_a_directory_that_cannot_come_back_still_gets_jsonl(tmp_path: Path):
    db_dir, transcripts = tmp_path / "db", tmp_path / "transcripts"
    pipe = get_pipeline(db_dir / "obs.db", transcripts)
    emit(pipe, "exec-a")
    assert pipe.flush(10)
    shutil.rmtree(db_dir)
    db_dir.write_text("a file where the database folder was")
    entries = emit(pipe, "exec-c")
    assert pipe.flush(10)
    stats = pipe.store.stats()
    pipe.shutdown()
    assert stats["failures"] >= 2 and stats["dropped_rows"] > 0 and not stats["sqlite_ok"]
    assert "vanished" in stats["failures_by_kind"]
    lines = jsonl(transcripts, "exec-c")
    assert len(lines) == entries and {line["sequence"] for line in lines} == {None}


def test_locked_beyond_the_timeout_keeps_the_batch_and_writes_it_once_free(tmp_path: Path):
    store = thread_store(tmp_path / "obs.db", tmp_path / "t", busy_timeout_ms=100)
    assert store.flush(10)  # opened and migrated
    blocker = sqlite3.connect(tmp_path / "obs.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    rows = Rows()
    rows.add("task_list_execution_runs", {"id": "exec-l", "started_at": "2026-01-01T00:00:00Z"})
    store.put_rows(rows)
    assert not store.flush(0.5)  # kept, waiting for the lock: not stored yet
    stats = store.stats()
    assert stats["failures_by_kind"]["locked"] >= 1 and stats["dropped_rows"] == 0
    blocker.execute("ROLLBACK")
    blocker.close()
    assert store.flush(10)
    stats = store.stats()
    store.close()
    assert stats["dropped_rows"] == 0 and stats["retries"] >= 1
    conn = sqlite3.connect(tmp_path / "obs.db")
    assert conn.execute("SELECT id FROM task_list_execution_runs").fetchall() == [("exec-l",)]


def test_queue_overflow_is_counted_not_silent(tmp_path: Path):
    store = thread_store(
        tmp_path / "obs.db",
        tmp_path / "t",
        queue_capacity=10,
        flush_interval_ms=60_000,
        block_timeout_ms=0,  # no waiting for room: a full queue drops at once
    )
    accepted = 0
    for n in range(25):
        rows = Rows()
        rows.add("task_list_execution_runs", {"id": f"e{n}", "started_at": "2026-01-01T00:00:00Z"})
        accepted += store.put_rows(rows)
    assert (accepted, store.stats()["queue_overflow"]) == (10, 15)
    assert store.flush(10)
    store.close()
    conn = sqlite3.connect(tmp_path / "obs.db")
    assert conn.execute("SELECT count(*) FROM task_list_execution_runs").fetchone() == (10,)


@pytest.mark.internal_errors_allowed  # the item's mapping raises on purpose
def test_an_item_that_cannot_be_mapped_is_counted_and_the_rest_is_written(tmp_path: Path):
    store = thread_store(tmp_path / "obs.db", tmp_path / "t")

    def broken(rows: Rows) -> None:
        raise KeyError("boom")

    rows = Rows()
    rows.add("task_list_execution_runs", {"id": "e-ok", "started_at": "2026-01-01T00:00:00Z"})
    store.put((Op.SPAN, broken))  # not a span: its mapping raises
    store.put_rows(rows)
    assert store.flush(10)
    assert store.stats()["mapping_errors"] == 1
    store.close()
    conn = sqlite3.connect(tmp_path / "obs.db")
    assert conn.execute("SELECT id FROM task_list_execution_runs").fetchall() == [("e-ok",)]


@pytest.mark.parametrize(
    ("name", "value"),
    [("flush_interval_ms", 0), ("queue_capacity", -1), ("batch_items", "10")],
)
def test_bad_settings_raise_naming_the_setting(tmp_path: Path, name: str, value):
    with pytest.raises(ValueError, match=name):
        thread_store(tmp_path / "obs.db", tmp_path / "t", **{name: value})
