"""TranscriptWriter: the agent span, lifecycle spans, events, unbalanced ends, close()."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from producer_support import Traced, parent_id, span_id

from otel_obs import conventions as c
from otel_obs.models import TranscriptEntry
from otel_obs.tool_use_logger import ToolUseLogger
from otel_obs.transcript_writer import CLOSED_TASK_ERROR, TranscriptWriter


def make_writer(traced: Traced, **kw) -> TranscriptWriter:
    kw.setdefault("pipeline", traced.pipeline)
    return TranscriptWriter(
        kw.pop("execution_id", "exec-1"), kw.pop("instance_id", "agent-1"), **kw
    )


def test_agent_span_started_at_construction_as_child_of_the_current_span(traced):
    outer_tracer = traced.provider.get_tracer("outer")
    with outer_tracer.start_as_current_span("orchestrator") as outer:
        writer = make_writer(traced, wave_number=2, task_list_id="list-7")
    writer.close()
    agent = traced.one(c.KIND_AGENT)
    assert agent.name == "invoke_agent agent-1"
    assert parent_id(agent) == outer.get_span_context().span_id
    assert agent.attributes[c.AGENT_PID] == os.getpid()
    assert agent.attributes[c.AGENT_HOSTNAME] == socket.gethostname()
    assert agent.attributes[c.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert agent.attributes[c.EXECUTION_ID] == "exec-1"
    assert agent.attributes[c.INSTANCE_ID] == "agent-1"
    assert agent.attributes[c.WAVE_NUMBER] == 2
    assert agent.attributes[c.TASK_LIST_ID] == "list-7"
    assert agent.attributes[c.AGENT_STATUS] == "completed"


def test_traceparent_and_baggage_from_the_environment(traced, monkeypatch):
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    parent = "b7ad6b7169203331"
    monkeypatch.setenv("TRACEPARENT", f"00-{trace_id}-{parent}-01")
    monkeypatch.setenv(
        "BAGGAGE", "obs.execution_id=exec-from-bag,obs.wave_number=3,obs.task_list_id=tl-9"
    )
    writer = TranscriptWriter(None, "agent-b", pipeline=traced.pipeline)
    writer.close()
    agent = traced.one(c.KIND_AGENT)
    assert agent.context.trace_id == int(trace_id, 16)
    assert parent_id(agent) == int(parent, 16)
    assert agent.attributes[c.EXECUTION_ID] == "exec-from-bag"
    assert agent.attributes[c.WAVE_NUMBER] == 3
    assert agent.attributes[c.TASK_LIST_ID] == "tl-9"


def test_arguments_win_over_baggage(traced, monkeypatch):
    monkeypatch.setenv("BAGGAGE", "obs.execution_id=from-bag,obs.wave_number=3")
    writer = TranscriptWriter("from-arg", "agent-b", wave_number=5, pipeline=traced.pipeline)
    writer.close()
    agent = traced.one(c.KIND_AGENT)
    assert agent.attributes[c.EXECUTION_ID] == "from-arg"
    assert agent.attributes[c.WAVE_NUMBER] == 5


def test_execution_id_is_required_without_baggage(traced, monkeypatch):
    monkeypatch.delenv("BAGGAGE", raising=False)
    with pytest.raises(ValueError, match="execution_id"):
        TranscriptWriter(None, "agent-1", pipeline=traced.pipeline)


@pytest.mark.parametrize("entry_type", c.ENTRY_TYPES)
def test_every_entry_type_is_accepted_as_model_and_as_dict(traced, entry_type):
    writer = make_writer(traced)
    details = {"phase": "prime"} if entry_type.startswith("phase") else {}
    task_id = "T1" if entry_type.startswith("task") else None
    if entry_type.endswith("_end"):
        start = entry_type.replace("_end", "_start")
        writer.write({"entry_type": start, "task_id": task_id, "details": details})
    entry_id = writer.write({"entry_type": entry_type, "task_id": task_id, "details": details})
    assert isinstance(entry_id, str) and len(entry_id) == 32
    writer.close()
    found = [
        (s, dict(s.attributes))
        for s in traced.spans()
        if s.attributes.get(c.ENTRY_ID) == entry_id or s.attributes.get(c.END_ENTRY_ID) == entry_id
    ] + [(s, attrs) for s, attrs in traced.events(c.EVENT_PREFIX + entry_type)]
    assert found, f"{entry_type} entry {entry_id} not found on any span or event"


def test_unknown_entry_type_names_the_value_and_the_valid_ones(traced):
    writer = make_writer(traced)
    with pytest.raises(ValueError) as err:
        writer.write({"entry_type": "bogus"})
    assert "'bogus'" in str(err.value)
    assert "task_start" in str(err.value) and "lock_release" in str(err.value)
    with pytest.raises(ValueError, match="bogus"):
        writer.write(TranscriptEntry(entry_type="bogus"))
    with pytest.raises(ValueError, match="TranscriptEntry or a mapping"):
        writer.write(42)  # type: ignore[arg-type]


def test_task_and_phase_spans_nest_and_events_land_on_the_innermost(traced):
    writer = make_writer(traced)
    writer.write({"entry_type": "phase_start", "details": {"phase": "iterate"}})
    task_entry = writer.write(
        {
            "entry_type": "task_start",
            "task_id": "T1",
            "details": {
                "title": "Create the API",
                "action": "CREATE",
                "file": "src/api.ts",
                "depends_on": ["T0"],
            },
        }
    )
    decision = writer.write(
        {
            "entry_type": "decision",
            "summary": "use REST",
            "details": {"options": ["REST", "GraphQL"], "chosen": "REST", "reasoning": "simple"},
        }
    )
    writer.write({"entry_type": "task_end", "task_id": "T1"})
    outside = writer.write({"entry_type": "discovery", "details": {"content": "x"}})
    writer.write({"entry_type": "phase_end", "details": {"phase": "iterate"}})
    writer.close()

    agent, phase, task = traced.one(c.KIND_AGENT), traced.one(c.KIND_PHASE), traced.one(c.KIND_TASK)
    assert phase.name == "phase iterate" and task.name == "task T1"
    assert parent_id(phase) == span_id(agent)
    assert parent_id(task) == span_id(phase)
    assert task.attributes[c.ENTRY_ID] == task_entry
    assert task.attributes[c.ENTRY_TYPE] == "task_start"
    assert task.attributes[c.TASK_TITLE] == "Create the API"
    assert task.attributes[c.TASK_ACTION] == "CREATE"
    assert task.attributes[c.TASK_FILE] == "src/api.ts"
    assert tuple(task.attributes[c.TASK_DEPENDS_ON]) == ("T0",)
    assert task.attributes[c.TASK_STATUS] == "completed"
    assert task.attributes[c.END_ENTRY_TYPE] == "task_end"
    assert phase.attributes[c.PHASE_NAME] == "iterate"
    assert phase.attributes[c.END_ENTRY_TYPE] == "phase_end"

    [(on_span, attrs)] = traced.events("obs.decision")
    assert on_span is task and attrs[c.ENTRY_ID] == decision
    assert attrs[c.TASK_ID] == "T1"
    assert json.loads(attrs[c.ENTRY_DETAILS])["chosen"] == "REST"
    [(on_span, attrs)] = traced.events("obs.discovery")
    assert on_span is phase and attrs[c.ENTRY_ID] == outside
    assert c.TASK_ID not in attrs
    # the store was handed each event as it was written, in order
    names = [name for _, name, _, _ in traced.sink.events]
    assert names == ["obs.decision", "obs.discovery"]


def test_every_span_carries_the_context_attributes(traced):
    writer = make_writer(traced, wave_number=1, task_list_id="L")
    tools = ToolUseLogger(writer)
    with writer.phase("iterate"), writer.task("T9", "t"):
        tools.log_end(tools.log_start({"id": "t1", "name": "Read", "input": {}}), {"content": ""})
    writer.close()
    for span in traced.spans():
        assert span.attributes[c.EXECUTION_ID] == "exec-1", span.name
        assert span.attributes[c.INSTANCE_ID] == "agent-1", span.name
        assert span.attributes[c.WAVE_NUMBER] == 1, span.name
        assert span.attributes[c.TASK_LIST_ID] == "L", span.name
    assert traced.one(c.KIND_TASK).attributes[c.TASK_ID] == "T9"
    assert traced.one(c.KIND_TOOL).attributes[c.TASK_ID] == "T9"
    assert c.TASK_ID not in traced.one(c.KIND_PHASE).attributes


def test_task_end_status_and_error(traced):
    writer = make_writer(traced)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    writer.write(
        {
            "entry_type": "task_end",
            "task_id": "T1",
            "details": {"status": "failed", "error": "boom"},
        }
    )
    writer.close()
    task = traced.one(c.KIND_TASK)
    assert task.attributes[c.TASK_STATUS] == "failed"
    assert task.attributes[c.TASK_ERROR] == "boom"
    assert task.status.status_code == StatusCode.ERROR
    assert writer._runtime.task_outcomes == {"T1": "failed"}


def test_bad_task_details_raise_naming_the_valid_values(traced):
    writer = make_writer(traced)
    with pytest.raises(ValueError, match="'MAYBE'.*CREATE"):
        writer.write({"entry_type": "task_start", "task_id": "T1", "details": {"action": "MAYBE"}})
    writer.write({"entry_type": "task_start", "task_id": "T2"})
    with pytest.raises(ValueError, match="'done'.*completed, failed, blocked, skipped"):
        writer.write({"entry_type": "task_end", "task_id": "T2", "details": {"status": "done"}})
    with pytest.raises(ValueError, match="task_id"):
        writer.write({"entry_type": "task_start"})
    with pytest.raises(ValueError, match="phase"):
        writer.write({"entry_type": "phase_start"})
    writer.close()


def test_task_context_manager_ends_failed_on_exception_and_reraises(traced):
    writer = make_writer(traced)
    with pytest.raises(RuntimeError, match="kaput"):
        with writer.task("T1", "risky", action="UPDATE"):
            raise RuntimeError("kaput")
    with writer.task("T2", "fine"):
        pass
    writer.close()
    failed = traced.named("task T1")
    assert failed.attributes[c.TASK_STATUS] == "failed"
    assert failed.attributes[c.TASK_ERROR] == "RuntimeError: kaput"
    assert failed.attributes[c.TASK_ACTION] == "UPDATE"
    assert traced.named("task T2").attributes[c.TASK_STATUS] == "completed"


def test_lifecycle_spans_are_the_current_otel_span_while_open(traced):
    writer = make_writer(traced)
    before = trace.get_current_span()
    with writer.phase("prime"):
        phase_ctx = trace.get_current_span().get_span_context()
        with writer.task("T1"):
            task_ctx = trace.get_current_span().get_span_context()
        after_task = trace.get_current_span().get_span_context()
    assert trace.get_current_span() is before
    writer.close()
    assert phase_ctx.span_id == span_id(traced.one(c.KIND_PHASE))
    assert task_ctx.span_id == span_id(traced.one(c.KIND_TASK))
    assert after_task.span_id == phase_ctx.span_id


def test_end_of_a_task_never_started_is_an_error_entry_not_an_exception(traced, caplog):
    writer = make_writer(traced)
    error_id = writer.write({"entry_type": "task_end", "task_id": "ghost"})
    writer.write({"entry_type": "phase_end", "details": {"phase": "nowhere"}})
    writer.close()
    errors = traced.events("obs.error")
    assert len(errors) == 2
    span, attrs = errors[0]
    assert attrs[c.ENTRY_ID] == error_id
    details = json.loads(attrs[c.ENTRY_DETAILS])
    assert details["error_type"] == "unbalanced_end" and "ghost" in details["message"]
    assert span is traced.one(c.KIND_AGENT)
    assert writer.stats["unbalanced"] == 2
    assert "ghost" in caplog.text


def test_out_of_order_end_closes_the_named_span_and_keeps_the_inner_one_open(traced):
    writer = make_writer(traced)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    writer.write({"entry_type": "phase_start", "details": {"phase": "validate"}})
    writer.write({"entry_type": "task_end", "task_id": "T1"})  # phase still open inside it
    assert [s.name for s in traced.spans()] == ["task T1"]
    assert trace.get_current_span().get_span_context().span_id != 0  # the phase is current
    writer.write({"entry_type": "decision", "summary": "after"})
    writer.write({"entry_type": "phase_end", "details": {"phase": "validate"}})
    writer.close()
    phase = traced.one(c.KIND_PHASE)
    [(on_span, attrs)] = traced.events("obs.error")
    assert on_span is phase
    assert json.loads(attrs[c.ENTRY_DETAILS])["error_type"] == "out_of_order_end"
    [(decision_span, _)] = traced.events("obs.decision")
    assert decision_span is phase
    assert c.CLOSED_BY not in phase.attributes
    assert traced.one(c.KIND_AGENT).attributes[c.AGENT_STATUS] == "completed"
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_close_ends_open_work_and_is_idempotent(traced):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)
    writer.write({"entry_type": "phase_start", "details": {"phase": "iterate"}})
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    tools.log_start({"id": "tool-1", "name": "Bash", "input": {"command": "sleep 100"}})
    writer.close()
    count = len(traced.spans())
    writer.close()
    assert len(traced.spans()) == count == 4
    task = traced.one(c.KIND_TASK)
    assert task.attributes[c.CLOSED_BY] == "close"
    assert task.attributes[c.TASK_STATUS] == "failed"
    assert task.attributes[c.TASK_ERROR] == CLOSED_TASK_ERROR
    assert task.attributes[c.END_ENTRY_TYPE] == "task_end"
    phase = traced.one(c.KIND_PHASE)
    assert phase.attributes[c.CLOSED_BY] == "close"
    assert phase.attributes[c.END_ENTRY_TYPE] == "phase_end"
    tool = traced.one(c.KIND_TOOL)
    assert tool.attributes[c.CLOSED_BY] == "close"
    assert tool.attributes[c.TOOL_RESULT_STATUS] == "error"
    agent = traced.one(c.KIND_AGENT)
    assert agent.attributes[c.AGENT_STATUS] == "terminated"
    assert c.CLOSED_BY not in agent.attributes
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert traced.sink.flushes >= 1


def test_writer_as_context_manager_marks_the_agent_failed_on_exception(traced):
    with pytest.raises(KeyError):
        with make_writer(traced):
            raise KeyError("lost")
    agent = traced.one(c.KIND_AGENT)
    assert agent.attributes[c.AGENT_STATUS] == "failed"
    assert "lost" in agent.attributes[c.AGENT_ERROR]


def test_write_after_close_is_dropped_not_raised(traced):
    writer = make_writer(traced)
    writer.close()
    writer.write({"entry_type": "decision"})
    assert writer.stats["dropped_after_close"] == 1
    assert traced.events("obs.decision") == []


def test_secrets_in_details_and_summary_are_redacted(traced):
    writer = make_writer(traced)
    writer.write(
        {
            "entry_type": "discovery",
            "summary": "found OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx in .env",
            "details": {"content": "db", "password": "hunter2hunter2"},
        }
    )
    writer.close()
    [(_, attrs)] = traced.events("obs.discovery")
    assert "sk-abcdefghijklmnop" not in attrs[c.ENTRY_SUMMARY]
    assert "hunter2" not in attrs[c.ENTRY_DETAILS]
    assert json.loads(attrs[c.ENTRY_DETAILS])["content"] == "db"


def test_storage_failure_never_reaches_the_agent(traced):
    class BrokenSink:
        def on_event(self, *args):
            raise OSError("disk full")

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            raise OSError("disk full")

    traced.pipeline.sink = BrokenSink()
    writer = make_writer(traced)
    writer.write({"entry_type": "decision"})
    writer.flush()
    writer.close()
    assert writer.stats["storage_errors"] == 3  # the event and two flushes (explicit, close)


def test_parallel_tool_calls_from_many_threads(traced):
    writer = make_writer(traced)
    tools = ToolUseLogger(writer)
    writer.write({"entry_type": "task_start", "task_id": "T1"})
    threads_n, per_thread = 8, 40
    barrier = threading.Barrier(threads_n)
    returned: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            tid = tools.log_start({"id": f"t{n}-{i}", "name": "Read", "input": {"file_path": "x"}})
            writer.write({"entry_type": "validation", "summary": f"{n}-{i}"})
            tools.log_end(tid, {"content": "ok", "is_error": False})
            with lock:
                returned.append(tid)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.write({"entry_type": "task_end", "task_id": "T1"})
    writer.close()
    task = traced.one(c.KIND_TASK)
    tool_spans = traced.kind(c.KIND_TOOL)
    assert len(tool_spans) == len(set(returned)) == threads_n * per_thread
    assert {parent_id(s) for s in tool_spans} == {span_id(task)}
    # every event reached the store (the SDK itself keeps at most 128 per span)
    stored = [a for _, name, a, _ in traced.sink.events if name == "obs.validation"]
    assert len(stored) == threads_n * per_thread
    assert {a[c.TASK_ID] for a in stored} == {"T1"}
    assert writer._runtime.open_tools == {}


def test_ends_without_a_name_close_the_innermost(traced):
    writer = make_writer(traced)
    writer.write({"entry_type": "phase_start", "details": {"phase": "outer"}})
    writer.write({"entry_type": "task_start", "task_id": "A"})
    writer.write({"entry_type": "task_start", "task_id": "B"})
    writer.write({"entry_type": "task_end"})
    assert [s.name for s in traced.spans()] == ["task B"]
    writer.write({"entry_type": "task_end"})
    writer.write({"entry_type": "phase_end"})
    assert [s.name for s in traced.spans()] == ["task B", "task A", "phase outer"]
    writer.close()
    assert traced.events("obs.error") == []
