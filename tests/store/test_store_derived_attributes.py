"""Tool spans without the attributes the mapping derives map like spans that carry them."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_obs import conventions as c
from otel_obs.exporters.mapping import (
    map_span,
    map_span_end,
    map_span_start,
    map_span_start_end,
    tool_entry_id,
)
from otel_obs.exporters.span_record import Recorder
from otel_obs.redaction import shorten

OUTPUT = "line of output\n" * 60  # longer than an output summary
CONTEXT = {c.EXECUTION_ID: "exec-d", c.INSTANCE_ID: "agent-1", c.TASK_ID: "T1"}
LEAN = {
    **CONTEXT,
    c.KIND: c.KIND_TOOL,
    c.GEN_AI_OPERATION_NAME: "execute_tool",
    c.GEN_AI_TOOL_NAME: "Read",
    c.GEN_AI_TOOL_CALL_ID: "toolu_lean",
    c.TOOL_CATEGORY: "file_read",
    c.TOOL_INPUT: '{"file_path":"a.py"}',
    c.TOOL_INPUT_SUMMARY: "a.py",
    c.FILE_PATH: "a.py",
}


def finished(start_attrs: dict, end_attrs: dict):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    span = provider.get_tracer("t").start_span("execute_tool Read", attributes=start_attrs)
    span.set_attributes(end_attrs)
    span.end()
    [done] = memory.get_finished_spans()
    return done


def non_null(rows) -> dict[str, list[dict]]:
    """Rows by table without their null values (a null column and an absent one store alike)."""
    return {
        table: [{k: v for k, v in row.items() if v is not None} for row in rows.rows(table)]
        for table in rows.tables
    }


def tool_and_entry(rows):
    [tool] = rows.rows("tool_uses")
    [entry] = rows.rows("transcript_entries")
    return tool, entry


def test_a_lean_tool_span_gets_its_entry_and_summaries_from_the_rest():
    span = finished(LEAN, {c.TOOL_RESULT_STATUS: "error", c.TOOL_OUTPUT: OUTPUT})
    tool, entry = tool_and_entry(map_span(span))
    assert entry["id"] == tool_entry_id("exec-d", "toolu_lean") == tool["transcript_entry_id"]
    assert len(entry["id"]) == 32 and entry["id"] != tool_entry_id("exec-d", "toolu_other")
    assert (entry["entry_type"], entry["category"]) == ("tool_use", "action")
    assert entry["summary"] == "Read: a.py" and entry["tool_use_id"] == "toolu_lean"
    assert tool["is_error"] == 1 and tool["result_status"] == "error"
    assert tool["output_summary"] == shorten(OUTPUT, 500) and len(tool["output_summary"]) == 500


def test_a_tool_span_that_carries_its_entry_keeps_it():
    full = {
        **LEAN,
        c.ENTRY_ID: "e-given",
        c.ENTRY_TYPE: "tool_use",
        c.ENTRY_CATEGORY: "action",
        c.ENTRY_SUMMARY: "given summary",
    }
    end = {
        c.TOOL_RESULT_STATUS: "done",
        c.TOOL_IS_ERROR: False,
        c.TOOL_OUTPUT: OUTPUT,
        c.TOOL_OUTPUT_SUMMARY: "given output summary",
    }
    tool, entry = tool_and_entry(map_span(finished(full, end)))
    assert entry["id"] == "e-given" == tool["transcript_entry_id"]
    assert entry["summary"] == "given summary"
    assert tool["output_summary"] == "given output summary" and tool["is_error"] == 0


def test_one_pass_mapping_equals_start_then_end():
    span = finished(LEAN, {c.TOOL_RESULT_STATUS: "done", c.TOOL_OUTPUT: OUTPUT})
    two = map_span_end(span, map_span_start(span))
    one = map_span_start_end(span)
    assert non_null(one) == non_null(two)
    assert all(one.phase(t, k) == two.phase(t, k) for t in two.tables for k in two.tables[t])
    assert one.heartbeats == two.heartbeats


def test_a_record_maps_like_the_span_it_was_taken_from():
    span = finished(LEAN, {c.TOOL_RESULT_STATUS: "done", c.TOOL_OUTPUT: OUTPUT})
    recorder = Recorder()
    record = recorder.record(recorder.wire(span))
    from_span, from_record = map_span(span), map_span(record)
    assert {t: from_record.rows(t) for t in from_record.tables} == {
        t: from_span.rows(t) for t in from_span.tables
    }


def without(attrs: dict, *keys: str) -> dict:
    return {k: v for k, v in attrs.items() if k not in keys}


@pytest.mark.parametrize(
    ("tool", "tool_input", "summary", "path", "operation"),
    [
        ("Read", {"file_path": "a.py", "limit": 5}, "a.py", "a.py", "READ"),
        ("Grep", {"pattern": "TODO", "path": "src"}, "src", "src", "READ"),
        ("Glob", {"pattern": "*.py"}, "*.py", None, None),
        ("Edit", {"file_path": "b.py", "old_string": "x"}, "b.py", "b.py", "UPDATE"),
        ("Bash", {"command": "rm build/out.js"}, "rm build/out.js", "build/out.js", "DELETE"),
        ("Bash", {"command": "npm test"}, "npm test", None, None),
        ("WebFetch", {"url": "https://example.com/x"}, "https://example.com/x", None, None),
        ("my_tool", {"n": 1}, '{"n": 1}', None, None),
    ],
)
def test_input_summary_and_file_facts_are_derived_from_the_input(
    tool, tool_input, summary, path, operation
):
    lean = {
        **without(LEAN, c.TOOL_INPUT_SUMMARY, c.FILE_PATH, c.TOOL_CATEGORY),
        c.GEN_AI_TOOL_NAME: tool,
        c.TOOL_INPUT: json.dumps(tool_input),
    }
    derived = input_facts_of(map_span(finished(lean, {c.TOOL_RESULT_STATUS: "done"})))
    impacts = [] if path is None else [(path, operation)]
    assert derived == (summary, path, f"{tool}: {summary}", impacts)
    # A span that states the facts itself maps to the same.
    stated = {**lean, c.TOOL_INPUT_SUMMARY: summary}
    if path is not None:
        stated |= {c.FILE_PATH: path, c.FILE_OPERATION: operation}
    assert input_facts_of(map_span(finished(stated, {c.TOOL_RESULT_STATUS: "done"}))) == derived


def input_facts_of(rows) -> tuple[object, ...]:
    """What a tool's input tells the store: summary, file, the entry's summary, file impacts."""
    tool, entry = tool_and_entry(rows)
    impacts = [(i["file_path"], i["operation"]) for i in rows.rows("task_file_impacts")]
    return tool["input_summary"], tool["file_path"], entry["summary"], impacts


def test_a_write_takes_its_operation_from_the_span_and_its_path_from_the_input():
    base = {
        **without(LEAN, c.TOOL_INPUT_SUMMARY, c.FILE_PATH),
        c.GEN_AI_TOOL_NAME: "Write",
        c.TOOL_CATEGORY: "file_write",
        c.TOOL_INPUT: json.dumps({"file_path": "new.py", "content": "x"}),
    }
    for stated, operation in ((None, "UPDATE"), ("CREATE", "CREATE")):
        attrs = base if stated is None else {**base, c.FILE_OPERATION: stated}
        [impact] = map_span(finished(attrs, {})).rows("task_file_impacts")
        # Without the producer's word the category's default stands (a Write updates).
        assert (impact["file_path"], impact["operation"]) == ("new.py", operation)


def test_an_input_that_is_not_json_is_its_own_summary():
    lean = {**without(LEAN, c.TOOL_INPUT_SUMMARY, c.FILE_PATH), c.TOOL_INPUT: "not json {"}
    [row] = map_span(finished(lean, {})).rows("tool_uses")
    assert (row["input_summary"], row["file_path"]) == ("not json {", None)
