"""The writer process: same rows as the writer thread, idempotent, and survived when it fails."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from test_store_failures import emit, read_only, sequences

from otel_obs.config import attach, get_pipeline, resolve_writer
from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.jsonl import transcript_path
from otel_obs.exporters.process_store import ProcessStore
from otel_obs.exporters.store_choice import process_store, thread_store

TABLES = ("transcript_entries", "tool_uses", "tasks", "build_agent_instances", "message_bus_log")


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every row of the tables a run fills, without the columns that hold wall-clock times."""
    conn = sqlite3.connect(db)
    out = {}
    for table in TABLES:
        columns = [
            r[1]
            for r in conn.execute(f"PRAGMA table_info({table})")
            if r[1] not in ("last_heartbeat_at",)
        ]
        out[table] = sorted(conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall())
    conn.close()
    return out


def run_into(store, spans_out: InMemorySpanExporter | None = None, n_tools: int = 5) -> int:
    provider = TracerProvider()
    if spans_out is not None:
        provider.add_span_processor(SimpleSpanProcessor(spans_out))
    pipeline = attach(provider, store)
    entries = emit(pipeline, "exec-w", n_tools)
    assert pipeline.flush(30)
    return entries


def test_both_modes_store_the_same_rows(tmp_path: Path):
    memory = InMemorySpanExporter()
    entries = run_into(thread_store(tmp_path / "live.db", tmp_path / "live"), memory)
    spans = memory.get_finished_spans()
    # The same recorded spans through a writer thread and through a writer process.
    stats = {}
    for mode, kind in (("thread", thread_store), ("process", process_store)):
        store = kind(tmp_path / f"{mode}.db", tmp_path / mode)
        assert SqliteSpanExporter(store).export(spans).name == "SUCCESS"  # type: ignore[arg-type]
        assert store.flush(30)
        stats[mode] = store.stats()
        store.close()
    assert stats["process"]["writer"] == "process" and stats["process"]["failures"] == 0
    thread_rows, process_rows = snapshot(tmp_path / "thread.db"), snapshot(tmp_path / "process.db")
    assert len(thread_rows["transcript_entries"]) == entries
    assert process_rows == thread_rows
    lines = transcript_path(tmp_path / "process", "exec-w").read_text().splitlines()
    assert sorted(json.loads(line)["sequence"] for line in lines) == list(range(1, entries + 1))


def test_redelivery_through_the_writer_process_changes_nothing(tmp_path: Path):
    memory = InMemorySpanExporter()
    store = process_store(tmp_path / "obs.db", tmp_path / "t")
    entries = run_into(store, memory)
    before = snapshot(tmp_path / "obs.db")
    exporter = SqliteSpanExporter(store)  # type: ignore[arg-type]
    exporter.export(memory.get_finished_spans())
    exporter.export(memory.get_finished_spans())
    assert store.flush(30)
    store.close()
    assert snapshot(tmp_path / "obs.db") == before
    assert len(before["transcript_entries"]) == entries
    lines = transcript_path(tmp_path / "t", "exec-w").read_text().splitlines()
    assert len(lines) == entries


def test_a_dead_writer_process_is_counted_and_replaced_without_loss(tmp_path: Path):
    store = process_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=20)
    first = run_into(store)
    pid = store.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    provider = TracerProvider()
    pipeline = attach(provider, store)
    # Written while the writer process is dead or dying: nothing may raise or be lost.
    second = emit(pipeline, "exec-after", 20)
    assert pipeline.flush(30)
    stats = store.stats()
    store.close()
    assert stats["writer_process_failures"] == 1 and stats["writer"] == "thread"
    assert stats["failures_by_kind"].get("writer_process") == 1
    conn = sqlite3.connect(tmp_path / "obs.db")
    for execution, expected in (("exec-w", first), ("exec-after", second)):
        assert sequences(conn, execution) == list(range(1, expected + 1)), execution


def test_a_writer_process_that_cannot_start_falls_back(tmp_path: Path, monkeypatch):
    import otel_obs.exporters.process_store as wp

    def cannot_start(*args, **kwargs):
        raise OSError("no interpreter")

    monkeypatch.setattr(wp, "_spawn", cannot_start)  # the OS refusing, not our code
    store = process_store(tmp_path / "obs.db", tmp_path / "t")
    entries = run_into(store)
    stats = store.stats()
    store.close()
    assert stats["writer_process_failures"] == 1 and stats["writer"] == "thread"
    conn = sqlite3.connect(tmp_path / "obs.db")
    assert conn.execute("SELECT count(*) FROM transcript_entries").fetchone() == (entries,)


def test_read_only_database_directory_in_the_writer_process(tmp_path: Path):
    db_dir = tmp_path / "ro"
    db_dir.mkdir()
    with read_only(db_dir):
        store = process_store(db_dir / "obs.db", tmp_path / "transcripts")
        entries = run_into(store)  # no exception reaches the caller
        stats = store.stats()
        store.close()
    assert stats["failures"] >= 1 and stats["dropped_rows"] > 0 and not stats["sqlite_ok"]
    assert stats["writer"] == "process"  # a storage failure is not a writer failure
    lines = transcript_path(tmp_path / "transcripts", "exec-w").read_text().splitlines()
    assert len(lines) == entries and {json.loads(x)["sequence"] for x in lines} == {None}


def test_writer_mode_comes_from_the_argument_then_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("OTEL_OBS_WRITER", raising=False)
    assert resolve_writer() == "process"
    monkeypatch.setenv("OTEL_OBS_WRITER", "thread")
    assert resolve_writer() == "thread"
    assert resolve_writer("process") == "process"
    with pytest.raises(ValueError, match="'fork'.*thread, process"):
        resolve_writer("fork")
    monkeypatch.setenv("OTEL_OBS_WRITER", "bogus")
    with pytest.raises(ValueError, match="OTEL_OBS_WRITER='bogus'"):
        resolve_writer()
    pipeline = get_pipeline(tmp_path / "obs.db", writer="process")
    try:
        assert isinstance(pipeline.store, ProcessStore)
    finally:
        pipeline.shutdown()
    monkeypatch.delenv("OTEL_OBS_WRITER")
    pipeline = get_pipeline(tmp_path / "default.db")
    try:
        assert isinstance(pipeline.store, ProcessStore)
        assert pipeline.flush(10) and (tmp_path / "default.db").exists()
    finally:
        pipeline.shutdown()


def test_close_ends_the_writer_process(tmp_path: Path):
    store = process_store(tmp_path / "obs.db", tmp_path / "t")
    pid = store.writer_pid
    assert pid is not None and store.flush(30)
    started = time.monotonic()
    assert store.close(30)
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stats_follow_the_writes_without_a_flush(tmp_path: Path):
    store = process_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=10)
    try:
        pipeline = attach(TracerProvider(), store)
        entries = emit(pipeline, "exec-s", 20)
        deadline = time.monotonic() + 10
        while store.stats()["entries_written"] < entries and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = store.stats()
        assert stats["entries_written"] == entries and stats["writer"] == "process"
        assert stats["rows_written"] > entries and stats["batches"] >= 1
    finally:
        store.close()
