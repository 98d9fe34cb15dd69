"""OTLP export to a real receiver on 127.0.0.1, over gRPC and HTTP, beside the local store.

A worker process configured only through the standard ``OTEL_EXPORTER_OTLP_*``
variables sends its spans to a loopback OTLP receiver (the real exporter, the
real protobuf messages); the same worker without an endpoint gives the same
local store. Export is optional and never changes what is stored.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import otlp_receivers as receivers
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

WORKER = textwrap.dedent(
    """
    from otel_obs import ToolUseLogger, TranscriptWriter, configure

    configure()
    writer = TranscriptWriter("exec-otlp", "agent-1")
    tools = ToolUseLogger(writer)
    with writer.task("T1", "export me", action="UPDATE", file="src/app.py"):
        tid = tools.log_start({"id": "toolu_1", "name": "Bash", "input": {"command": "echo hi"}})
        tools.log_end(tid, {"tool_use_id": tid, "content": "hi", "is_error": False})
        tid = tools.log_start({"id": "toolu_2", "name": "Read", "input": {"file_path": "a.py"}})
        tools.log_end(tid, {"tool_use_id": tid, "content": "print(1)", "is_error": False})
        writer.write({"entry_type": "decision", "summary": "ship it", "details": {"chosen": "a"}})
    writer.close()
    """
)


class Spans:
    """The protobuf spans a loopback receiver (tests/otlp_receivers.py) got."""

    def __init__(self, received: receivers.Received) -> None:
        self._received = received

    @property
    def spans(self) -> list[Span]:
        return [got.span for got in self._received.spans]


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[str, Spans]]:
    with receivers.grpc_receiver() as (endpoint, received):
        yield endpoint, Spans(received)


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, Spans]]:
    with receivers.http_receiver() as (endpoint, received):
        yield endpoint, Spans(received)


def run_worker(folder: Path, **otlp: str) -> Path:
    """Run the worker in a process of its own; return its database."""
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEPARENT"))}
    env.pop("BAGGAGE", None)
    env.update(otlp)
    env["OTEL_OBS_DB"] = str(folder / "obs.db")
    env["OTEL_OBS_TRANSCRIPTS_DIR"] = str(folder / "transcripts")
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        env.pop(var, None)
    done = subprocess.run(
        [sys.executable, "-c", WORKER],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return folder / "obs.db"


def stored(db: Path) -> dict[str, list[tuple]]:
    """What a store says, without the values that differ between any two runs."""
    conn = sqlite3.connect(db)
    try:
        return {
            "entries": conn.execute(
                "SELECT sequence, entry_type, task_id, summary, details FROM transcript_entries"
                " ORDER BY sequence"
            ).fetchall(),
            "tools": conn.execute(
                "SELECT id, tool, tool_category, result_status, output_summary, task_id"
                " FROM tool_uses"
            ).fetchall(),
            "tasks": conn.execute("SELECT id, status, action, file FROM tasks").fetchall(),
            "agents": conn.execute("SELECT id, status FROM build_agent_instances").fetchall(),
            "impacts": conn.execute(
                "SELECT file_path, operation FROM task_file_impacts ORDER BY file_path"
            ).fetchall(),
        }
    finally:
        conn.close()


def attributes(span: Span) -> dict[str, object]:
    values: dict[str, object] = {}
    for kv in span.attributes:
        which = kv.value.WhichOneof("value")
        values[kv.key] = getattr(kv.value, which) if which else None
    return values


@pytest.mark.parametrize(
    ("receiver", "protocol"), [("grpc_receiver", "grpc"), ("http_receiver", "http/protobuf")]
)
def test_spans_reach_an_otlp_receiver_and_the_store_is_unchanged(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: str, protocol: str
) -> None:
    endpoint, received = request.getfixturevalue(receiver)
    exported = run_worker(
        tmp_path / "exported",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
    )
    local_only = run_worker(tmp_path / "local")

    by_name = {span.name: span for span in received.spans}
    assert {"invoke_agent agent-1", "task T1", "execute_tool Bash"} <= set(by_name)
    tool = attributes(by_name["execute_tool Bash"])
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.name"] == "Bash"
    assert tool["gen_ai.tool.call.id"] == "toolu_1"
    assert tool["obs.tool.result_status"] == "done"
    assert tool["obs.execution_id"] == "exec-otlp"
    # What the store derives from the input goes out too (added on the export thread).
    assert tool["obs.tool.input_summary"] == "echo hi"
    assert (tool["obs.tool.input"], tool["obs.tool.output"]) == ('{"command":"echo hi"}', "hi")
    read = attributes(by_name["execute_tool Read"])
    assert (read["obs.file.path"], read["obs.file.operation"]) == ("a.py", "READ")
    # The decision went out as an event of the task span.
    assert [e.name for e in by_name["task T1"].events] == ["obs.decision"]
    # One trace, and it is the one the store recorded.
    assert len({span.trace_id for span in received.spans}) == 1
    conn = sqlite3.connect(exported)
    (trace_id,) = conn.execute("SELECT trace_id FROM tool_uses WHERE id = 'toolu_1'").fetchone()
    conn.close()
    assert trace_id == received.spans[0].trace_id.hex()

    assert stored(exported) == stored(local_only)
    assert stored(exported)["entries"], "the worker stored nothing"


def test_payloads_none_keeps_inputs_outputs_and_details_local(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    endpoint, received = request.getfixturevalue("grpc_receiver")
    exported = run_worker(
        tmp_path / "exported", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_OBS_OTLP_PAYLOADS="none"
    )
    by_name = {span.name: span for span in received.spans}
    tool = attributes(by_name["execute_tool Bash"])
    assert "obs.tool.input" not in tool and "obs.tool.output" not in tool
    assert tool["obs.tool.input_summary"] == "echo hi"
    assert tool["gen_ai.tool.name"] == "Bash" and tool["obs.tool.result_status"] == "done"
    [decision] = by_name["task T1"].events
    event = {kv.key for kv in decision.attributes}
    assert "obs.entry.details" not in event and "obs.entry.summary" in event
    for span in received.spans:
        assert not {"obs.tool.input", "obs.tool.output", "obs.entry.details"} & set(
            attributes(span)
        ), span.name
    # The store keeps everything.
    conn = sqlite3.connect(exported)
    assert conn.execute("SELECT input, output FROM tool_uses WHERE id = 'toolu_1'").fetchone() == (
        '{"command":"echo hi"}',
        "hi",
    )
    assert conn.execute(
        "SELECT json_extract(details, '$.chosen') FROM transcript_entries"
        " WHERE entry_type = 'decision'"
    ).fetchone() == ("a",)
    conn.close()
