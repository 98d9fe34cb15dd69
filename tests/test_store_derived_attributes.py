"""Tool spans without the attributes the mapping derives map like spans that carry them."""

from __future__ import annotations

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
    assert entry["id"] == tool_entry_id("toolu_lean") == tool["transcript_entry_id"]
    assert len(entry["id"]) == 32 and entry["id"] != tool_entry_id("toolu_other")
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
