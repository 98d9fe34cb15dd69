"""Agent and tool spans that otel-obs did not make land in the store like our own.

Each case makes spans as the current releases of the other instrumentations
make them, through the real OpenTelemetry SDK into a real store (a SQLite
file), and checks every row it leaves: ``tool_uses``, ``transcript_entries``,
``build_agent_instances`` and the executions.

* GenAI semantic conventions: spans made by ``opentelemetry-util-genai``'s own
  ``TelemetryHandler`` (it sets ``gen_ai.tool.call.id``, the arguments, the
  result, ``error.type`` and the conversation id only when a span ends).
* OpenInference: the attribute names and order of
  ``openinference-instrumentation-claude-agent-sdk`` 0.1.x (``_wrappers.py``):
  an AGENT span that learns ``session.id`` from the result message (its
  ``_process_message`` finds no session on the SDK's typed init message) unless
  ``using_session`` put it there at the start; TOOL spans named after the tool
  with ``tool.id``, ``tool.name``, ``tool.parameters``, ``input.value`` at start
  and ``output.value`` or an exception event plus ERROR status at the end; a
  subagent AGENT span under its ``Task`` tool span. And the instrumentor
  itself, on the real SDK with a replayed session.
* Claude Code's own telemetry (the bundled CLI 2.1.x): ``claude_code.interaction``
  (``gen_ai.operation.name=invoke_agent``, ``gen_ai.conversation.id``) and
  ``claude_code.tool`` spans (``tool_name``, ``gen_ai.tool.name``,
  ``tool_use_id``, ``gen_ai.tool.call.id``, ``gen_ai.conversation.id``) with
  their ``claude_code.tool.blocked_on_user`` and ``claude_code.tool.execution``
  children; only the execution child says that a tool failed (``success``
  false, ``error.type=tool_error``, ``error``, an ERROR status), and it is
  exported before its tool span. They reach a store through an exporter with
  no span processor in between, through the live processors, and over OTLP
  into ``otel-obs serve``, in either order and again.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Status, StatusCode, set_span_in_context
from producer_support import rows

from otel_obs import conventions as c
from otel_obs.config import get_pipeline
from otel_obs.exporters.context_processor import ContextSpanProcessor, obs_baggage_processor
from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.processor import TranscriptSpanProcessor
from otel_obs.exporters.store_choice import thread_store
from otel_obs.transcript_writer import TranscriptWriter

genai_handler = pytest.importorskip("opentelemetry.util.genai.handler")

TOOL_COLUMNS = (
    "id",
    "execution_id",
    "instance_id",
    "task_id",
    "tool",
    "tool_category",
    "input",
    "input_summary",
    "output",
    "result_status",
    "is_error",
    "is_blocked",
    "error_message",
    "file_path",
)


def tool_uses(db: Path) -> list[dict[str, Any]]:
    return rows(db, f"SELECT {', '.join(TOOL_COLUMNS)} FROM tool_uses ORDER BY start_time")


def entries(db: Path) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT execution_id, sequence, instance_id, task_id, entry_type, summary, tool_use_id"
        " FROM transcript_entries ORDER BY execution_id, sequence",
    )


def instances(db: Path) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT id, execution_id, status, error FROM build_agent_instances ORDER BY spawned_at",
    )


def executions(db: Path) -> list[str]:
    return [r["id"] for r in rows(db, "SELECT id FROM task_list_execution_runs ORDER BY id")]


def assert_linked(db: Path) -> None:
    """Every tool use has its entry, and sequences run 1..n per execution."""
    orphans = rows(
        db,
        "SELECT t.id FROM tool_uses t LEFT JOIN transcript_entries e"
        " ON e.id = t.transcript_entry_id AND e.execution_id = t.execution_id WHERE e.id IS NULL",
    )
    assert orphans == []
    for execution in executions(db):
        seqs = [
            r["sequence"]
            for r in rows(
                db,
                "SELECT sequence FROM transcript_entries WHERE execution_id = ? ORDER BY sequence",
                execution,
            )
        ]
        assert seqs == list(range(1, len(seqs) + 1))


def run_of(db: Path, name: str) -> str:
    """The instance of the one run of agent ``name``: ``<name>@<its span id>``."""
    found = [r["id"] for r in instances(db) if re.fullmatch(rf"{re.escape(name)}@[^/]*", r["id"])]
    assert len(found) == 1, (name, instances(db))
    assert re.fullmatch(rf"{re.escape(name)}@[0-9a-f]{{16}}", found[0])
    return found[0]


def tool(**values: Any) -> dict[str, Any]:
    """An expected tool_uses row: defaults for what most rows share."""
    row = dict.fromkeys(TOOL_COLUMNS)
    row.update(is_error=0, is_blocked=0, result_status="done")
    row.update(values)
    return row


@pytest.fixture
def pipeline(tmp_path: Path):
    pipe = get_pipeline(tmp_path / "obs.db", tmp_path / "transcripts")
    yield pipe
    pipe.shutdown()


@pytest.fixture
def capture_content(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GenAI utilities put arguments and results on spans only when asked to."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")


# --------------------------------------------------------------------------
# GenAI semantic conventions, made by opentelemetry-util-genai
# --------------------------------------------------------------------------


def test_genai_agent_and_tools_fill_every_table(pipeline, capture_content) -> None:
    handler = genai_handler.TelemetryHandler(tracer_provider=pipeline.provider)
    with handler.invoke_local_agent(agent_name="coder", conversation_id="conv-1"):
        with handler.tool("Bash") as bash:
            bash.tool_call_id = "call-1"
            bash.arguments = {"command": "ls src", "env": {"API_KEY": "sk-abcdefghijklmnop1234"}}
            bash.tool_result = "a.py\nb.py"
        read = handler.tool("Read")
        read.tool_call_id = "call-2"
        read.arguments = {"file_path": "src/missing.py"}
        read.fail(FileNotFoundError("no such file: src/missing.py"))
    assert pipeline.flush(10)
    db = pipeline.db_path

    assert executions(db) == ["conv-1"]
    coder = run_of(db, "coder")  # one instance per run of the agent
    got = tool_uses(db)
    assert "sk-abcdefghijklmnop1234" not in got[0]["input"]  # redacted like our own inputs
    assert json.loads(got[0]["input"])["command"] == "ls src"
    got[0]["input"] = "<checked>"
    assert got == [
        tool(
            id="call-1",
            execution_id="conv-1",
            instance_id=coder,
            tool="Bash",
            tool_category="shell",
            input="<checked>",
            input_summary="ls src",
            output="a.py\nb.py",
        ),
        tool(
            id="call-2",
            execution_id="conv-1",
            instance_id=coder,
            tool="Read",
            tool_category="file_read",
            input='{"file_path":"src/missing.py"}',
            input_summary="src/missing.py",
            result_status="error",
            is_error=1,
            error_message="no such file: src/missing.py",
            file_path="src/missing.py",
        ),
    ]
    assert entries(db) == [
        {
            "execution_id": "conv-1",
            "sequence": 1,
            "instance_id": coder,
            "task_id": None,
            "entry_type": "tool_use",
            "summary": "Bash: ls src",
            "tool_use_id": "call-1",
        },
        {
            "execution_id": "conv-1",
            "sequence": 2,
            "instance_id": coder,
            "task_id": None,
            "entry_type": "tool_use",
            "summary": "Read: src/missing.py",
            "tool_use_id": "call-2",
        },
    ]
    assert instances(db) == [
        {"id": coder, "execution_id": "conv-1", "status": "completed", "error": None}
    ]
    assert_linked(db)


def test_genai_tool_nested_in_our_task_joins_our_execution(tmp_path: Path, capture_content):
    writer = TranscriptWriter(
        "exec-ours", "agent-1", db_path=tmp_path / "obs.db", transcripts_dir=tmp_path / "t"
    )
    handler = genai_handler.TelemetryHandler(tracer_provider=writer.pipeline.provider)
    with writer.task("T1", "User model", action="CREATE", file="src/user.ts"):
        with handler.tool("Write") as write:
            write.tool_call_id = "call-w"
            write.arguments = {"file_path": "src/user.ts", "content": "export {}"}
            write.tool_result = "ok"
        failing = handler.tool("Bash")
        failing.tool_call_id = "call-b"
        failing.arguments = {"command": "tsc"}
        failing.fail(RuntimeError("tsc exited 2"))
    writer.close()
    db = tmp_path / "obs.db"

    assert executions(db) == ["exec-ours"]
    assert tool_uses(db) == [
        tool(
            id="call-w",
            execution_id="exec-ours",
            instance_id="agent-1",
            task_id="T1",
            tool="Write",
            tool_category="file_write",
            input='{"file_path":"src/user.ts","content":"export {}"}',
            input_summary="src/user.ts",
            output="ok",
            file_path="src/user.ts",
        ),
        tool(
            id="call-b",
            execution_id="exec-ours",
            instance_id="agent-1",
            task_id="T1",
            tool="Bash",
            tool_category="shell",
            input='{"command":"tsc"}',
            input_summary="tsc",
            result_status="error",
            is_error=1,
            error_message="tsc exited 2",
        ),
    ]
    got = [(e["sequence"], e["entry_type"], e["task_id"], e["tool_use_id"]) for e in entries(db)]
    assert got == [
        (1, "task_start", "T1", None),
        (2, "tool_use", "T1", "call-w"),
        (3, "tool_use", "T1", "call-b"),
        (4, "task_end", "T1", None),
    ]
    assert [(i["id"], i["execution_id"]) for i in instances(db)] == [("agent-1", "exec-ours")]
    assert_linked(db)


# --------------------------------------------------------------------------
# OpenInference, as openinference-instrumentation-claude-agent-sdk shapes it
# --------------------------------------------------------------------------

OI_KIND = "openinference.span.kind"


def oi_tool_start(tracer: Any, parent: Any, name: str, tool_id: str, params: dict) -> Any:
    text = json.dumps(params)
    return tracer.start_span(
        name,
        context=set_span_in_context(parent),
        attributes={
            OI_KIND: "TOOL",
            "tool.id": tool_id,
            "tool.name": name,
            "tool.parameters": text,
            "input.value": text,
            "input.mime_type": "application/json",
        },
    )


def oi_tool_done(span: Any, response: Any) -> None:
    span.set_attributes({"output.value": json.dumps(response), "output.mime_type": "text/plain"})
    span.set_status(Status(StatusCode.OK))
    span.end()


def oi_subagent(tracer: Any, task: Any) -> Any:
    """The subagent span OpenInference starts under a ``Task`` tool span: always named Task."""
    return tracer.start_span(
        "ClaudeAgentSDK.Task",
        context=set_span_in_context(task),
        attributes={OI_KIND: "AGENT", "agent.name": "Task"},
    )


def oi_agent_done(agent: Any) -> None:
    agent.set_status(Status(StatusCode.OK))
    agent.end()


def oi_tool_failed(span: Any, error: str) -> None:
    span.record_exception(Exception(error))
    span.set_status(Status(StatusCode.ERROR, error))
    span.end()


@pytest.mark.parametrize("session_at_start", [True, False], ids=["using_session", "no-session"])
def test_openinference_session_subagent_and_error(pipeline, session_at_start: bool) -> None:
    """With ``using_session`` the session id is on the agent span from its start; without it
    OpenInference learns it from the result message, after the tools ran. Either way the
    session is the execution: the store decides its spans' identity once their agent ended.
    Each subagent is an instance of its own, named after the call that started it."""
    tracer = pipeline.provider.get_tracer("openinference.instrumentation.claude_agent_sdk")
    context_attrs = {"session.id": "sess-1"} if session_at_start else {}
    root = tracer.start_span(
        "ClaudeAgentSDK.query",
        attributes={
            OI_KIND: "AGENT",
            "llm.system": "anthropic",
            "llm.provider": "anthropic",
            "input.value": "fix the build",
            "input.mime_type": "text/plain",
            **context_attrs,
        },
    )
    root.set_attribute("llm.model_name", "claude-sonnet-4-5")
    read = oi_tool_start(tracer, root, "Read", "toolu_1", {"file_path": "setup.py"})
    oi_tool_done(read, "print('hi')")
    task = oi_tool_start(tracer, root, "Task", "toolu_2", {"prompt": "run tests"})
    sub = oi_subagent(tracer, task)
    oi_tool_failed(
        oi_tool_start(tracer, sub, "Bash", "toolu_3", {"command": "pytest"}),
        "Exit code 1: 3 failed",
    )
    oi_agent_done(sub)
    oi_tool_done(task, {"content": "3 tests failed"})
    # A second subagent, named "Task" too: an instance of its own, named after its call.
    task = oi_tool_start(tracer, root, "Task", "toolu_4", {"prompt": "lint"})
    sub = oi_subagent(tracer, task)
    oi_tool_done(
        oi_tool_start(tracer, sub, "Bash", "toolu_5", {"command": "ruff check"}),
        "All checks passed!",
    )
    oi_agent_done(sub)
    oi_tool_done(task, {"content": "clean"})
    # The result message: usage, cost, and (when not already known) the session id.
    root.set_attributes({"llm.cost.total": 0.0123, "llm.token_count.total": 1200})
    if not session_at_start:
        root.set_attribute("session.id", "sess-1")
    root.set_status(Status(StatusCode.OK))
    root.end()
    assert pipeline.flush(10)
    db = pipeline.db_path
    session = "sess-1"
    run = run_of(db, "agent")  # an agent span without a name

    assert executions(db) == [session]
    assert tool_uses(db) == [
        tool(
            id="toolu_1",
            execution_id=session,
            instance_id=run,
            tool="Read",
            tool_category="file_read",
            input='{"file_path": "setup.py"}',
            input_summary="setup.py",
            output="print('hi')",
            file_path="setup.py",
        ),
        tool(
            id="toolu_2",
            execution_id=session,
            instance_id=run,
            tool="Task",
            tool_category="agent",
            input='{"prompt": "run tests"}',
            input_summary="run tests",
            output='{"content": "3 tests failed"}',
        ),
        tool(
            id="toolu_3",
            execution_id=session,
            instance_id=f"{run}/toolu_2",
            tool="Bash",
            tool_category="shell",
            input='{"command": "pytest"}',
            input_summary="pytest",
            result_status="error",
            is_error=1,
            error_message="Exit code 1: 3 failed",
        ),
        tool(
            id="toolu_4",
            execution_id=session,
            instance_id=run,
            tool="Task",
            tool_category="agent",
            input='{"prompt": "lint"}',
            input_summary="lint",
            output='{"content": "clean"}',
        ),
        tool(
            id="toolu_5",
            execution_id=session,
            instance_id=f"{run}/toolu_4",
            tool="Bash",
            tool_category="shell",
            input='{"command": "ruff check"}',
            input_summary="ruff check",
            output="All checks passed!",
        ),
    ]
    got = [(e["sequence"], e["instance_id"], e["summary"], e["tool_use_id"]) for e in entries(db)]
    assert got == [  # in the order the tool calls started
        (1, run, "Read: setup.py", "toolu_1"),
        (2, run, "Task: run tests", "toolu_2"),
        (3, f"{run}/toolu_2", "Bash: pytest", "toolu_3"),
        (4, run, "Task: lint", "toolu_4"),
        (5, f"{run}/toolu_4", "Bash: ruff check", "toolu_5"),
    ]
    assert instances(db) == [
        {"id": run, "execution_id": session, "status": "completed", "error": None},
        {"id": f"{run}/toolu_2", "execution_id": session, "status": "completed", "error": None},
        {"id": f"{run}/toolu_4", "execution_id": session, "status": "completed", "error": None},
    ]
    assert_linked(db)


def test_error_type_alone_marks_an_error_with_the_exception_message(pipeline) -> None:
    tracer = pipeline.provider.get_tracer("some.instrumentation")
    span = tracer.start_span(
        "execute_tool fetch",
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "fetch",
            "gen_ai.tool.call.id": "call-x",
            "gen_ai.tool.call.arguments": "https://example.invalid/",  # not JSON
            "gen_ai.conversation.id": "conv-x",
        },
    )
    span.add_event(
        "exception", {"exception.type": "TimeoutError", "exception.message": "timed out"}
    )
    span.set_attribute("error.type", "TimeoutError")
    span.end()
    assert pipeline.flush(10)
    assert tool_uses(pipeline.db_path) == [
        tool(
            id="call-x",
            execution_id="conv-x",
            instance_id="conv-x",
            tool="fetch",
            tool_category="custom",
            input='"https://example.invalid/"',
            input_summary='"https://example.invalid/"',
            result_status="error",
            is_error=1,
            error_message="timed out",
        )
    ]


def test_a_failed_agent_run_stores_its_error_redacted_and_capped(tmp_path: Path) -> None:
    """A GenAI ``invoke_agent`` span that failed with a token in its status and exception
    message: its instance's error is redacted and capped as a failed tool's is, in SQLite,
    the JSONL and what P007 prints."""
    import subprocess
    import sys

    from sink_support import Sinks

    from otel_obs.redaction import ERROR_MESSAGE_CAP

    token = "ghp_" + "A1b2C3d4" * 5
    sinks = Sinks(tmp_path / "store")
    try:
        handler = genai_handler.TelemetryHandler(tracer_provider=sinks.pipeline.provider)
        with pytest.raises(RuntimeError):
            with handler.invoke_local_agent(agent_name="coder", conversation_id="conv-err"):
                raise RuntimeError(f"upstream refused: Bearer {token} " + "x" * 5000)
        sinks.flush()
        [row] = sinks.sqlite_rows("SELECT status, error FROM build_agent_instances")
        assert row[0] == "failed"
        assert "upstream refused" in row[1] and len(row[1]) <= ERROR_MESSAGE_CAP
        assert sinks.leaks(token) == []
        printed = subprocess.run(
            [sys.executable, "-m", "otel_obs", "tool", "P007", "-p", "execution_id=conv-err"]
            + ["--db", str(sinks.db), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert printed.returncode == 0, printed.stderr
        assert "upstream refused" in printed.stdout and token not in printed.stdout
    finally:
        sinks.close()


# --------------------------------------------------------------------------
# Claude Code's own telemetry: exported and stored with no processor between,
# through the live processors, and over OTLP into ``otel-obs serve``
# --------------------------------------------------------------------------

CC_SESSION = {"gen_ai.conversation.id": "cc-session", "session.id": "cc-session"}
#: What the CLI's failed Bash says on its ``claude_code.tool.execution`` span
#: (with ``OTEL_LOG_TOOL_DETAILS`` off the message is the error's class name).
CC_FAILURE = {
    "success": False,
    "error.type": "tool_error",
    "error": "Shell command failed",
    "error_class": "ShellError",
}


def claude_code_spans(tracer: Any, tools: tuple[tuple[str, str, bool], ...]) -> None:
    """One interaction of the CLI: per (tool use id, tool, failed) a ``claude_code.tool`` span
    with its ``blocked_on_user`` and ``execution`` children, which end first (the order the CLI
    exports them in). Only the execution child says that a tool failed."""
    interaction = tracer.start_span(
        "claude_code.interaction",
        attributes={
            "span.type": "interaction",
            "gen_ai.operation.name": "invoke_agent",
            **CC_SESSION,
            "user_prompt": "<REDACTED>",
            "interaction.sequence": 1,
        },
    )
    for tool_id, name, failed in tools:
        ids = {"tool_use_id": tool_id, "gen_ai.tool.call.id": tool_id}
        span = tracer.start_span(
            "claude_code.tool",
            context=set_span_in_context(interaction),
            attributes={
                "span.type": "tool",
                "tool_name": name,
                "tool_name_safe": name,
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                **CC_SESSION,
                "gen_ai.provider.name": "anthropic",
                **ids,
            },
        )
        inside = set_span_in_context(span)
        blocked = tracer.start_span(
            "claude_code.tool.blocked_on_user",
            context=inside,
            attributes={"span.type": "tool.blocked_on_user", **CC_SESSION},
        )
        blocked.set_attributes({"duration_ms": 3, "decision": "accept", "source": "config"})
        blocked.end()
        execution = tracer.start_span(
            "claude_code.tool.execution",
            context=inside,
            attributes={"span.type": "tool.execution", **CC_SESSION, **ids},
        )
        if failed:
            execution.set_attributes({"duration_ms": 7, **CC_FAILURE})
            execution.set_status(Status(StatusCode.ERROR, CC_FAILURE["error"]))
        else:
            execution.set_attributes({"duration_ms": 7, "success": True})
        execution.end()
        span.set_attribute("duration_ms", 12)
        span.end()
    # Not an agent or tool span: stores nothing.
    tracer.start_span("claude_code.llm_request", attributes=CC_SESSION).end()
    interaction.end()


CC_TOOLS = (("toolu_a", "Grep", False), ("toolu_b", "Bash", True))


def cc_memory() -> tuple[TracerProvider, Any]:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "claude-code"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    claude_code_spans(provider.get_tracer("com.anthropic.claude_code.tracing"), CC_TOOLS)
    return provider, memory.get_finished_spans()


def failed_step_and_tool(spans: Any) -> tuple[Any, Any]:
    """The failed ``claude_code.tool.execution`` span and its ``claude_code.tool`` span."""
    child = next(s for s in spans if s.attributes.get("success") is False)
    parent = next(s for s in spans if s.context.span_id == child.parent.span_id)
    assert parent.name == "claude_code.tool"
    return child, parent


def check_claude_code_store(db: Path) -> None:
    assert executions(db) == ["cc-session"]
    run = run_of(db, "agent")  # the interaction: an agent span without a name
    assert tool_uses(db) == [
        tool(
            id="toolu_a",
            execution_id="cc-session",
            instance_id=run,
            tool="Grep",
            tool_category="file_read",
        ),
        tool(
            id="toolu_b",
            execution_id="cc-session",
            instance_id=run,
            tool="Bash",
            tool_category="shell",
            result_status="error",
            is_error=1,
            error_message="Shell command failed",
        ),
    ]
    assert [(e["sequence"], e["tool_use_id"], e["summary"]) for e in entries(db)] == [
        (1, "toolu_a", "Grep:"),
        (2, "toolu_b", "Bash:"),
    ]
    assert instances(db) == [
        {"id": run, "execution_id": "cc-session", "status": "completed", "error": None}
    ]
    assert_linked(db)


@pytest.mark.parametrize(
    ("tool_use_id", "stored_id"),
    [(2**70, str(2**70)), ("toolu_\x00\ud800", "toolu_\ufffd\ufffd")],
    ids=["int-beyond-64-bits", "nul-and-lone-surrogate"],
)
def test_a_failed_step_with_bad_values_is_stored_capped_and_cleaned(
    tmp_path: Path, tool_use_id: Any, stored_id: str
) -> None:
    """A ``claude_code.tool.execution`` span of odd values (an id that is no text, a 1 MB
    message, text SQLite cannot hold) still marks its tool use failed, whole and capped."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_obs.redaction import ERROR_MESSAGE_CAP

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    step = provider.get_tracer("cc").start_span(
        "claude_code.tool.execution",
        attributes={
            "tool_use_id": tool_use_id,
            "session.id": "cc-bad",
            "success": False,
            "error": "x" * (1 << 20),
        },
    )
    step.end()
    store = thread_store(tmp_path / "obs.db", tmp_path / "t")
    SqliteSpanExporter(store).export(memory.get_finished_spans())
    store.flush()
    stats = store.stats()
    store.close()
    assert stats["failures"] == 0 and stats["dropped_rows"] == 0
    [row] = rows(tmp_path / "obs.db", "SELECT id, result_status, error_message FROM tool_uses")
    assert (row["id"], row["result_status"]) == (stored_id, "error")
    assert row["error_message"] == "x" * ERROR_MESSAGE_CAP


