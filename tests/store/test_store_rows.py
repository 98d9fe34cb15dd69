"""The live path: SDK spans → TranscriptSpanProcessor → store → SQLite rows and JSONL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from span_factory import AGENT, WAVE, Recorder, SpanFactory, current, run_scenario

from otel_obs.config import get_pipeline
from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.jsonl import transcript_path
from otel_obs.exporters.schema import TABLES
from otel_obs.exporters.store_choice import thread_store


@pytest.fixture
def pipeline(tmp_path: Path):
    pipe = get_pipeline(tmp_path / "db" / "obs.db", tmp_path / "transcripts")
    yield pipe
    pipe.shutdown()


def query(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def counts(db: Path) -> dict[str, int]:
    return {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def jsonl(transcripts: Path, execution_id: str) -> list[dict]:
    path = transcript_path(transcripts, execution_id)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scenario_lands_in_every_table(pipeline):
    emitted = run_scenario(pipeline.tracer, pipeline.add_event)
    assert pipeline.flush(10)
    db, execution = pipeline.db_path, emitted["execution_id"]
    rows = query(
        db,
        "SELECT id, entry_type, sequence FROM transcript_entries WHERE execution_id = ?"
        " ORDER BY sequence",
        execution,
    )
    # Emission order is sequence order, numbered 1..n.
    assert [(r[0], r[1]) for r in rows] == emitted["entries"]
    assert [r[2] for r in rows] == list(range(1, len(emitted["entries"]) + 1))
    assert dict(query(db, "SELECT id, result_status FROM tool_uses")) == {
        "tu-read": "done",
        "tu-write": "error",
        "tu-bash": "blocked",
    }
    assert query(db, "SELECT id, status FROM tasks") == [("T1", "completed")]
    assert query(db, "SELECT id, status, tool_use_count FROM skill_traces") == [
        ("S1", "success", 1)
    ]
    assert query(db, "SELECT overall_result, pass_count, fail_count FROM assertion_chains") == [
        ("fail", 1, 1)
    ]
    assert sorted(query(db, "SELECT id, chain_id FROM assertion_results")) == [
        ("A1", "CH1"),
        ("A2", "CH1"),
        ("A3", None),
    ]
    assert sorted(r[0] for r in query(db, "SELECT id FROM message_bus_log")) == [
        "e-decision",
        "e-discovery",
        "e-lock",
    ]
    assert query(db, "SELECT status, pid FROM build_agent_instances") == [("completed", 4242)]
    assert query(db, "SELECT task_list_id, status FROM task_list_execution_runs") == [
        ("tl-1", "running")
    ]
    assert query(db, "SELECT source_task_id, target_task_id FROM task_relationships") == [
        ("T1", "T0")
    ]
    assert query(db, "SELECT count(*) FROM task_file_impacts") == [(3,)]


def test_wave_task_count_follows_assignments_and_statistics_follow_tasks(pipeline):
    f = SpanFactory(pipeline.tracer, "exec-waves", AGENT, wave_number=WAVE)
    agent = f.agent()
    with current(agent):
        for n, status in enumerate(("completed", "failed", "blocked", "completed")):
            task = f.task(f"W{n}", f"s{n}")
            f.end_task(task, f"e{n}", status)
    agent.end()
    assert pipeline.flush(10)
    db = pipeline.db_path
    assert query(
        db,
        "SELECT task_count FROM parallel_execution_waves WHERE execution_id = ? AND"
        " wave_number = ?",
        "exec-waves",
        WAVE,
    ) == [(4,)]
    stats = query(
        db,
        "SELECT task_count, completed_count, failed_count, blocked_count, agent_count"
        " FROM wave_statistics WHERE execution_id = ?",
        "exec-waves",
    )
    assert stats == [(4, 2, 1, 1, 1)]


def test_started_spans_are_visible_before_they_end(pipeline):
    f = SpanFactory(pipeline.tracer, "exec-open", AGENT)
    agent = f.agent()
    with current(agent):
        task = f.task("T1", "ts")
        with current(task):
            tool = f.tool("tu-1", "te", "Read", file_path="a.py")
    assert pipeline.flush(10)
    db = pipeline.db_path
    assert query(db, "SELECT status FROM tasks") == [("in_progress",)]
    assert query(db, "SELECT result_status, end_time FROM tool_uses") == [(None, None)]
    assert query(db, "SELECT status, current_task_id FROM build_agent_instances") == [
        ("executing", "T1")
    ]
    f.end_tool(tool)
    f.end_task(task, "te2")
    assert pipeline.flush(10)
    assert query(db, "SELECT status FROM tasks") == [("completed",)]
    assert query(db, "SELECT result_status FROM tool_uses") == [("done",)]
    heartbeat, current_task = query(
        db, "SELECT last_heartbeat_at, current_task_id FROM build_agent_instances"
    )[0]
    assert current_task is None
    assert heartbeat == query(db, "SELECT completed_at FROM tasks")[0][0]
    agent.end()


def test_jsonl_holds_the_same_ids_and_sequences_as_the_table(pipeline):
    emitted = run_scenario(pipeline.tracer, pipeline.add_event)
    assert pipeline.flush(10)
    execution = emitted["execution_id"]
    table = query(
        pipeline.db_path,
        "SELECT id, sequence, entry_type, details FROM transcript_entries"
        " WHERE execution_id = ? ORDER BY sequence",
        execution,
    )
    lines = jsonl(pipeline.transcripts_dir, execution)
    assert [(r["id"], r["sequence"], r["entry_type"]) for r in lines] == [t[:3] for t in table]
    assert [r["details"] for r in lines] == [json.loads(t[3]) for t in table]


def test_exporting_the_same_spans_twice_changes_nothing(tmp_path: Path):
    rec = Recorder()
    emitted = run_scenario(rec.tracer, lambda span, name, attrs: span.add_event(name, attrs))
    store = thread_store(tmp_path / "x.db", tmp_path / "t")
    exporter = SqliteSpanExporter(store, owns_store=True)
    exporter.export(rec.spans())
    assert exporter.force_flush()
    once = counts(store.db_path)
    first_rows = {t: sorted(query(store.db_path, f"SELECT * FROM {t}")) for t in TABLES}
    exporter.export(rec.spans())
    exporter.export(list(reversed(rec.spans())))
    assert exporter.force_flush()
    assert counts(store.db_path) == once
    assert {t: sorted(query(store.db_path, f"SELECT * FROM {t}")) for t in TABLES} == first_rows
    sequences = [r[0] for r in query(store.db_path, "SELECT sequence FROM transcript_entries")]
    assert sorted(sequences) == list(range(1, len(emitted["entries"]) + 1))
    assert len(jsonl(store.transcripts_dir, emitted["execution_id"])) == len(emitted["entries"])
    exporter.shutdown()


def test_live_then_exported_spans_give_the_same_rows(tmp_path: Path):
    live = get_pipeline(tmp_path / "live.db", tmp_path / "t")
    rec = Recorder()
    # The same spans reach the live processor and, once finished, an in-memory exporter.
    live.provider.add_span_processor(SimpleSpanProcessor(rec.exporter))
    emitted = run_scenario(live.tracer, live.add_event)
    assert live.flush(10)
    before = {t: sorted(query(live.db_path, f"SELECT * FROM {t}")) for t in TABLES}
    exporter = SqliteSpanExporter(live.store)
    exporter.export(rec.spans())
    assert exporter.force_flush()
    after = {t: sorted(query(live.db_path, f"SELECT * FROM {t}")) for t in TABLES}
    assert after == before
    assert len(before["transcript_entries"]) == len(emitted["entries"])
    assert len(jsonl(live.transcripts_dir, emitted["execution_id"])) == len(emitted["entries"])
    live.shutdown()


def test_close_flushes_and_is_idempotent(tmp_path: Path):
    pipe = get_pipeline(tmp_path / "c.db", tmp_path / "t")
    f = SpanFactory(pipe.tracer, "exec-close", AGENT)
    f.agent().end()
    assert pipe.shutdown()
    assert pipe.shutdown()
    assert query(pipe.db_path, "SELECT count(*) FROM build_agent_instances") == [(1,)]
    f.agent().end()  # after close: not stored, counted, no exception
    assert pipe.store.stats()["after_close"] == 2
    # A closed private pipeline is replaced by a fresh one for the same paths.
    again = get_pipeline(tmp_path / "c.db", tmp_path / "t")
    assert again is not pipe and not again.store.closed
    again.shutdown()


def test_application_spans_under_a_task_inherit_its_context(pipeline):
    f = SpanFactory(pipeline.tracer, "exec-app", AGENT, wave_number=1)
    task = f.task("T1", "ts")
    with current(task):
        # The application's own span: no obs.* attributes of its own.
        app = pipeline.tracer.start_span("GET /api/items")
        pipeline.add_event(app, "obs.discovery", SpanFactory.entry_attrs("d1", "discovery"))
        app.end()
    f.end_task(task, "te")
    assert pipeline.flush(10)
    assert query(
        pipeline.db_path,
        "SELECT execution_id, instance_id, task_id, wave_number FROM transcript_entries"
        " WHERE id = 'd1'",
    ) == [("exec-app", AGENT, "T1", 1)]


def test_baggage_fills_the_context_a_span_lacks_but_never_overrides_it(pipeline):
    from opentelemetry import baggage

    from otel_obs import conventions as c

    ctx = baggage.set_baggage(c.EXECUTION_ID, "exec-bag")
    ctx = baggage.set_baggage(c.WAVE_NUMBER, "3", ctx)
    attrs = {c.KIND: c.KIND_TASK, c.INSTANCE_ID: AGENT}
    pipeline.tracer.start_span("task B1", ctx, attributes={**attrs, c.TASK_ID: "B1"}).end()
    own = {**attrs, c.TASK_ID: "B2", c.EXECUTION_ID: "exec-own"}
    pipeline.tracer.start_span("task B2", ctx, attributes=own).end()
    assert pipeline.flush(10)
    assert sorted(query(pipeline.db_path, "SELECT id, execution_id, wave_number FROM tasks")) == [
        ("B1", "exec-bag", 3),
        ("B2", "exec-own", 3),
    ]
