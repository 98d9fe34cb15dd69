"""A tool span's end joins its start while the start still waits in the queue.

Checked on real SDK spans and real stores: the queue holds one item per
joined tool use, a start the consumer has taken keeps its end as an item of
its own, and under many threads ending tools while the consumer drains (the
race the claim guards) every tool use is stored whole, in both writer modes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_obs import conventions as c
from otel_obs.config import attach
from otel_obs.exporters.items import Op, OpenStart
from otel_obs.exporters.mapping import (
    map_span,
)
from otel_obs.exporters.span_record import SpanRecord
from otel_obs.exporters.store_choice import Store, process_store, thread_store
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import TranscriptWriter

TOOL = {c.KIND: c.KIND_TOOL, c.EXECUTION_ID: "exec-j", c.INSTANCE_ID: "agent-1"}


@pytest.fixture
def idle_store(tmp_path: Path):
    """A store whose consumer only wakes on flush: the queue can be looked at."""
    store = thread_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=60_000)
    yield store
    store.close()


def queued(store: Store) -> list[tuple]:
    return [  # noqa: SLF001 - what the consumer sees
        item.item() if isinstance(item, OpenStart) else tuple(item[:2]) for item in store._queue
    ]


def test_an_end_joins_its_waiting_start_into_one_item(idle_store: Store):
    tracer = TracerProvider().get_tracer("t")
    tool = tracer.start_span("execute_tool Read", attributes=TOOL)
    idle_store.put_start(tool)
    tool.end()
    ended = tool._readable_span()  # noqa: SLF001 - what the SDK hands on_end
    assert idle_store.put_end(ended)
    [(function, record)] = queued(idle_store)
    # A snapshot of the ended span, not the span: the SDK's objects are freed at once.
    assert function is Op.START_END and isinstance(record, SpanRecord)
    assert (record.name, dict(record.attributes)) == (ended.name, dict(ended.attributes))
    assert (record.context.trace_id, record.context.span_id) == (
        ended.context.trace_id,
        ended.context.span_id,
    )
    assert (record.start_time, record.end_time) == (ended.start_time, ended.end_time)


def test_an_end_with_events_or_of_another_span_stays_an_item_of_its_own(idle_store: Store):
    tracer = TracerProvider().get_tracer("t")
    tool = tracer.start_span("execute_tool Read", attributes=TOOL)
    task = tracer.start_span("task T1", attributes={**TOOL, c.KIND: c.KIND_TASK})
    idle_store.put_start(tool)
    task.end()
    idle_store.put_end(task)  # not a waiting tool start: queued as an end
    tool.add_event("obs.decision", {"why": "x"})
    tool.end()
    idle_store.put_end(tool)  # its events' entries belong at its end: no join
    assert queued(idle_store) == [
        (Op.START, tool),
        (Op.END, task),
        (Op.END, tool),
    ]


def test_a_start_the_consumer_took_keeps_its_end_separate(tmp_path: Path):
    store = thread_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=60_000)
    pipeline = attach(TracerProvider(), store)
    try:
        writer = TranscriptWriter("exec-j", "agent-1", pipeline=pipeline)
        tools = ToolUseLogger(writer)
        tool_id = tools.log_start({"id": "toolu_slow", "name": "Bash", "input": {"command": "x"}})
        assert pipeline.flush(10)  # the consumer takes (and writes) the start
        conn = sqlite3.connect(store.db_path)
        assert conn.execute("SELECT result_status FROM tool_uses").fetchall() == [(None,)]
        tools.log_end(tool_id, {"content": "done", "is_error": False})
        assert queued(store) == [(Op.END, queued(store)[0][1])]
        writer.close()
        assert pipeline.flush(10)
        assert conn.execute("SELECT result_status, output FROM tool_uses").fetchall() == [
            ("done", "done")
        ]
        conn.close()
    finally:
        pipeline.shutdown()


@pytest.mark.parametrize("kind", [thread_store, process_store], ids=["thread", "process"])
def test_many_threads_ending_tools_while_the_consumer_drains_lose_nothing(tmp_path, kind):
    store = kind(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=1)
    pipeline = attach(TracerProvider(), store)
    threads, per_thread = 6, 1500
    try:

        def agent(n: int) -> None:
            writer = TranscriptWriter("exec-j", f"agent-{n}", pipeline=pipeline)
            tools = ToolUseLogger(writer)
            for i in range(per_thread):
                tool_id = tools.log_start({"id": f"t{n}-{i}", "name": "Read", "input": {}})
                tools.log_end(tool_id, {"content": str(i), "is_error": False})
            writer.close()

        workers = [threading.Thread(target=agent, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert pipeline.flush(60)
    finally:
        pipeline.shutdown()
    conn = sqlite3.connect(tmp_path / "obs.db")
    rows = conn.execute(
        "SELECT count(*), count(end_time), sum(result_status = 'done') FROM tool_uses"
    ).fetchone()
    entries = conn.execute(
        "SELECT count(*), count(DISTINCT sequence), min(sequence), max(sequence)"
        " FROM transcript_entries WHERE entry_type = 'tool_use'"
    ).fetchone()
    conn.close()
    total = threads * per_thread
    assert rows == (total, total, total)
    assert entries[:2] == (total, total)


def log_tools(pipeline, execution_id: str, n: int) -> None:
    tools = ToolUseLogger(TranscriptWriter(execution_id, "agent-1", pipeline=pipeline))
    for i in range(n):
        tool_id = tools.log_start({"id": f"{execution_id}-{i}", "name": "Read", "input": {}})
        tools.log_end(tool_id, {"content": f"out {i}", "is_error": False})


def stored_tools(db: Path, execution_id: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT id, result_status, output FROM tool_uses WHERE execution_id = ? ORDER BY id",
            (execution_id,),
        ).fetchall()
    finally:
        conn.close()


def expected_tools(execution_id: str, n: int) -> list[tuple]:
    return sorted((f"{execution_id}-{i}", "done", f"out {i}") for i in range(n))


def test_a_process_store_queues_a_joined_tool_use_as_its_wire_record(tmp_path: Path):
    store = process_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=60_000)
    pipeline = attach(TracerProvider(), store)
    try:
        log_tools(pipeline, "exec-w", 3)
        joined = [item for item in queued(store) if item[0] is Op.START_END]
        # Snapshotted when the tool ended: no SDK span waits in the queue.
        assert len(joined) == 3 and all(type(item[1]) is tuple for item in joined)
        assert pipeline.flush(10)
        assert stored_tools(store.db_path, "exec-w") == expected_tools("exec-w", 3)
    finally:
        pipeline.shutdown()


def test_joined_tool_uses_queued_when_the_writer_process_dies_reach_the_fallback(tmp_path):
    store = process_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=60_000)
    pipeline = attach(TracerProvider(), store)
    try:
        log_tools(pipeline, "exec-f", 5)
        assert store._queue  # noqa: SLF001 - still waiting for the sender
        pid = store.writer_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while store.stats()["writer"] != "thread" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.stats()["writer"] == "thread"
        assert pipeline.flush(10)
        assert stored_tools(store.db_path, "exec-f") == expected_tools("exec-f", 5)
        assert store.stats()["mapping_errors"] == 0
    finally:
        pipeline.shutdown()


def test_a_batch_that_must_be_pickled_still_carries_joined_tool_uses(tmp_path: Path):
    """Rows put directly have no wire form: the batch goes pickled, joined spans as records."""
    other = TracerProvider().get_tracer("t").start_span("task T9", attributes={**TOOL})
    other.set_attribute(c.KIND, c.KIND_TASK)
    other.set_attribute(c.EXECUTION_ID, "exec-r")
    other.end()
    store = process_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=60_000)
    pipeline = attach(TracerProvider(), store)
    try:
        log_tools(pipeline, "exec-p", 4)
        assert store.put_rows(map_span(other))
        assert pipeline.flush(10)
        assert stored_tools(store.db_path, "exec-p") == expected_tools("exec-p", 4)
        conn = sqlite3.connect(store.db_path)
        assert conn.execute("SELECT count(*) FROM tasks WHERE execution_id = 'exec-r'").fetchone()
        conn.close()
        assert store.stats()["mapping_errors"] == 0
    finally:
        pipeline.shutdown()