def test_nul_in_foreign_ids_and_names_keeps_two_conversations_two(tmp_path: Path) -> None:
    """A foreign span's texts are made storable as the producers make theirs: SQLite cuts
    a text at NUL, which would merge ``conv<NUL>A`` and ``conv<NUL>B`` into ``conv``."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("genai-like")
    for conversation in ("A", "B"):
        tracer.start_span(
            "execute_tool Gr\x00ep",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "Gr\x00ep",
                "gen_ai.tool.call.id": f"call\x00{conversation}",
                "gen_ai.conversation.id": f"conv\x00{conversation}",
            },
        ).end()
    store = thread_store(tmp_path / "obs.db", tmp_path / "t")
    SqliteSpanExporter(store).export(memory.get_finished_spans())
    store.flush()
    store.close()
    db = tmp_path / "obs.db"
    assert executions(db) == ["conv\ufffdA", "conv\ufffdB"]
    stored = rows(db, "SELECT execution_id, id, tool FROM tool_uses ORDER BY execution_id")
    assert stored == [
        {"execution_id": f"conv\ufffd{x}", "id": f"call\ufffd{x}", "tool": "Gr\ufffdep"}
        for x in "AB"
    ]
    in_jsonl = sorted(
        (record["execution_id"], record["tool_use_id"])
        for path in (tmp_path / "t").rglob("transcript.jsonl")
        for record in map(json.loads, path.read_text().splitlines())
    )
    assert in_jsonl == [(f"conv\ufffd{x}", f"call\ufffd{x}") for x in "AB"]
    assert_linked(db)


def test_claude_code_spans_map_alone_through_the_exporter(tmp_path: Path) -> None:
    _, spans = cc_memory()
    store = thread_store(tmp_path / "obs.db", tmp_path / "t")
    SqliteSpanExporter(store).export(spans)
    store.flush()
    store.close()
    check_claude_code_store(tmp_path / "obs.db")


def test_claude_code_spans_through_the_live_processors(pipeline) -> None:
    claude_code_spans(pipeline.provider.get_tracer("com.anthropic.claude_code.tracing"), CC_TOOLS)
    assert pipeline.flush(10)
    check_claude_code_store(pipeline.db_path)


ARRIVALS = {
    "child-first": lambda child, parent: [[child], [parent]],
    "parent-first": lambda child, parent: [[parent], [child]],
    "one-batch": lambda child, parent: [[child, parent]],
}


@pytest.mark.parametrize("arrival", list(ARRIVALS))
def test_claude_code_failure_survives_either_order_and_redelivery(
    tmp_path: Path, arrival: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failed step and its tool span in separate batches, either first, then both again:
    the tool use is stored failed, and re-delivery changes nothing. Their interaction never
    arrives here: with no link wait they are stored with what they say themselves."""
    from ingest_support import table_rows

    monkeypatch.setenv("OTEL_OBS_LINK_WAIT_MS", "0")

    _, spans = cc_memory()
    child, parent = failed_step_and_tool(spans)
    store = thread_store(tmp_path / "obs.db", tmp_path / "t")
    exporter = SqliteSpanExporter(store)
    for batch in ARRIVALS[arrival](child, parent):
        exporter.export(batch)
        store.flush()
    first = table_rows(tmp_path / "obs.db", exclude={})
    for batch in ARRIVALS[arrival](child, parent):
        exporter.export(batch)
        store.flush()
    exporter.export([parent, child])
    store.flush()
    store.close()
    db = tmp_path / "obs.db"
    assert table_rows(db, exclude={}) == first
    assert [
        (t["id"], t["tool"], t["result_status"], t["is_error"], t["error_message"])
        for t in tool_uses(db)
    ] == [("toolu_b", "Bash", "error", 1, "Shell command failed")]
    assert_linked(db)


