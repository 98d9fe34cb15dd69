"""An id is unique only within its execution: no client changes or hides another execution's rows.

Two clients send executions A and B to one real ``otel-obs serve``, B carrying every id of A
(entry ids, skill trace ids, chain ids, assertion ids, message-bus ids, tool-call ids, task
ids): whichever comes first, each execution's rows are exactly those it has alone, it
validates clean, and every SQL tool answers for it what it answers when it is alone.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from ingest_support import Served, protobuf_body, table_rows
from span_factory import AGENT, Recorder, SpanFactory, run_scenario

from otel_obs import ObservabilitySkills
from otel_obs import conventions as c
from otel_obs.exporters import schema
from otel_obs.ingest.jsonl_import import import_jsonl
from otel_obs.queries.registry import load_tools

A, B = "exec-a", "exec-b"
TASK_LISTS = {A: "tl-a", B: "tl-b"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}
#: A fixed "now" for the tools that age what is open (T004, P002).
NOW = "2100-01-01T00:00:00.000000Z"
#: Tables with no execution column (the lineage of foreign spans, none here).
UNKEYED = {"pending_spans", "unmapped_spans"}


@pytest.fixture(scope="module")
def bodies() -> dict[str, bytes]:
    """Each execution's finished spans as one OTLP request; B reuses every id of A."""
    out = {}
    for execution_id in (A, B):
        recorder = Recorder()
        factory = SpanFactory(recorder.tracer, execution_id, AGENT)
        if execution_id == A:  # A's entries come later in its transcript than B's
            factory.end_phase(factory.phase("prelude", "e-prelude"), "e-prelude-end")
        run_scenario(
            recorder.tracer,
            lambda span, name, attrs: span.add_event(name, attrs),
            execution_id,
            TASK_LISTS[execution_id],
        )
        # The scenario leaves its lock held: released, the execution validates clean.
        wrap_up = factory.phase("wrap-up", "e-wrap")
        attrs = factory.entry_attrs("e-release", "lock_release", file_path="src/a.ts")
        attrs[c.CORRELATION_ID] = f"corr-{execution_id}"
        wrap_up.add_event(c.EVENT_PREFIX + "lock_release", attrs)
        factory.end_phase(wrap_up, "e-wrap-end")
        out[execution_id] = protobuf_body(recorder.spans())
    return out


def serve(db: Path, *bodies: bytes) -> None:
    """Send ``bodies`` in order to a fresh ``otel-obs serve`` filling ``db``, as one client
    each (an answer means committed), then stop it."""
    server = Served(db)
    try:
        for body in bodies:
            answer = requests.post(server.http, data=body, headers=PROTOBUF, timeout=30)
            assert answer.status_code == 200, answer.text
        counts = server.stop()
    finally:
        server.kill()
    assert counts["failures"] == 0 and counts["dropped_rows"] == 0, counts


def execution_rows(db: Path, execution_id: str) -> dict[str, list[tuple]]:
    """Every row of the execution, per table (sequence numbers included)."""
    rows = table_rows(db, exclude={})
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = {}
        for table in schema.TABLES:
            if table in UNKEYED:
                continue
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            column = "id" if table == "task_list_execution_runs" else "execution_id"
            at = columns.index(column)
            out[table] = [row for row in rows[table] if row[at] == execution_id]
        return out
    finally:
        conn.close()


