"""The producers through the real store: what they write is what the tables hold."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from producer_support import rows

from otel_obs.assertion_recorder import AssertionRecorder
from otel_obs.config import get_pipeline
from otel_obs.skill_tracer import SkillTracer
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import CLOSED_TASK_ERROR, TranscriptWriter


@pytest.fixture
def store(tmp_path):
    """The store paths; the private pipeline for them is shut down after the test."""
    db, transcripts = tmp_path / "obs.db", tmp_path / "transcripts"
    yield db, transcripts
    get_pipeline(db, transcripts).shutdown()


def writer_for(store, execution_id="exec-1", instance_id="agent-1", **kw) -> TranscriptWriter:
    db, transcripts = store
    return TranscriptWriter(
        execution_id, instance_id, db_path=db, transcripts_dir=transcripts, **kw
    )


def test_a_worker_fills_every_table_it_should(store, tmp_path):
    db, transcripts = store
    writer = writer_for(store, wave_number=1, task_list_id="list-1")
    tools, recorder = ToolUseLogger(writer), AssertionRecorder(writer, "exec-1", cwd=tmp_path)
    skills = SkillTracer(writer, tools)
    target = tmp_path / "api.ts"
    with writer.phase("iterate"):
        with writer.task("T0", "prepare"):
            pass
        with writer.task("T1", "write api", action="CREATE", file=str(target), depends_on=["T0"]):
            writer.write({"entry_type": "decision", "details": {"options": ["a"], "chosen": "a"}})
            with skills.skill({"skill_name": "codegen", "skill_file": "s.md", "line_number": 7}):
                tid = tools.log_start(
                    {"id": "tu-1", "name": "Write", "input": {"file_path": str(target)}}
                )
                target.write_text("export {}")
                tools.log_end(tid, {"content": "written", "is_error": False})
            tid = tools.log_start({"id": "tu-2", "name": "Bash", "input": {"command": "rm x"}})
            tools.log_blocked(tid, "not allowed")
            chain = recorder.start_chain("T1", "Validate CREATE")
            created = recorder.assert_file_created("T1", str(target))
            dep = recorder.assert_dependency_met("T1", "T0")
            verdict = recorder.end_chain(chain)
    writer.close()

    entries = rows(db, "SELECT * FROM transcript_entries ORDER BY sequence")
    assert [e["sequence"] for e in entries] == list(range(1, len(entries) + 1))
    assert [e["entry_type"] for e in entries] == [
        "phase_start",
        "task_start",
        "task_end",
        "task_start",
        "decision",
        "skill_invoke",
        "tool_use",
        "skill_complete",
        "tool_use",
        "assertion",
        "assertion",
        "task_end",
        "phase_end",
    ]
    assert {e["execution_id"] for e in entries} == {"exec-1"}
    assert {e["instance_id"] for e in entries} == {"agent-1"}

    tool_rows = {t["id"]: t for t in rows(db, "SELECT * FROM tool_uses")}
    assert tool_rows["tu-1"]["result_status"] == "done"
    assert tool_rows["tu-1"]["file_path"] == str(target)
    assert tool_rows["tu-1"]["within_skill"] is not None
    assert tool_rows["tu-1"]["task_id"] == "T1"
    assert tool_rows["tu-2"]["result_status"] == "blocked"
    assert tool_rows["tu-2"]["block_reason"] == "not allowed"
    linked = rows(
        db,
        "SELECT COUNT(*) AS n FROM tool_uses t JOIN transcript_entries e"
        " ON e.id = t.transcript_entry_id AND e.entry_type = 'tool_use'",
    )
    assert linked == [{"n": 2}]

    [skill] = rows(db, "SELECT * FROM skill_traces")
    assert (skill["skill_name"], skill["skill_file"], skill["line_number"]) == (
        "codegen",
        "s.md",
        7,
    )
    assert skill["status"] == "success" and skill["tool_use_count"] == 1
    assert skill["id"] == tool_rows["tu-1"]["within_skill"]

    tasks = {t["id"]: t for t in rows(db, "SELECT * FROM tasks")}
    assert tasks["T1"]["status"] == "completed" and tasks["T1"]["action"] == "CREATE"
    assert tasks["T1"]["file"] == str(target) and tasks["T1"]["wave_number"] == 1
    assert rows(db, "SELECT source_task_id, target_task_id FROM task_relationships") == [
        {"source_task_id": "T1", "target_task_id": "T0"}
    ]

    [chain_row] = rows(db, "SELECT * FROM assertion_chains")
    assert chain_row["overall_result"] == verdict.overall_result == "pass"
    assert chain_row["pass_count"] == 2 and chain_row["task_id"] == "T1"
    results = {r["id"]: r for r in rows(db, "SELECT * FROM assertion_results")}
    assert set(results) == {created.id, dep.id}
    assert results[dep.id]["category"] == "dependency_met"
    assert results[dep.id]["chain_id"] == chain
    assert json.loads(results[dep.id]["evidence"])["source"] == "store"
    entry_ids = {e["id"] for e in entries}
    assert {r["transcript_entry_id"] for r in results.values()} <= entry_ids

    [agent] = rows(db, "SELECT * FROM build_agent_instances")
    assert (agent["id"], agent["status"], agent["pid"]) == ("agent-1", "completed", os.getpid())
    [run] = rows(db, "SELECT * FROM task_list_execution_runs")
    assert run["task_list_id"] == "list-1"
    assert [m["event_type"] for m in rows(db, "SELECT * FROM message_bus_log")] == ["decision"]

    lines = [json.loads(x) for x in (transcripts / "exec-1" / "transcript.jsonl").open()]
    assert [(x["id"], x["sequence"]) for x in lines] == [(e["id"], e["sequence"]) for e in entries]


def test_after_flush_open_work_is_already_stored(store):
    db, _ = store
    writer = writer_for(store)
    tools = ToolUseLogger(writer)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    tools.log_start({"id": "running", "name": "Bash", "input": {"command": "make"}})
    writer.write({"entry_type": "discovery", "details": {"content": "uses make"}})
    writer.flush()
    assert rows(db, "SELECT status FROM tasks") == [{"status": "in_progress"}]
    assert rows(db, "SELECT result_status FROM tool_uses") == [{"result_status": None}]
    assert [e["entry_type"] for e in rows(db, "SELECT * FROM transcript_entries")] == [
        "task_start",
        "tool_use",
        "discovery",
    ]
    assert rows(db, "SELECT status FROM build_agent_instances") == [{"status": "executing"}]
    writer.close()


def test_close_with_open_work_leaves_nothing_open(store):
    db, _ = store
    writer = writer_for(store)
    tools = ToolUseLogger(writer)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    tools.log_start({"id": "running", "name": "Bash", "input": {"command": "make"}})
    writer.close()
    [task] = rows(db, "SELECT status, error FROM tasks")
    assert task == {"status": "failed", "error": CLOSED_TASK_ERROR}
    assert rows(db, "SELECT result_status FROM tool_uses") == [{"result_status": "error"}]
    assert rows(db, "SELECT status FROM build_agent_instances") == [{"status": "terminated"}]


def test_dependency_met_sees_tasks_of_other_workers_in_the_store(store, tmp_path):
    db, _ = store
    first = writer_for(store, instance_id="agent-a")
    with first.task("T0"):
        pass
    first.close()
    second = writer_for(store, instance_id="agent-b")
    other_exec = writer_for(store, execution_id="exec-2", instance_id="agent-c")
    recorder = AssertionRecorder(second, "exec-1", cwd=tmp_path)
    with second.task("T1"):
        met = recorder.assert_dependency_met("T1", "T0")
        missing = recorder.assert_dependency_met("T1", "T9")
    other = AssertionRecorder(other_exec, "exec-2", cwd=tmp_path).assert_dependency_met("X", "T0")
    second.close()
    other_exec.close()
    assert met.result == "pass" and met.evidence["source"] == "store"
    assert missing.result == "fail"
    assert other.result == "fail"  # T0 completed in exec-1, not in exec-2


WORKER = textwrap.dedent(
    """
    import sys, time
    from otel_obs import TranscriptWriter, ToolUseLogger
    writer = TranscriptWriter("exec-k", "doomed", db_path=sys.argv[1], transcripts_dir=sys.argv[2])
    tools = ToolUseLogger(writer)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    tools.log_start({"id": "stuck", "name": "Bash", "input": {"command": "sleep 1000"}})
    print("started", flush=True)
    time.sleep(1000)
    """
)


def test_a_killed_worker_leaves_its_open_work_visible_within_a_second(store):
    db, transcripts = store
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(db), str(transcripts)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        started = time.monotonic()
        deadline = started + 1.0
        while time.monotonic() < deadline:
            try:
                tasks = rows(db, "SELECT status FROM tasks")
                tools = rows(db, "SELECT result_status FROM tool_uses")
            except sqlite3.OperationalError:  # schema not created yet
                tasks = tools = []
            if tasks and tools:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        assert tasks == [{"status": "in_progress"}]
        assert tools == [{"result_status": None}]
        agents = rows(db, "SELECT status FROM build_agent_instances")
        assert agents == [{"status": "executing"}]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_a_second_writer_in_the_same_thread_inherits_nothing_from_the_first(store):
    """Two agents in one thread: the second's rows name no skill or task of the first."""
    first = writer_for(store, "exec-A", "agent-A")
    second = writer_for(store, "exec-B", "agent-B")
    skill = SkillTracer(first, ToolUseLogger(first))
    with first.task("TA", "outer work"):
        skill_id = skill.trace_start({"skill_name": "codegen"})
        late = writer_for(store, "exec-C", "agent-C")  # created while A's skill is current
        tools = ToolUseLogger(late)
        with late.task("TC", "inner work"):
            tid = tools.log_start({"id": "toolu_c", "name": "Read", "input": {"path": "x"}})
            tools.log_end(tid, {"tool_use_id": tid, "content": "ok", "is_error": False})
        skill.trace_end(skill_id, "success")
    for writer in (first, second, late):
        writer.close()
    db, _ = store
    (tool,) = rows(db, "SELECT * FROM tool_uses WHERE id = 'toolu_c'")
    assert tool["execution_id"] == "exec-C"
    assert tool["within_skill"] is None
    assert tool["task_id"] == "TC"
    leaked = rows(
        db,
        "SELECT id, entry_type FROM transcript_entries"
        " WHERE execution_id = 'exec-C' AND (skill_trace_id IS NOT NULL OR task_id = 'TA')",
    )
    assert leaked == []