def test_claude_code_failed_step_merges_with_its_tool_span_in_one_batch() -> None:
    """Mapped into one batch in either order, the failed step and its tool span make the same
    one row: the tool span's, failed; a step that succeeded maps to nothing."""
    from otel_obs.exporters.mapping import Rows, iso_from_ns, map_span

    _, spans = cc_memory()
    child, parent = failed_step_and_tool(spans)
    merged = []
    for order in ([child, parent], [parent, child]):
        rows = Rows()
        for span in order:
            map_span(span, rows)
        [row] = rows.rows("tool_uses")
        assert rows.phase("tool_uses", ("cc-session", "toolu_b")) == "end"
        merged.append(row)
    assert merged[0] == merged[1]
    row = merged[0]
    assert (row["tool"], row["result_status"], row["is_error"], row["error_message"]) == (
        "Bash",
        "error",
        1,
        "Shell command failed",
    )
    assert row["start_time"] == iso_from_ns(parent.start_time)
    assert row["span_id"] == format(parent.context.span_id, "016x")
    assert row["transcript_entry_id"]
    succeeded = next(s for s in spans if s.attributes.get("success") is True)
    assert not map_span(succeeded)


def test_claude_code_failure_over_otlp_into_serve(tmp_path: Path) -> None:
    """The CLI's spans as OTLP requests to a real ``otel-obs serve``: the failed execution
    child in a request before its tool span's, as the CLI sends them; then all again."""
    import requests
    from ingest_support import Served, count, protobuf_body, table_rows, wait_for

    _, spans = cc_memory()
    children = [s for s in spans if s.name != "claude_code.tool"]
    parents = [s for s in spans if s.name == "claude_code.tool"]
    served = Served(tmp_path / "served.db")
    headers = {"Content-Type": "application/x-protobuf"}
    try:
        for batch in (children, parents):
            assert requests.post(served.http, data=protobuf_body(batch), headers=headers).ok
        wait_for(
            lambda: count(served.db, "SELECT count(*) FROM transcript_entries") == 2,
            what="both tool uses stored",
        )
        wait_for(
            lambda: count(served.db, "SELECT count(*) FROM tool_uses WHERE tool = 'Bash'") == 1,
            what="the tool span stored",
        )
        first = table_rows(served.db, exclude={})
        assert requests.post(served.http, data=protobuf_body(spans), headers=headers).ok
        served.stop()
    finally:
        served.kill()
    check_claude_code_store(served.db)
    assert table_rows(served.db, exclude={}) == first


