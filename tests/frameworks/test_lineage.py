"""A span of another instrumentation takes its agent, execution and task from its ancestors.

Spans end, and so arrive, children first; over OTLP in any request and across a
restart of ``otel-obs serve``. These tests send spans made by the real SDK in the
orders that happen and check whose the stored rows are.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from ingest_support import Served, count, protobuf_body, wait_for
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, set_span_in_context
from producer_support import rows

from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.store_choice import process_store, thread_store

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def adk_like_run(conversation: str = "conv-adk") -> tuple[Any, Any, list[Any]]:
    """An agent run whose conversation only its agent span states (as Google ADK's tool
    spans carry none): (agent span, tool span, every finished span in end order)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("gcp.vertex.agent")
    agent = tracer.start_span(
        "invoke_agent builder",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "builder",
            "gen_ai.conversation.id": conversation,
        },
    )
    llm = tracer.start_span("call_llm", context=set_span_in_context(agent))
    tool = tracer.start_span(
        "execute_tool run_tests",
        context=set_span_in_context(llm),
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "run_tests",
            "gen_ai.tool.call.id": "call-1",
            "gen_ai.tool.call.arguments": json.dumps({"target": "unit"}),
        },
    )
    tool.set_status(Status(StatusCode.ERROR, "3 tests failed in unit"))
    tool.end()
    llm.end()
    agent.end()
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return agent, tool, spans


def test_a_child_sent_before_a_restart_takes_its_agent_after_it(tmp_path: Path) -> None:
    """The tool span arrives first and waits; ``serve`` restarts; its ancestors arrive in a
    later request: one execution (the agent's conversation), the tool on the agent's run."""
    agent, tool, spans = adk_like_run()
    db = tmp_path / "served.db"
    served = Served(db)
    try:
        assert requests.post(served.http, data=protobuf_body([tool]), headers=PROTOBUF).ok
        counts = served.stop()
    finally:
        served.kill()
    assert counts["spans_waiting_for_parent"] == 1
    assert count(db, "SELECT count(*) FROM tool_uses") == 0
    assert count(db, "SELECT count(*) FROM pending_spans") == 1
    served = Served(db)
    try:
        others = [s for s in spans if s is not tool]
        assert requests.post(served.http, data=protobuf_body(others), headers=PROTOBUF).ok
        wait_for(lambda: count(db, "SELECT count(*) FROM tool_uses") == 1, what="the tool use")
        served.stop()
    finally:
        served.kill()
    run = f"builder@{agent.context.span_id:016x}"
    assert rows(db, "SELECT id FROM task_list_execution_runs") == [{"id": "conv-adk"}]
    assert rows(db, "SELECT id, execution_id, instance_id, result_status FROM tool_uses") == [
        {"id": "call-1", "execution_id": "conv-adk", "instance_id": run, "result_status": "error"}
    ]
    assert rows(db, "SELECT id, status FROM build_agent_instances") == [
        {"id": run, "status": "completed"}
    ]
    assert count(db, "SELECT count(*) FROM pending_spans") == 0


@pytest.mark.parametrize("store", [thread_store, process_store], ids=["thread", "process"])
def test_a_failed_tool_through_an_exporter_is_stored_failed(tmp_path: Path, store: Any) -> None:
    """An exporter hands spans to the store as they are: a failed tool's status reaches the
    mapping through either writer (a writer process receives snapshots of the spans)."""
    agent, tool, spans = adk_like_run()
    sink = store(tmp_path / "obs.db", tmp_path / "t")
    SqliteSpanExporter(sink).export(spans)
    assert sink.flush()
    sink.close()
    assert rows(
        tmp_path / "obs.db", "SELECT result_status, is_error, error_message FROM tool_uses"
    ) == [{"result_status": "error", "is_error": 1, "error_message": "3 tests failed in unit"}]


