"""The process store's sender: spans pickled as records, batches in flight survive a dead writer."""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from test_store_failures import emit, sequences

from otel_obs import conventions as c
from otel_obs.config import attach
from otel_obs.exporters.items import Op
from otel_obs.exporters.process_store import SEND_ITEMS
from otel_obs.exporters.span_record import Recorder, SpanRecord
from otel_obs.exporters.store_choice import process_store
from otel_obs.exporters.wire import dumps_items


def test_queued_spans_are_pickled_as_records_of_what_they_held():
    tracer = TracerProvider().get_tracer("t")
    span = tracer.start_span("execute_tool Read", attributes={c.KIND: c.KIND_TOOL, "n": 3})
    started = (Op.START, span)  # a live span, as on_start queues it
    span.set_attribute(c.TOOL_OUTPUT, "text")
    span.add_event("obs.decision", {"why": "because"}, timestamp=42)
    span.end()
    ended = (Op.END, span)

    message = pickle.loads(dumps_items(Recorder(), ("batch", 7, [started, ended])))

    kind, number, items = message
    assert (kind, number) == ("batch", 7)
    for (fn, record), original in zip(items, (started, ended), strict=True):
        assert fn is original[0]
        assert isinstance(record, SpanRecord)
        assert record.name == "execute_tool Read"
        assert (record.context.trace_id, record.context.span_id) == (
            span.context.trace_id,
            span.context.span_id,
        )
        assert dict(record.attributes) == {c.KIND: c.KIND_TOOL, "n": 3, c.TOOL_OUTPUT: "text"}
        assert [(e.name, dict(e.attributes), e.timestamp) for e in record.events] == [
            ("obs.decision", {"why": "because"}, 42)
        ]
        assert record.start_time == span.start_time and record.end_time == span.end_time


def test_batches_in_flight_when_the_writer_process_dies_are_stored_once(tmp_path: Path):
    store = process_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=20)
    pid = store.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # it receives, but neither writes nor acknowledges
    n_tools = 4 * SEND_ITEMS  # more than a pipe buffer holds: the sender blocks mid-batch
    try:
        pipeline = attach(TracerProvider(), store)
        entries = emit(pipeline, "exec-f", n_tools)
        deadline = time.monotonic() + 10
        while store.stats()["batches_sent"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.stats()["batches_sent"] >= 1  # sent and never acknowledged
    finally:
        os.kill(pid, signal.SIGKILL)
    assert pipeline.flush(30)
    stats = store.stats()
    store.close()
    assert stats["writer_process_failures"] == 1 and stats["writer"] == "thread"
    assert stats["queue_overflow"] == 0
    conn = sqlite3.connect(tmp_path / "obs.db")
    sequences = [
        r[0]
        for r in conn.execute(
            "SELECT sequence FROM transcript_entries WHERE execution_id = 'exec-f' ORDER BY 1"
        )
    ]
    assert sequences == list(range(1, entries + 1))
    assert conn.execute("SELECT count(*) FROM tool_uses").fetchone() == (n_tools,)
    conn.close()


def test_a_writer_process_that_stalls_loses_nothing_and_keeps_order(tmp_path: Path):
    store = process_store(tmp_path / "obs.db", tmp_path / "t", flush_interval_ms=20)
    pid = store.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the pipe fills; frames wait, partly written, in the sender
    try:
        pipeline = attach(TracerProvider(), store)
        first = emit(pipeline, "exec-s", 8 * SEND_ITEMS)
        time.sleep(0.2)  # the sender pickles ahead while the pipe stays full
        second = emit(pipeline, "exec-s2", SEND_ITEMS)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert pipeline.flush(60)
    stats = store.stats()
    store.close()
    assert stats["writer_process_failures"] == 0 and stats["writer"] == "process"
    assert stats["queue_overflow"] == 0
    conn = sqlite3.connect(tmp_path / "obs.db")
    for execution, expected in (("exec-s", first), ("exec-s2", second)):
        assert sequences(conn, execution) == list(range(1, expected + 1)), execution
    assert conn.execute("SELECT count(*) FROM tool_uses").fetchone() == (9 * SEND_ITEMS,)
    conn.close()