# --------------------------------------------------------------------------
# what is not an agent or tool span, and the order of processors
# --------------------------------------------------------------------------


def test_span_with_only_our_baggage_creates_no_execution(pipeline) -> None:
    tracer = pipeline.provider.get_tracer("app")
    token = context.attach(baggage.set_baggage(c.EXECUTION_ID, "exec-phantom"))
    try:
        with tracer.start_as_current_span("http GET /health") as span:
            assert span.attributes[c.EXECUTION_ID] == "exec-phantom"  # the baggage reached it
    finally:
        context.detach(token)
    assert pipeline.flush(10)
    db = pipeline.db_path
    assert executions(db) == []
    assert rows(db, "SELECT count(*) AS n FROM transcript_entries") == [{"n": 0}]


class SessionStamp(SpanProcessor):
    """A third party's processor that names the session of agent spans as they start."""

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if (span.attributes or {}).get(OI_KIND) == "AGENT":
            span.set_attribute("session.id", "sess-stamped")


ORDERS = list(itertools.permutations(["context", "store", "stamp"]))


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_order_of_processors_does_not_matter(
    tmp_path: Path, capture_content, order: tuple[str, ...]
) -> None:
    store = thread_store(tmp_path / "obs.db", tmp_path / "t")
    provider = TracerProvider()
    made = {
        "context": ContextSpanProcessor(None, obs_baggage_processor()),
        "store": TranscriptSpanProcessor(store),
        "stamp": SessionStamp(),
    }
    for name in order:
        provider.add_span_processor(made[name])
    # A GenAI agent under our baggage, and an OpenInference one whose session a
    # processor names at its start.
    handler = genai_handler.TelemetryHandler(tracer_provider=provider)
    token = context.attach(baggage.set_baggage(c.EXECUTION_ID, "exec-bag"))
    try:
        with handler.invoke_local_agent(agent_name="planner"):
            with handler.tool("Glob") as glob:
                glob.tool_call_id = "call-g"
                glob.arguments = {"pattern": "**/*.py"}
    finally:
        context.detach(token)
    tracer = provider.get_tracer("openinference.instrumentation.claude_agent_sdk")
    root = tracer.start_span("ClaudeAgentSDK.query", attributes={OI_KIND: "AGENT"})
    oi_tool_done(oi_tool_start(tracer, root, "Read", "toolu_s", {"file_path": "a.py"}), "x")
    root.end()
    provider.shutdown()
    db = tmp_path / "obs.db"
    assert executions(db) == ["exec-bag", "sess-stamped"]
    planner, session_run = run_of(db, "planner"), run_of(db, "agent")
    assert [(t["id"], t["execution_id"], t["instance_id"]) for t in tool_uses(db)] == [
        ("call-g", "exec-bag", planner),
        ("toolu_s", "sess-stamped", session_run),
    ]
    assert instances(db) == [
        {"id": planner, "execution_id": "exec-bag", "status": "completed", "error": None},
        {
            "id": session_run,
            "execution_id": "sess-stamped",
            "status": "completed",
            "error": None,
        },
    ]
    assert_linked(db)


