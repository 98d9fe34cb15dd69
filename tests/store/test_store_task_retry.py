"""A task retried in the same execution: its row is the latest attempt's.

Fleets retry a failed task in a later wave, often on another agent. The
``tasks`` row then follows the retry (in progress, its agent, its wave, no
error) instead of keeping the failed attempt's status, agent, wave and
error; a row of the earlier attempt that arrives late (re-delivery, another
exporter) changes nothing. The transcript keeps both attempts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_obs import conventions as c
from otel_obs.config import attach
from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.store_choice import process_store, thread_store
from otel_obs.transcript_writer import TranscriptWriter

COLUMNS = "status, instance_id, wave_number, started_at, completed_at, duration_ms, error"
FAILED = {"entry_type": "task_end", "task_id": "T1", "details": {"status": "failed", "error": "x"}}


def task_row(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(db)
    try:
        [row] = conn.execute(f"SELECT {COLUMNS} FROM tasks WHERE id = 'T1'").fetchall()
    finally:
        conn.close()
    return dict(zip(COLUMNS.split(", "), row, strict=True))


def attempt(pipeline, agent: str, wave: int) -> TranscriptWriter:
    writer = TranscriptWriter("exec-r", agent, wave_number=wave, pipeline=pipeline)
    writer.write({"entry_type": "task_start", "task_id": "T1", "details": {"title": "build"}})
    return writer


def task_spans(memory: InMemorySpanExporter, agent: str) -> list:
    return [
        s
        for s in memory.get_finished_spans()
        if (s.attributes or {}).get(c.KIND) == c.KIND_TASK
        and (s.attributes or {}).get(c.INSTANCE_ID) == agent
    ]


@pytest.mark.parametrize("kind", [thread_store, process_store], ids=["thread", "process"])
def test_a_retry_in_a_later_wave_is_the_tasks_row(tmp_path: Path, kind):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    store = kind(tmp_path / "obs.db", tmp_path / "t")
    pipeline = attach(provider, store)
    try:
        first = attempt(pipeline, "agent-1", 1)
        first.write(FAILED)
        first.close()
        assert pipeline.flush(10)
        failed = task_row(store.db_path)
        assert (failed["status"], failed["instance_id"], failed["error"]) == (
            "failed",
            "agent-1",
            "x",
        )

        second = attempt(pipeline, "agent-2", 2)
        assert pipeline.flush(10)
        running = task_row(store.db_path)
        assert running["started_at"] > failed["started_at"]
        assert {k: running[k] for k in ("status", "instance_id", "wave_number")} == {
            "status": "in_progress",
            "instance_id": "agent-2",
            "wave_number": 2,
        }
        assert (running["completed_at"], running["duration_ms"], running["error"]) == (None,) * 3

        second.write({"entry_type": "task_end", "task_id": "T1"})
        second.close()
        assert pipeline.flush(10)
        done = task_row(store.db_path)
        assert (done["status"], done["instance_id"], done["error"]) == (
            "completed",
            "agent-2",
            None,
        )
        assert done["started_at"] == running["started_at"] and done["completed_at"] is not None

        # The first attempt's spans delivered again, late: the row stays the retry's.
        exporter = SqliteSpanExporter(store)
        exporter.export(task_spans(memory, "agent-1"))
        assert exporter.force_flush()
        assert task_row(store.db_path) == done
    finally:
        pipeline.shutdown()
    conn = sqlite3.connect(tmp_path / "obs.db")
    ends = conn.execute(
        "SELECT instance_id, json_extract(details, '$.status') FROM transcript_entries"
        " WHERE entry_type = 'task_end' ORDER BY sequence"
    ).fetchall()
    conn.close()
    assert ends == [("agent-1", "failed"), ("agent-2", "completed")]  # the transcript keeps both


def test_both_attempts_in_one_batch_give_the_same_row(tmp_path: Path):
    store = thread_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=60_000)
    pipeline = attach(TracerProvider(), store)
    try:
        first = attempt(pipeline, "agent-1", 1)
        first.write(FAILED)
        second = attempt(pipeline, "agent-2", 2)
        second.write({"entry_type": "task_end", "task_id": "T1"})
        assert store.stats()["batches"] == 0  # all of it waits for one write
        assert pipeline.flush(10)
        row = task_row(store.db_path)
        first.close()
        second.close()
    finally:
        pipeline.shutdown()
    assert (row["status"], row["instance_id"], row["wave_number"], row["error"]) == (
        "completed",
        "agent-2",
        2,
        None,
    )