def test_a_span_whose_parent_never_comes_is_stored_after_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the link wait a span is stored with what it says itself, and counted."""
    monkeypatch.setenv("OTEL_OBS_LINK_WAIT_MS", "300")
    _, tool, _ = adk_like_run()
    sink = thread_store(tmp_path / "obs.db", tmp_path / "t")
    try:
        SqliteSpanExporter(sink).export([tool])
        assert sink.flush()
        assert count(tmp_path / "obs.db", "SELECT count(*) FROM tool_uses") == 0
        assert sink.stats()["spans_waiting"] == 1
        time.sleep(1.2)  # past the wait, and past the once-a-second check
        assert sink.flush()
        stats = sink.stats()
    finally:
        sink.close()
    assert (stats["spans_waiting"], stats["stored_without_parent"]) == (0, 1)
    trace = f"{tool.context.trace_id:032x}"
    assert rows(tmp_path / "obs.db", "SELECT execution_id, result_status FROM tool_uses") == [
        {"execution_id": trace, "result_status": "error"}
    ]


def test_spans_that_make_no_row_are_counted_by_scope_and_name(tmp_path: Path) -> None:
    """Nothing is ignored in silence: serve's exit statistics and ``otel-obs unmapped`` name
    the spans that made no row."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for _ in range(3):
        provider.get_tracer("opentelemetry.instrumentation.requests").start_span("GET").end()
    provider.get_tracer("openinference.instrumentation.langchain").start_span(
        "RunnableSequence", attributes={"openinference.span.kind": "CHAIN"}
    ).end()
    db = tmp_path / "served.db"
    served = Served(db)
    try:
        body = protobuf_body(list(memory.get_finished_spans()))
        assert requests.post(served.http, data=body, headers=PROTOBUF).ok
        counts = served.stop()
    finally:
        served.kill()
    assert counts["unmapped_spans"] == {
        "opentelemetry.instrumentation.requests: GET": 3,
        "openinference.instrumentation.langchain: RunnableSequence": 1,
    }
    shown = subprocess.run(
        [sys.executable, "-m", "otel_obs", "unmapped", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    listed = json.loads(shown.stdout)
    assert [(r["scope"], r["name"], r["spans"]) for r in listed["unmapped"]] == [
        ("opentelemetry.instrumentation.requests", "GET", 3),
        ("openinference.instrumentation.langchain", "RunnableSequence", 1),
    ]
    assert listed["waiting_for_parent"] == 0


def test_adk_failed_calls_are_keyed_by_span_and_its_wrappers_store_nothing(
    tmp_path: Path,
) -> None:
    """Google ADK states the call id ``<not specified>`` for every call that raised: two
    such failures are two tool uses (keyed by their spans), on the run of the agent under
    the ``invoke_workflow`` root (a wrapper, not a second agent), in the conversation the
    root and the agent state; the ``execute_tool (merged)`` span of parallel calls is no
    tool use. A status that names the error type alone gives way to the exception's
    message."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("gcp.vertex.agent")
    conversation = {"gen_ai.conversation.id": "session-adk"}
    workflow = tracer.start_span(
        "invoke_workflow builder",
        attributes={
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": "builder",
            **conversation,
        },
    )
    agent = tracer.start_span(
        "invoke_agent builder",
        context=set_span_in_context(workflow),
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "builder",
            **conversation,
        },
    )
    failed = []
    for target in ("unit", "lint"):
        tool = tracer.start_span("execute_tool run_tests", context=set_span_in_context(agent))
        tool.record_exception(RuntimeError(f"tests failed in {target}"))
        tool.set_attributes(
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "run_tests",
                "gen_ai.agent.name": "builder",
                "error.type": "RuntimeError",
                "gen_ai.tool.call.id": "<not specified>",
                "gen_ai.tool.call.arguments": json.dumps({"target": target}),
            }
        )
        tool.set_status(Status(StatusCode.ERROR, "RuntimeError"))
        tool.end()
        failed.append(tool)
    merged = tracer.start_span("execute_tool (merged)", context=set_span_in_context(agent))
    merged.set_attributes(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "(merged tools)",
            "gen_ai.tool.call.id": "event-1",
            "gcp.vertex.agent.event_id": "event-1",
        }
    )
    merged.end()
    agent.end()
    workflow.end()
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    sink = thread_store(tmp_path / "obs.db", tmp_path / "t")
    SqliteSpanExporter(sink).export(spans)
    assert sink.flush()
    sink.close()
    db = tmp_path / "obs.db"
    run = f"builder@{agent.context.span_id:016x}"
    assert rows(db, "SELECT id FROM task_list_execution_runs") == [{"id": "session-adk"}]
    assert rows(db, "SELECT id FROM build_agent_instances") == [{"id": run}]
    assert rows(
        db,
        "SELECT id, execution_id, instance_id, input, error_message FROM tool_uses"
        " ORDER BY start_time",
    ) == [
        {
            "id": f"{tool.context.span_id:016x}",
            "execution_id": "session-adk",
            "instance_id": run,
            "input": json.dumps({"target": target}),
            "error_message": f"tests failed in {target}",
        }
        for tool, target in zip(failed, ("unit", "lint"), strict=True)
    ]