# --------------------------------------------------------------------------
# OpenInference's own instrumentor, on the real SDK, into the store
# --------------------------------------------------------------------------


def test_openinference_instrumentor_spans_land_in_the_store(pipeline) -> None:
    """The real ``openinference-instrumentation-claude-agent-sdk`` on a replayed session."""
    oi = pytest.importorskip("openinference.instrumentation.claude_agent_sdk")
    using_session = pytest.importorskip("openinference.instrumentation").using_session
    import asyncio

    import claude_agent_sdk
    from claude_replay import (
        ReplayTransport,
        assistant,
        failure,
        init,
        post,
        result,
        tool_result,
        tool_results,
        tool_use,
    )

    ls, tsc = {"command": "ls"}, {"command": "tsc"}
    script = [
        init(),
        assistant(tool_use("toolu_o1", "Bash", ls), tool_use("toolu_o2", "Bash", tsc)),
        post("toolu_o1", "Bash", ls, "a.py"),
        failure("toolu_o2", "Bash", tsc, "Exit code 2"),
        tool_results(tool_result("toolu_o1", "a.py"), tool_result("toolu_o2", "Exit code 2", True)),
        result(),
    ]
    instrumentor = oi.ClaudeAgentSDKInstrumentor()
    instrumentor.instrument(tracer_provider=pipeline.provider)
    try:

        async def main() -> None:
            with using_session("sess-oi"):
                async for _ in claude_agent_sdk.query(
                    prompt="build", transport=ReplayTransport(script)
                ):
                    pass

        asyncio.run(main())
    finally:
        instrumentor.uninstrument()
    assert pipeline.flush(10)
    db = pipeline.db_path
    assert executions(db) == ["sess-oi"]
    got = [
        (t["id"], t["instance_id"], t["tool"], t["result_status"], t["output"], t["error_message"])
        for t in tool_uses(db)
    ]
    assert got == [
        ("toolu_o1", run_of(db, "agent"), "Bash", "done", "a.py", None),
        ("toolu_o2", run_of(db, "agent"), "Bash", "error", None, "Exit code 2"),
    ]
    assert [(e["sequence"], e["tool_use_id"]) for e in entries(db)] == [
        (1, "toolu_o1"),
        (2, "toolu_o2"),
    ]
    run = run_of(db, "agent")
    assert instances(db) == [
        {"id": run, "execution_id": "sess-oi", "status": "completed", "error": None}
    ]
    assert_linked(db)