def tool_answers(db: Path, execution_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every SQL tool's answer about ``execution_id``."""
    given = {
        "execution_id": execution_id,
        "task_id": "T1",
        "task_list_id": TASK_LISTS[execution_id],
        "event_id": "e-release",
        "now": NOW,
        "min_errors": 1,
    }
    skills = ObservabilitySkills(db)
    try:
        return {
            tool_id: skills.run(
                tool_id, **{p.name: given[p.name] for p in tool.params if p.name in given}
            )
            for tool_id, tool in sorted(load_tools().items())
        }
    finally:
        skills.close()


@pytest.fixture(scope="module")
def alone(bodies, tmp_path_factory) -> dict[str, tuple[Any, Any]]:
    """Each execution in a store of its own: its rows and every tool's answer."""
    out = {}
    for execution_id in (A, B):
        db = tmp_path_factory.mktemp("alone") / f"{execution_id}.db"
        serve(db, bodies[execution_id])
        out[execution_id] = (execution_rows(db, execution_id), tool_answers(db, execution_id))
    return out


@pytest.mark.parametrize("first", [A, B])
def test_two_executions_sharing_every_id_keep_their_own_rows(tmp_path, bodies, alone, first):
    second = B if first == A else A
    db = tmp_path / "shared.db"
    serve(db, bodies[first], bodies[second])
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM skill_traces WHERE id = 'S1'").fetchone() == (2,)
    assert conn.execute("SELECT count(*) FROM transcript_entries").fetchone()[0] > 0
    conn.close()
    for execution_id in (A, B):
        rows, answers = alone[execution_id]
        assert rows["skill_traces"] and rows["assertion_chains"] and rows["message_bus_log"]
        assert execution_rows(db, execution_id) == rows
        assert len(answers) >= 39  # the spec's 39 and the tools beside them
        got = tool_answers(db, execution_id)
        assert [tool_id for tool_id in answers if got[tool_id] != answers[tool_id]] == []
    skills = ObservabilitySkills(db)
    try:
        assert skills.validate(A) == [] and skills.validate(B) == []
    finally:
        skills.close()
    # Their JSONL transcripts, imported into a new store, give both executions back whole.
    rebuilt = tmp_path / "rebuilt" / "obs.db"
    report = import_jsonl([tmp_path / "transcripts"], rebuilt, rebuilt.parent / "transcripts")
    assert report.malformed == 0 and report.added == report.read > 0
    for execution_id in (A, B):
        entries = execution_rows(rebuilt, execution_id)["transcript_entries"]
        assert entries == alone[execution_id][0]["transcript_entries"]
        assert execution_rows(rebuilt, execution_id)["message_bus_log"]


def test_the_tools_answer_for_the_shared_ids(tmp_path, bodies, alone):
    """The tools the scenario feeds answer something (the comparison above is not of empties)."""
    answers = alone[A][1]
    for tool_id in ("A004", "D002", "I001", "I003", "I005", "I007", "T001", "T002", "T003"):
        assert answers[tool_id], tool_id


def test_a_store_of_the_previous_schema_is_migrated_in_place(tmp_path, bodies, alone):
    """A store written before rows were keyed per execution keeps every row, and then takes
    another execution's rows of the same ids beside them."""
    current = tmp_path / "current.db"
    serve(current, bodies[A])
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    for migration in schema.MIGRATIONS[:3]:  # what the previous version created
        for statement in schema.split_statements(migration):  # noqa: SLF001
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("ATTACH DATABASE ? AS src", (str(current),))
    for table in schema.TABLES:
        conn.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
    conn.execute("DETACH DATABASE src")
    old_keys = {
        table: [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[5]]
        for table in ("transcript_entries", "skill_traces", "message_bus_log")
    }
    assert old_keys == {t: ["id"] for t in old_keys}  # the previous schema: keyed by id alone
    conn.close()

    serve(old, bodies[B])  # serve migrates the store in place, then stores B beside A
    conn = sqlite3.connect(old)
    assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {
        "idx_entries_exec_type",
        "idx_entries_task",
        "idx_skill_traces_exec",
        "idx_assertions_chain",
        "idx_assertions_entry",
        "idx_bus_correlation",
        "idx_impacts_task",
        "idx_tool_uses_skill",
    } <= indexes
    conn.close()
    assert execution_rows(old, A) == alone[A][0]
    assert execution_rows(old, B) == alone[B][0]
    skills = ObservabilitySkills(old)
    try:
        assert skills.validate(A) == [] and skills.validate(B) == []
    finally:
        skills.close()
    assert tool_answers(old, A) == alone[A][1]
