"""The tool-span fast path maps every tool span to exactly the rows of the generic mapping.

``map_tool_start_end`` is what the writer runs for nearly every item; the
generic ``map_span_start_end`` is the reference. Each case is built with the
real SDK (and as the record a writer process receives), mapped both ways into
fresh and shared batches, and compared as ordered structures: same tables,
keys, phases, column order and values, heartbeats, touched skills and waves.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_obs import conventions as c
from otel_obs.exporters.items import Op, coalesce
from otel_obs.exporters.mapping import (
    Rows,
    iso_from_ns,
    json_object_text,
    map_span_start_end,
    map_tool_start_end,
)
from otel_obs.exporters.span_record import Recorder, SpanRecord
from otel_obs.exporters.wire import MARSHAL_TAG, dumps_batch

HUGE = "x" * 70_000 + "\n" + "line two\n" * 5_000
CONTEXTS: list[dict[str, Any]] = [
    {c.EXECUTION_ID: "exec-f", c.INSTANCE_ID: "agent-1", c.TASK_ID: "T1"},
    {c.EXECUTION_ID: "exec-f", c.INSTANCE_ID: "agent-2"},  # no task
    {c.EXECUTION_ID: "exec-g", c.INSTANCE_ID: "agent-3", c.WAVE_NUMBER: 2, c.TASK_LIST_ID: "tl"},
    {c.EXECUTION_ID: "exec-f", c.TASK_ID: "T2", c.SKILL_TRACE_ID: "sk-ctx"},  # no agent
    {c.EXECUTION_ID: "exec-f", c.INSTANCE_ID: "agent-1", c.WAVE_NUMBER: "3"},
]
TOOLS: list[dict[str, Any]] = [
    {
        c.GEN_AI_TOOL_NAME: "Read",
        c.TOOL_CATEGORY: "file_read",
        c.TOOL_INPUT: '{"file_path": "src/a.py"}',
        c.TOOL_INPUT_SUMMARY: "src/a.py",
        c.FILE_PATH: "src/a.py",
        c.FILE_OPERATION: "READ",
    },
    {c.GEN_AI_TOOL_NAME: "Write", c.FILE_PATH: "src/new.py", c.FILE_OPERATION: "CREATE"},
    {c.GEN_AI_TOOL_NAME: "Edit", c.TOOL_INPUT_SUMMARY: "src/b.py", c.FILE_PATH: "src/b.py"},
    {
        c.GEN_AI_TOOL_NAME: "Bash",
        c.TOOL_INPUT_SUMMARY: "rm old.txt",
        c.FILE_PATH: "old.txt",
        c.FILE_OPERATION: "DELETE",
    },
    {c.GEN_AI_TOOL_NAME: "Bash", c.TOOL_INPUT_SUMMARY: "ls -la"},  # no file
    {c.GEN_AI_TOOL_NAME: "Grep", c.FILE_PATH: "src", c.FILE_OPERATION: "NOT-AN-OPERATION"},
    {c.TOOL_WITHIN_SKILL: "sk-1", c.TOOL_INPUT_SUMMARY: "q"},  # name from the span name only
    {c.GEN_AI_TOOL_NAME: "mcp__browser__click", c.TOOL_WITHIN_SKILL: "sk-2"},
]
ENDS: list[dict[str, Any]] = [
    {c.TOOL_RESULT_STATUS: "done", c.TOOL_OUTPUT: "ok\n" * 3},
    {c.TOOL_RESULT_STATUS: "done", c.TOOL_OUTPUT: HUGE},
    {c.TOOL_RESULT_STATUS: "error", c.TOOL_OUTPUT: "boom", c.TOOL_ERROR_MESSAGE: "boom"},
    {c.TOOL_IS_ERROR: True, c.TOOL_OUTPUT: "failed"},  # status left to the mapping
    {c.TOOL_RESULT_STATUS: "blocked", c.TOOL_IS_ERROR: False, c.TOOL_BLOCK_REASON: "hook"},
    {c.CLOSED_BY: "close"},  # abandoned: no status, no output
    {c.TOOL_RESULT_STATUS: "done", c.TOOL_OUTPUT_SUMMARY: "given", c.TOOL_OUTPUT: "o"},
    {},  # nothing at all
]
ENTRIES: list[dict[str, Any]] = [
    {},  # lean: the entry's id and summary are derived
    {  # full: the producer sends the entry fields itself
        c.ENTRY_ID: "e-full",
        c.ENTRY_TYPE: "tool_use",
        c.ENTRY_CATEGORY: "action",
        c.ENTRY_SUMMARY: "Read: src/a.py",
        c.ENTRY_DETAILS: '{"tool": "Read"}',
        c.ENTRY_SKILL_REF: '{"skill": "s", "line": 3}',
        c.ENTRY_TOKEN_ESTIMATE: "42",
        c.ENTRY_DURATION_MS: 1.5,
    },
    {c.ENTRY_SUMMARY: "summary of my own", c.ENTRY_DETAILS: "not json\nat all"},
    {c.ENTRY_ID: "e-bus", c.ENTRY_TYPE: "error", c.CORRELATION_ID: "corr"},  # also a message
    {c.ENTRY_TYPE: "not-an-entry-type"},  # no entry at all
    {c.END_ENTRY_ID: "end-1", c.END_ENTRY_SUMMARY: "closing"},  # an end entry: generic way
]


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory


def _cases() -> list[Any]:
    """One finished SDK span per combination, with a call id on every other one."""
    provider, memory = _provider()
    tracer = provider.get_tracer("fast-path")
    combos = itertools.product(range(len(CONTEXTS)), range(len(TOOLS)), range(len(ENDS)))
    for n, (ci, ti, ei) in enumerate(combos):
        start = {**CONTEXTS[ci], c.KIND: c.KIND_TOOL, **TOOLS[ti], **ENTRIES[n % len(ENTRIES)]}
        if n % 2:
            start[c.GEN_AI_TOOL_CALL_ID] = f"toolu_{n}"
        name = f"execute_tool {TOOLS[ti].get(c.GEN_AI_TOOL_NAME, 'Custom')}"
        span = tracer.start_span(name, attributes=start)
        span.set_attributes(ENDS[ei])
        span.end()
    return memory.get_finished_spans()


SPANS = _cases()
RECORDER = Recorder()


def _shape(rows: Rows) -> Any:
    """Everything in ``rows``, order included (it decides sequence numbers and statements)."""
    return (
        [
            (table, [(key, phase, list(row.items())) for key, (phase, row) in bucket.items()])
            for table, bucket in rows.tables.items()
        ],
        list(rows.heartbeats.items()),
        sorted(rows.touched_waves),
        sorted(rows.touched_skills),
    )


def test_the_cases_cover_what_the_fast_path_must_handle():
    assert len(SPANS) == len(CONTEXTS) * len(TOOLS) * len(ENDS)
    kinds = {span.attributes.get(c.TOOL_RESULT_STATUS) for span in SPANS}
    assert {"done", "error", "blocked", None} <= kinds
    assert any(c.GEN_AI_TOOL_CALL_ID not in span.attributes for span in SPANS)
    assert any(c.TASK_ID not in span.attributes for span in SPANS)


@pytest.mark.parametrize("as_record", [False, True], ids=["sdk-span", "wire-record"])
def test_each_span_alone_maps_to_the_generic_rows(as_record: bool):
    for span in SPANS:
        subject = RECORDER.record(RECORDER.wire(span)) if as_record else span
        assert _shape(map_tool_start_end(subject)) == _shape(map_span_start_end(subject))


def test_a_batch_of_them_maps_to_the_generic_rows_merged_alike():
    # One batch, each span twice (a re-delivery merges into the rows already there).
    fast, generic = Rows(), Rows()
    for span in [*SPANS, *SPANS[::-3]]:
        map_tool_start_end(span, fast)
        map_span_start_end(span, generic)
    assert _shape(fast) == _shape(generic)
    assert len(fast.tables["tool_uses"]) == len(SPANS)


def test_the_rows_are_those_the_span_was_built_to_give():
    # Derived from the fixture, not from the mapping: a lean Read that ended done.
    provider, memory = _provider()
    attrs = {**CONTEXTS[0], c.KIND: c.KIND_TOOL, **TOOLS[0], c.GEN_AI_TOOL_CALL_ID: "toolu_x"}
    span = provider.get_tracer("t").start_span("execute_tool Read", attributes=attrs)
    span.set_attributes(ENDS[0])
    span.end()
    [done] = memory.get_finished_spans()
    rows = map_tool_start_end(done)
    [tool] = rows.rows("tool_uses")
    [entry] = rows.rows("transcript_entries")
    [impact] = rows.rows("task_file_impacts")
    assert (tool["id"], tool["result_status"], tool["is_error"]) == ("toolu_x", "done", 0)
    assert tool["output"] == "ok\n" * 3 and tool["file_path"] == "src/a.py"
    assert entry["summary"] == "Read: src/a.py" and entry["tool_use_id"] == "toolu_x"
    assert entry["id"] == tool["transcript_entry_id"] and entry["timestamp"] == tool["start_time"]
    assert (impact["operation"], impact["tool_use_id"]) == ("READ", "toolu_x")
    assert rows.phase("tool_uses", ("exec-f", "toolu_x")) == "end"
    assert rows.heartbeats == {("exec-f", "agent-1"): [iso_from_ns(done.end_time), "T1"]}
    assert [r["id"] for r in rows.rows("task_list_execution_runs")] == ["exec-f"]


def test_spans_it_does_not_take_go_the_generic_way():
    provider, memory = _provider()
    tracer = provider.get_tracer("t")
    tracer.start_span("task T1", attributes={**CONTEXTS[2], c.KIND: c.KIND_TASK}).end()
    tracer.start_span("execute_tool Read", attributes={c.KIND: c.KIND_TOOL}).end()  # no execution
    open_span = tracer.start_span("execute_tool Read", attributes={**CONTEXTS[0], c.KIND: "tool"})
    for span in [*memory.get_finished_spans(), open_span]:
        assert _shape(map_tool_start_end(span)) == _shape(map_span_start_end(span))
    assert not map_tool_start_end(memory.get_finished_spans()[1])
    open_span.end()


def test_an_end_stamped_before_its_start_keeps_the_generic_heartbeat():
    base = {**CONTEXTS[0], c.KIND: c.KIND_TOOL, **TOOLS[0], **ENDS[0]}
    for start, end in [(2_000_000_000, 1_000_000_000), (1_000_000_000, 2_000_000_000)]:
        record = SpanRecord("execute_tool Read", dict(base), None, start, end)
        earlier = Rows()
        earlier.heartbeat("exec-f", "agent-1", iso_from_ns(1_500_000_000), "T0")
        fast = map_tool_start_end(record, earlier)
        assert fast.heartbeats == {("exec-f", "agent-1"): [iso_from_ns(max(start, end)), "T1"]}


def test_a_tool_span_met_whole_in_one_batch_is_coalesced_and_still_marshalled():
    provider, memory = _provider()
    span = provider.get_tracer("t").start_span(
        "execute_tool Read", attributes={**CONTEXTS[0], c.KIND: c.KIND_TOOL, **TOOLS[0]}
    )
    span.end()
    [done] = memory.get_finished_spans()
    coalesced = coalesce([(Op.START, span), (Op.END, done)])
    assert coalesced == [(Op.START_END, done)]
    # The pipe's fast wire format carries it (a pickled fallback costs both ends).
    assert dumps_batch(Recorder(), 1, coalesced)[:1] == MARSHAL_TAG


@pytest.mark.parametrize("raw", ['{"tool": "Read"}', '{\n "a": 1\n}', "[1]", "plain", "{bad"])
def test_details_text_met_again_reads_as_it_did_the_first_time(raw: str):
    first, again = json_object_text(raw), json_object_text("".join(list(raw)))
    assert first == again and "\n" not in first
    assert isinstance(json.loads(first), dict)