def test_failed_span_over_otlp_keeps_its_status(tmp_path: Path) -> None:
    """An OpenInference tool span that failed (status and exception event only), encoded by
    the real OTLP encoder and decoded by ``otel-obs serve``'s decoder, is stored ``error``."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_obs.ingest.decode import records_of

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("openinference.instrumentation.claude_agent_sdk")
    root = tracer.start_span(
        "ClaudeAgentSDK.query", attributes={OI_KIND: "AGENT", "session.id": "sess-otlp"}
    )
    oi_tool_failed(
        oi_tool_start(tracer, root, "Bash", "toolu_x", {"command": "make"}), "Exit code 2"
    )
    root.end()
    decoded = records_of(encode_spans(memory.get_finished_spans()))
    store = thread_store(tmp_path / "obs.db", tmp_path / "t")
    SqliteSpanExporter(store).export(decoded.records)
    store.flush()
    store.close()
    got = tool_uses(tmp_path / "obs.db")
    # No context processor ran where it was made: the tool states no session, its agent
    # does, and the store takes it from there (the parent span id crosses OTLP).
    assert [(t["id"], t["execution_id"], t["result_status"], t["error_message"]) for t in got] == [
        ("toolu_x", "sess-otlp", "error", "Exit code 2")
    ]
    assert [t["instance_id"] for t in got] == [run_of(tmp_path / "obs.db", "agent")]
