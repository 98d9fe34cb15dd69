"""The span → rows mapping, on spans recorded by the real SDK (no store involved)."""

from __future__ import annotations

import json

import pytest
from span_factory import AGENT, TASK_LIST, WAVE, Recorder, SpanFactory, run_scenario

from otel_obs import conventions as c
from otel_obs.exporters import mapping
from otel_obs.exporters.mapping import END, START, Rows, map_event, map_span, map_span_start


@pytest.fixture(scope="module")
def scenario():
    rec = Recorder()
    emitted = run_scenario(rec.tracer, lambda span, name, attrs: span.add_event(name, attrs))
    rows = Rows()
    for span in rec.spans():
        map_span(span, rows)
    return emitted, rows, rec.spans()


def by_id(rows: Rows, table: str, key: str = "id") -> dict:
    return {row[key]: row for row in rows.rows(table)}


def test_every_emitted_entry_becomes_one_transcript_entry_of_its_type(scenario):
    emitted, rows, _ = scenario
    entries = by_id(rows, "transcript_entries")
    assert {i: entries[i]["entry_type"] for i in entries} == dict(emitted["entries"])
    for row in entries.values():
        assert row["execution_id"] == emitted["execution_id"]
        assert row["instance_id"] == AGENT
        assert row["wave_number"] == WAVE
        assert row["category"] == c.DEFAULT_CATEGORY[row["entry_type"]]
        assert isinstance(json.loads(row["details"]), dict)
        assert row["timestamp"].endswith("Z") and len(row["timestamp"]) == 27


def test_entries_inside_the_task_carry_it_and_the_skill_encloses_its_tool(scenario):
    _, rows, _ = scenario
    entries = by_id(rows, "transcript_entries")
    outside = {"e-phase-start", "e-phase-end", "e-discovery"}
    for entry_id, row in entries.items():
        assert row["task_id"] == (None if entry_id in outside else "T1"), entry_id
    assert entries["e-read"]["skill_trace_id"] == "S1"
    assert entries["e-skill-start"]["skill_trace_id"] == "S1"
    assert entries["e-write"]["skill_trace_id"] is None
    assert entries["e-read"]["tool_use_id"] == "tu-read"
    assert json.loads(entries["e-skill-start"]["skill_ref"])["skill_name"] == "code-generation"
    assert entries["e-task-end"]["duration_ms"] > 0


def test_tool_spans_become_tool_uses_with_their_result(scenario):
    _, rows, _ = scenario
    tools = by_id(rows, "tool_uses")
    assert set(tools) == {"tu-read", "tu-write", "tu-bash"}
    read, write, bash = tools["tu-read"], tools["tu-write"], tools["tu-bash"]
    assert (read["result_status"], read["is_error"], read["is_blocked"]) == ("done", 0, 0)
    assert read["within_skill"] == "S1" and read["tool_category"] == "file_read"
    assert read["transcript_entry_id"] == "e-read" and read["output"] == "file text"
    assert (write["result_status"], write["is_error"]) == ("error", 1)
    assert write["error_message"] == "permission denied"
    assert (bash["result_status"], bash["is_blocked"]) == ("blocked", 1)
    assert bash["block_reason"] == "rm -rf is not allowed"
    for tool in tools.values():
        assert tool["task_id"] == "T1" and tool["duration_ms"] >= 0
        assert tool["end_time"] >= tool["start_time"]
        assert rows.phase("tool_uses", (tool["execution_id"], tool["id"])) == END


def test_file_tools_and_declared_task_files_become_file_impacts(scenario):
    emitted, rows, _ = scenario
    impacts = by_id(rows, "task_file_impacts")
    declared = f"task:{emitted['execution_id']}:T1"
    read, write = (f"tool:{emitted['execution_id']}:{t}" for t in ("tu-read", "tu-write"))
    assert set(impacts) == {read, write, declared}
    assert impacts[read]["operation"] == "READ" and impacts[read]["tool_use_id"] == "tu-read"
    assert impacts[write]["operation"] == "CREATE"
    assert impacts[declared]["operation"] == "CREATE"
    assert impacts[declared]["tool_use_id"] is None
    assert {i["file_path"] for i in impacts.values()} == {"src/a.ts"}


def test_task_span_gives_task_dependencies_and_wave_assignment(scenario):
    emitted, rows, _ = scenario
    (task,) = rows.rows("tasks")
    assert (task["id"], task["status"], task["action"], task["file"]) == (
        "T1",
        "completed",
        "CREATE",
        "src/a.ts",
    )
    assert task["completed_at"] >= task["started_at"] and task["duration_ms"] > 0
    assert rows.rows("task_relationships") == [
        {
            "execution_id": emitted["execution_id"],
            "source_task_id": "T1",
            "target_task_id": "T0",
            "relationship_type": "depends_on",
        }
    ]
    (assignment,) = rows.rows("wave_task_assignments")
    assert (assignment["wave_number"], assignment["task_id"]) == (WAVE, "T1")
    assert (emitted["execution_id"], WAVE) in rows.touched_waves


def test_skill_chain_and_assertions(scenario):
    _, rows, _ = scenario
    (skill,) = rows.rows("skill_traces")
    assert (skill["id"], skill["status"], skill["skill_file"], skill["line_number"]) == (
        "S1",
        "success",
        "skills/code-generation.md",
        12,
    )
    assert ("exec-scenario", "S1") in rows.touched_skills
    (chain,) = rows.rows("assertion_chains")
    # No verdict attributes on the chain span: counted from its two assertion events.
    assert (chain["overall_result"], chain["pass_count"], chain["fail_count"]) == ("fail", 1, 1)
    assert chain["first_failure_id"] == "A2" and chain["task_id"] == "T1"
    results = by_id(rows, "assertion_results")
    assert {k: (r["result"], r["chain_id"]) for k, r in results.items()} == {
        "A1": ("pass", "CH1"),
        "A2": ("fail", "CH1"),
        "A3": ("skip", None),
    }
    assert results["A2"]["category"] == "lint_passes"
    assert results["A1"]["transcript_entry_id"] == "e-a1"
    assert json.loads(results["A1"]["evidence"]) == {"exists": True}


