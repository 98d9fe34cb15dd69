"""Exported spans speak the GenAI and OpenInference conventions; the local store is unchanged.

A worker with an agent, a task, a tool that fails, a blocked tool and an
assertion chain exports over real OTLP to a loopback receiver.
"""

from __future__ import annotations

from pathlib import Path

from otlp_receivers import grpc_receiver, run, values

WORKER = """
from otel_obs import AssertionRecorder, ToolUseLogger, TranscriptWriter, configure
configure()
writer = TranscriptWriter("exec-conv", "agent-1")
tools = ToolUseLogger(writer)
checks = AssertionRecorder(writer, "exec-conv")
with writer.task("T1", "conventions", action="UPDATE", file="src/app.py"):
    tid = tools.log_start({"id": "toolu_ok", "name": "Bash", "input": {"command": "echo hi"}})
    tools.log_end(tid, {"tool_use_id": tid, "content": "hi", "is_error": False})
    tid = tools.log_start({"id": "toolu_bad", "name": "Bash", "input": {"command": "false"}})
    tools.log_end(tid, {"tool_use_id": tid, "content": "exit 1", "is_error": True})
    tid = tools.log_start({"id": "toolu_rm", "name": "Bash", "input": {"command": "rm -rf /"}})
    tools.log_blocked(tid, "destructive command")
    chain = checks.start_chain("T1", "checks")
    checks.assert_file_created("T1", "does-not-exist.txt")
    checks.end_chain(chain)
writer.close()
"""


def by_name(received) -> dict:
    return {got.name: got for got in received.spans}


def test_exported_spans_carry_genai_and_openinference_conventions(tmp_path: Path):
    with grpc_receiver() as (endpoint, received):
        run(WORKER, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_OBS_GEN_AI_PROVIDER="acme")
    spans = by_name(received)
    agent = spans["invoke_agent agent-1"]
    assert agent.attributes["gen_ai.provider.name"] == "acme"
    assert agent.attributes["gen_ai.conversation.id"] == "exec-conv/agent-1"
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["openinference.span.kind"] == "AGENT"
    assert spans["task T1"].attributes["openinference.span.kind"] == "CHAIN"
    assert agent.schema_url == "https://opentelemetry.io/schemas/1.37.0"

    tools = {
        got.attributes["gen_ai.tool.call.id"]: got
        for got in received.spans
        if got.attributes.get("openinference.span.kind") == "TOOL"
    }
    ok, bad, blocked = tools["toolu_ok"], tools["toolu_bad"], tools["toolu_rm"]
    assert ok.attributes["gen_ai.tool.type"] == "function"
    assert ok.attributes["gen_ai.tool.call.arguments"] == '{"command":"echo hi"}'
    assert ok.attributes["gen_ai.tool.call.result"] == "hi"
    assert "error.type" not in ok.attributes and ok.span.status.code != 2
    for got, error_type in ((bad, "tool_error"), (blocked, "tool_blocked")):
        assert got.attributes["error.type"] == error_type
        assert got.span.status.code == 2  # STATUS_CODE_ERROR
        [exception] = [e for e in got.span.events if e.name == "exception"]
        assert values(exception.attributes)["exception.type"] == error_type
    assert (
        "destructive command"
        in values(next(e for e in blocked.span.events if e.name == "exception").attributes)[
            "exception.message"
        ]
    )

    chain = next(
        got
        for got in received.spans
        if got.attributes.get("openinference.span.kind") == "EVALUATOR"
    )
    [assertion] = [values(e.attributes) for e in chain.span.events if e.name == "obs.assertion"]
    assert assertion["gen_ai.evaluation.name"] == "file_created"
    assert assertion["gen_ai.evaluation.score.label"] == "fail"
    assert assertion["gen_ai.evaluation.score.value"] == 0.0
    assert assertion["gen_ai.evaluation.explanation"]


def test_without_payloads_the_tool_arguments_and_result_stay_local(tmp_path: Path):
    with grpc_receiver() as (endpoint, received):
        run(WORKER, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_OBS_OTLP_PAYLOADS="none")
    for got in received.spans:
        assert "gen_ai.tool.call.arguments" not in got.attributes, got.name
        assert "gen_ai.tool.call.result" not in got.attributes, got.name
    tool = next(g for g in received.spans if g.attributes.get("gen_ai.tool.call.id") == "toolu_bad")
    assert tool.attributes["error.type"] == "tool_error"
    # A failed tool's error output stays local too: not as an attribute, an event or a status.
    assert "obs.tool.error_message" not in tool.attributes
    assert "exit 1" not in str(tool.span)