def test_messages_go_to_the_bus_with_their_correlation(scenario):
    emitted, rows, _ = scenario
    bus = by_id(rows, "message_bus_log")
    assert set(bus) == {"e-decision", "e-lock", "e-discovery"}
    assert bus["e-decision"]["correlation_id"] == "corr-9"  # explicit
    assert bus["e-lock"]["correlation_id"] == "T1"  # the task
    assert bus["e-discovery"]["correlation_id"] == emitted["execution_id"]  # no task
    assert json.loads(bus["e-decision"]["payload"])["chosen"] == "a"


def test_agent_execution_and_wave_rows(scenario):
    emitted, rows, _ = scenario
    (agent,) = rows.rows("build_agent_instances")
    assert (agent["id"], agent["status"], agent["pid"], agent["hostname"]) == (
        AGENT,
        "completed",
        4242,
        "worker-host",
    )
    assert agent["terminated_at"] is not None
    (run,) = rows.rows("task_list_execution_runs")
    assert (run["id"], run["task_list_id"]) == (emitted["execution_id"], TASK_LIST)
    # The run starts at the earliest row: the agent span's start.
    assert run["started_at"] == agent["spawned_at"]
    (wave,) = rows.rows("parallel_execution_waves")
    assert (wave["wave_number"], wave["started_at"]) == (WAVE, agent["spawned_at"])
    # The last activity is the discovery after the task ended: no current task.
    assert rows.heartbeats[(emitted["execution_id"], AGENT)][1] is None


def test_a_started_span_maps_to_an_open_row():
    rec = Recorder()
    f = SpanFactory(rec.tracer, "e-open", AGENT)
    task = f.task("T9", "e-t9")
    tool = f.tool("tu-open", "e-open-tool", "Grep", file_path="x.py")
    rows = map_span_start(tool, map_span_start(task))
    (tool_row,) = rows.rows("tool_uses")
    assert "result_status" not in tool_row
    assert rows.phase("tool_uses", ("e-open", "tu-open")) == START
    assert rows.rows("tasks")[0]["status"] == "in_progress"
    assert [e["id"] for e in rows.rows("transcript_entries")] == ["e-t9", "e-open-tool"]
    assert rows.heartbeats[("e-open", AGENT)][1] == "T9"
    tool.end()
    task.end()


def test_a_late_start_never_undoes_an_end():
    rec = Recorder()
    f = SpanFactory(rec.tracer, "e-late", AGENT)
    task = f.task("T1", "e-s")
    f.end_task(task, "e-e", "failed", error="boom")
    (span,) = rec.spans()
    rows = mapping.map_span_end(span)
    mapping.map_span_start(span, rows)
    (row,) = rows.rows("tasks")
    assert (row["status"], row["error"]) == ("failed", "boom")
    assert rows.phase("tasks", ("e-late", "T1")) == END


def test_a_tool_closed_without_a_result_is_an_error():
    rec = Recorder()
    f = SpanFactory(rec.tracer, "e-close", AGENT)
    tool = f.tool("tu-x", "e-x", "Bash")
    tool.set_attribute(c.CLOSED_BY, "close")
    tool.end()
    (row,) = map_span(rec.spans()[0]).rows("tool_uses")
    assert (row["result_status"], row["is_error"]) == ("error", 1)
    assert "close" in row["error_message"]


def test_events_that_are_not_entries_map_to_nothing():
    ctx = {c.EXECUTION_ID: "e1", c.INSTANCE_ID: "a"}
    assert not map_event(ctx, "exception", {"exception.message": "x"}, 1)
    assert not map_event(ctx, "obs.not_a_type", {c.ENTRY_ID: "x"}, 1)
    assert not map_event({c.INSTANCE_ID: "a"}, "obs.decision", {c.ENTRY_ID: "x"}, 1)
    rows = map_event(ctx, "obs.error", {c.ENTRY_ID: "x", c.ENTRY_DETAILS: "not json"}, 10**18)
    (entry,) = rows.rows("transcript_entries")
    assert entry["timestamp"] == "2001-09-09T01:46:40.000000Z"
    assert json.loads(entry["details"]) == {"value": "not json"}


def test_spans_outside_any_execution_map_to_nothing():
    rec = Recorder()
    rec.tracer.start_span("GET /health").end()
    assert not map_span(rec.spans()[0])


def test_an_event_without_an_id_gets_the_same_id_every_time():
    ctx = {c.EXECUTION_ID: "e1"}
    first = map_event(ctx, "obs.checkpoint", {}, 123).rows("transcript_entries")[0]["id"]
    again = map_event(ctx, "obs.checkpoint", {}, 123).rows("transcript_entries")[0]["id"]
    other = map_event(ctx, "obs.checkpoint", {}, 124).rows("transcript_entries")[0]["id"]
    assert first == again != other


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ('{"a": 1}', {"a": 1}),
        ('{\n "a": 1\n}', {"a": 1}),
        ("[1, 2]", {"value": [1, 2]}),
        ("plain", {"value": "plain"}),
        ({"k": "v"}, {"k": "v"}),
    ],
)
def test_details_are_always_one_line_json_objects(raw, expected):
    text = mapping.json_object_text(raw)
    if expected is None:
        assert text is None
    else:
        assert "\n" not in text and json.loads(text) == expected
