"""Claude Agent SDK workers, unmodified, recorded by the instrumentor; and the hooks helper.

The SDK runs for real against a replay transport (see ``claude_replay.py``)
that plays recorded CLI streams and fires the CLI's hooks; the store is a real
SQLite file, and an in-memory exporter beside it shows the span tree.
"""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from producer_support import rows

pytest.importorskip("claude_agent_sdk")

from claude_agent_sdk import (  # noqa: E402
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookMatcher,
    ResultMessage,
    query,
)
from claude_replay import (  # noqa: E402
    MODEL,
    SESSION,
    ReplayTransport,
    assistant,
    deny_rm,
    failure,
    init,
    post,
    pre,
    result,
    text,
    tool_result,
    tool_results,
    tool_use,
)
from opentelemetry import baggage, context  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from otel_obs import conventions as c  # noqa: E402
from otel_obs.config import get_pipeline  # noqa: E402
from otel_obs.instrumentation.claude_agent_sdk import ClaudeAgentSDKInstrumentor  # noqa: E402
from otel_obs.instrumentation.claude_hooks import tool_use_hooks  # noqa: E402
from otel_obs.tool_use_logger import ToolUseLogger  # noqa: E402
from otel_obs.transcript_writer import TranscriptWriter  # noqa: E402

BASH = {"command": "ls src"}
RM = {"command": "rm -rf /"}


def tools(db: Path) -> list[tuple[Any, ...]]:
    return [
        (r["id"], r["instance_id"], r["tool"], r["result_status"], r["output"], r["error_message"])
        for r in rows(
            db,
            "SELECT id, instance_id, tool, result_status, output, error_message FROM tool_uses"
            " ORDER BY start_time, id",
        )
    ]


def check_integrity(db: Path, execution: str = SESSION) -> None:
    """One execution, sequences 1..n, every tool use linked to its entry."""
    assert [r["id"] for r in rows(db, "SELECT id FROM task_list_execution_runs")] == [execution]
    seqs = [
        r["sequence"] for r in rows(db, "SELECT sequence FROM transcript_entries ORDER BY sequence")
    ]
    assert seqs == list(range(1, len(seqs) + 1))
    unlinked = rows(
        db,
        "SELECT t.id FROM tool_uses t LEFT JOIN transcript_entries e"
        " ON e.id = t.transcript_entry_id AND e.execution_id = t.execution_id"
        " WHERE e.id IS NULL OR e.tool_use_id != t.id",
    )
    assert unlinked == []


class Recorded:
    """An instrumented process: the store, and the spans beside it."""

    def __init__(self, tmp_path: Path) -> None:
        self.pipeline = get_pipeline(tmp_path / "obs.db", tmp_path / "transcripts")
        self.spans = InMemorySpanExporter()
        self.pipeline.provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.db = self.pipeline.db_path

    def flush(self) -> None:
        assert self.pipeline.flush(10)

    def span(self, **attrs: Any) -> Any:
        found = [
            s
            for s in self.spans.get_finished_spans()
            if all((s.attributes or {}).get(k) == v for k, v in attrs.items())
        ]
        assert len(found) == 1, (attrs, found)
        return found[0]


@pytest.fixture
def recorded(tmp_path: Path):
    rec = Recorded(tmp_path)
    instrumentor = ClaudeAgentSDKInstrumentor()
    instrumentor.instrument(pipeline=rec.pipeline)
    yield rec
    instrumentor.uninstrument()
    rec.pipeline.shutdown()


def run_query(script: list[Any], options: ClaudeAgentOptions | None = None) -> list[Any]:
    async def main() -> list[Any]:
        transport = ReplayTransport(script)
        return [m async for m in query(prompt="go", options=options, transport=transport)]

    return asyncio.run(main())


def test_allowed_tool_and_the_agent_instance(recorded: Recorded) -> None:
    script = [
        init(),
        assistant(tool_use("toolu_01", "Bash", BASH)),
        pre("toolu_01", "Bash", BASH),
        post("toolu_01", "Bash", BASH, {"stdout": "a.py\nb.py", "stderr": ""}),
        tool_results(tool_result("toolu_01", "a.py\nb.py")),
        assistant(text("Two files.")),
        result(),
    ]
    messages = run_query(script)
    recorded.flush()
    db = recorded.db
    assert tools(db) == [("toolu_01", SESSION, "Bash", "done", "a.py\nb.py", None)]
    entry = rows(db, "SELECT sequence, entry_type, summary, instance_id FROM transcript_entries")
    assert entry == [
        {"sequence": 1, "entry_type": "tool_use", "summary": "Bash: ls src", "instance_id": SESSION}
    ]
    agents = rows(db, "SELECT id, execution_id, pid, status, error FROM build_agent_instances")
    assert agents == [
        {
            "id": SESSION,
            "execution_id": SESSION,
            "pid": os.getpid(),
            "status": "completed",
            "error": None,
        }
    ]
    check_integrity(db)
    agent = recorded.span(**{c.KIND: c.KIND_AGENT})
    attrs = agent.attributes
    assert attrs[c.GEN_AI_CONVERSATION_ID] == SESSION
    assert attrs[c.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[c.GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert attrs[c.GEN_AI_USAGE_OUTPUT_TOKENS] == 340
    assert attrs[c.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 800
    assert attrs[c.AGENT_COST_USD] == pytest.approx(0.0421)
    assert attrs[c.AGENT_NUM_TURNS] == 3
    assert isinstance(messages[-1], ResultMessage)


def test_messages_are_the_same_as_without_instrumentation(tmp_path: Path) -> None:
    script = [
        init(),
        assistant(tool_use("toolu_01", "Bash", BASH), tool_use("toolu_02", "Read", {"a": 1})),
        tool_results(tool_result("toolu_02", "x"), tool_result("toolu_01", "y", True)),
        result(),
    ]
    plain = run_query(script)
    rec = Recorded(tmp_path)
    instrumentor = ClaudeAgentSDKInstrumentor()
    instrumentor.instrument(pipeline=rec.pipeline)
    try:
        options = ClaudeAgentOptions(model="m")
        instrumented = run_query(script, options)
        assert options.hooks is None  # the worker's options are not changed
    finally:
        instrumentor.uninstrument()
        rec.pipeline.shutdown()
    assert instrumented == plain
    assert len(plain) == 4


def test_failing_tool_is_an_error_when_its_result_arrives(recorded: Recorded) -> None:
    tsc = {"command": "tsc --noEmit"}
    script = [
        init(),
        assistant(tool_use("toolu_02", "Bash", tsc)),
        pre("toolu_02", "Bash", tsc),
        failure("toolu_02", "Bash", tsc, "Exit code 2"),
        tool_results(tool_result("toolu_02", "Exit code 2\nsrc/a.ts(1,1): error", True)),
        assistant(tool_use("toolu_02b", "Read", {"file_path": "src/a.ts"})),
        tool_results(tool_result("toolu_02b", "let a = 1")),
        result(),
    ]
    run_query(script)
    recorded.flush()
    assert tools(recorded.db)[0] == (
        "toolu_02",
        SESSION,
        "Bash",
        "error",
        "Exit code 2\nsrc/a.ts(1,1): error",
        "Exit code 2\nsrc/a.ts(1,1): error",
    )
    # PostToolUseFailure told it from a deny: it ended with its result, not at the
    # result message (after the next tool use had started).
    times = dict(
        (r["id"], (r["start_time"], r["end_time"]))
        for r in rows(recorded.db, "SELECT id, start_time, end_time FROM tool_uses")
    )
    assert times["toolu_02"][1] < times["toolu_02b"][0]
    check_integrity(recorded.db)


def test_permission_denied_message_blocks_at_once(recorded: Recorded) -> None:
    """The permission system says so before the result: a session cut short still has it."""
    write = {"file_path": "/etc/hosts", "content": "x"}
    said = "Claude requested permissions to write to /etc/hosts, but you haven't granted it yet."
    script = [
        init(),
        assistant(tool_use("toolu_06", "Write", write)),
        {
            "type": "system",
            "subtype": "permission_denied",
            "tool_name": "Write",
            "tool_use_id": "toolu_06",
            "decision_reason_type": "workingDir",
            "decision_reason": "Path is outside allowed working directories",
            "message": said,
            "session_id": SESSION,
        },
        tool_results(tool_result("toolu_06", said, True)),
        # no result message: the stream ends here
    ]
    run_query(script)
    recorded.flush()
    got = rows(recorded.db, "SELECT id, result_status, block_reason FROM tool_uses")
    assert got == [{"id": "toolu_06", "result_status": "blocked", "block_reason": said}]


def test_tool_denied_by_a_hook_is_blocked_with_its_reason(recorded: Recorded) -> None:
    options = ClaudeAgentOptions(hooks={"PreToolUse": [HookMatcher(hooks=[deny_rm])]})
    reason = "destructive command"
    denial = {"tool_name": "Bash", "tool_use_id": "toolu_03", "tool_input": RM}
    script = [
        init(),
        assistant(tool_use("toolu_03", "Bash", RM)),
        pre("toolu_03", "Bash", RM),
        # After a deny neither PostToolUse nor PostToolUseFailure fires.
        tool_results(tool_result("toolu_03", reason, True)),
        result(denials=[denial]),
    ]
    run_query(script, options)
    recorded.flush()
    got = rows(recorded.db, "SELECT id, result_status, is_blocked, block_reason FROM tool_uses")
    assert got == [
        {"id": "toolu_03", "result_status": "blocked", "is_blocked": 1, "block_reason": reason}
    ]
    check_integrity(recorded.db)
    agent = recorded.span(**{c.KIND: c.KIND_AGENT})
    assert agent.attributes[c.AGENT_PERMISSION_DENIALS] == 1


def test_tool_denied_by_the_permission_system_is_blocked(recorded: Recorded) -> None:
    said = "Claude requested permissions to use Write, but you haven't granted it yet."
    write = {"file_path": "/etc/passwd", "content": "x"}
    script = [
        init(),
        assistant(tool_use("toolu_04", "Write", write), tool_use("toolu_05", "Bash", BASH)),
        failure("toolu_05", "Bash", BASH, "command not found"),
        tool_results(
            tool_result("toolu_04", said, True), tool_result("toolu_05", "command not found", True)
        ),
        result(denials=[{"tool_name": "Write", "tool_use_id": "toolu_04", "tool_input": write}]),
    ]
    run_query(script)
    recorded.flush()
    got = rows(recorded.db, "SELECT id, result_status, block_reason, error_message FROM tool_uses")
    assert sorted(got, key=lambda r: r["id"]) == [
        {"id": "toolu_04", "result_status": "blocked", "block_reason": said, "error_message": None},
        {
            "id": "toolu_05",
            "result_status": "error",
            "block_reason": None,
            "error_message": "command not found",
        },
    ]
    check_integrity(recorded.db)


def test_parallel_tool_uses_in_one_message_are_kept_apart(recorded: Recorded) -> None:
    script = [
        init(),
        assistant(
            tool_use("toolu_a", "Read", {"file_path": "src/a.py"}),
            tool_use("toolu_b", "Read", {"file_path": "src/b.py"}),
            tool_use("toolu_c", "Grep", {"pattern": "TODO"}),
        ),
        pre("toolu_a", "Read", {"file_path": "src/a.py"}),
        pre("toolu_b", "Read", {"file_path": "src/b.py"}),
        failure("toolu_b", "Read", {"file_path": "src/b.py"}, "File does not exist."),
        # Results come back in another order than the calls.
        tool_results(
            tool_result("toolu_c", [{"type": "text", "text": "src/a.py:3: TODO"}]),
            tool_result("toolu_b", "File does not exist.", True),
            tool_result("toolu_a", "print('a')"),
        ),
        result(),
    ]
    run_query(script)
    recorded.flush()
    got = {t[0]: t for t in tools(recorded.db)}
    assert got == {
        "toolu_a": ("toolu_a", SESSION, "Read", "done", "print('a')", None),
        "toolu_b": (
            "toolu_b",
            SESSION,
            "Read",
            "error",
            "File does not exist.",
            "File does not exist.",
        ),
        "toolu_c": ("toolu_c", SESSION, "Grep", "done", "src/a.py:3: TODO", None),
    }
    paths = rows(recorded.db, "SELECT tool_use_id, file_path FROM task_file_impacts ORDER BY 1")
    assert paths == [
        {"tool_use_id": "toolu_a", "file_path": "src/a.py"},
        {"tool_use_id": "toolu_b", "file_path": "src/b.py"},
    ]
    check_integrity(recorded.db)


def test_subagent_tool_uses_sit_under_their_task_tool_use(recorded: Recorded) -> None:
    task_input = {"description": "Run tests", "prompt": "run pytest", "subagent_type": "tester"}
    pytest_cmd = {"command": "pytest -q"}
    script = [
        init(),
        assistant(tool_use("toolu_task", "Task", task_input)),
        assistant(tool_use("toolu_sub", "Bash", pytest_cmd), parent="toolu_task"),
        tool_results(tool_result("toolu_sub", "3 passed"), parent="toolu_task"),
        assistant(text("All tests pass."), parent="toolu_task"),
        tool_results(tool_result("toolu_task", [{"type": "text", "text": "All tests pass."}])),
        result(),
    ]
    run_query(script)
    recorded.flush()
    sub = f"{SESSION}/toolu_task"
    assert tools(recorded.db) == [
        ("toolu_task", SESSION, "Task", "done", "All tests pass.", None),
        ("toolu_sub", sub, "Bash", "done", "3 passed", None),
    ]
    agents = rows(recorded.db, "SELECT id, status FROM build_agent_instances ORDER BY spawned_at")
    assert agents == [
        {"id": SESSION, "status": "completed"},
        {"id": sub, "status": "completed"},
    ]
    check_integrity(recorded.db)
    task_span = recorded.span(**{c.GEN_AI_TOOL_CALL_ID: "toolu_task"})
    sub_agent = recorded.span(**{c.KIND: c.KIND_AGENT, c.INSTANCE_ID: sub})
    sub_tool = recorded.span(**{c.GEN_AI_TOOL_CALL_ID: "toolu_sub"})
    assert sub_agent.parent.span_id == task_span.context.span_id
    assert sub_tool.parent.span_id == sub_agent.context.span_id


def test_error_result_fails_the_instance_and_baggage_names_the_execution(
    recorded: Recorded,
) -> None:
    script = [init(), assistant(text("thinking")), result(is_error=True)]
    token = context.attach(baggage.set_baggage(c.EXECUTION_ID, "exec-orchestrated"))
    try:
        run_query(script)
    finally:
        context.detach(token)
    recorded.flush()
    agents = rows(recorded.db, "SELECT id, execution_id, status, error FROM build_agent_instances")
    assert agents == [
        {
            "id": SESSION,
            "execution_id": "exec-orchestrated",
            "status": "failed",
            "error": "RuntimeError: result error_during_execution",
        }
    ]


def test_claude_sdk_client_session(recorded: Recorded) -> None:
    script = [
        init(),
        assistant(tool_use("toolu_c1", "Bash", BASH)),
        tool_results(tool_result("toolu_c1", "ok")),
        result(),
    ]

    async def main() -> list[Any]:
        async with ClaudeSDKClient(transport=ReplayTransport(script)) as client:
            await client.query("list the files")
            return [m async for m in client.receive_response()]

    messages = asyncio.run(main())
    recorded.flush()
    assert isinstance(messages[-1], ResultMessage)
    assert tools(recorded.db) == [("toolu_c1", SESSION, "Bash", "done", "ok", None)]
    assert rows(recorded.db, "SELECT status FROM build_agent_instances") == [
        {"status": "completed"}
    ]
    check_integrity(recorded.db)


def test_registered_for_opentelemetry_instrument() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="opentelemetry_instrumentor")}
    assert found.get("otel_obs_claude_agent_sdk") == (
        "otel_obs.instrumentation.claude_agent_sdk:ClaudeAgentSDKInstrumentor"
    )


# --------------------------------------------------------------------------
# hooks instead of the instrumentor; ToolUseLogger takes the hook payload
# --------------------------------------------------------------------------


def test_tool_use_hooks_log_through_a_tool_logger(tmp_path: Path) -> None:
    writer = TranscriptWriter(
        "exec-hooks", "worker-1", db_path=tmp_path / "obs.db", transcripts_dir=tmp_path / "t"
    )
    options = ClaudeAgentOptions(hooks=tool_use_hooks(ToolUseLogger(writer)))
    grep = {"pattern": "TODO"}
    script = [
        init(),
        assistant(tool_use("toolu_h1", "Bash", BASH), tool_use("toolu_h2", "Grep", grep)),
        pre("toolu_h1", "Bash", BASH),
        pre("toolu_h2", "Grep", grep),
        post("toolu_h1", "Bash", BASH, {"stdout": "a.py", "stderr": "", "interrupted": False}),
        failure("toolu_h2", "Grep", grep, "ripgrep not found"),
        tool_results(tool_result("toolu_h1", "a.py"), tool_result("toolu_h2", "x", True)),
        result(),
    ]
    run_query(script, options)
    writer.close()
    got = rows(
        tmp_path / "obs.db",
        "SELECT id, instance_id, tool, result_status, input, error_message FROM tool_uses"
        " ORDER BY id",
    )
    assert got == [
        {
            "id": "toolu_h1",
            "instance_id": "worker-1",
            "tool": "Bash",
            "result_status": "done",
            "input": '{"command":"ls src"}',
            "error_message": None,
        },
        {
            "id": "toolu_h2",
            "instance_id": "worker-1",
            "tool": "Grep",
            "result_status": "error",
            "input": '{"pattern":"TODO"}',
            "error_message": "ripgrep not found",
        },
    ]
    output = rows(tmp_path / "obs.db", "SELECT output FROM tool_uses WHERE id = 'toolu_h1'")
    assert '"stdout":"a.py"' in output[0]["output"]
    check_integrity(tmp_path / "obs.db", "exec-hooks")


def test_log_start_accepts_the_hook_payload(tmp_path: Path) -> None:
    writer = TranscriptWriter(
        "exec-p", "worker-1", db_path=tmp_path / "obs.db", transcripts_dir=tmp_path / "t"
    )
    logger = ToolUseLogger(writer)
    payload = {
        "session_id": SESSION,
        "hook_event_name": "PreToolUse",
        "tool_name": "Read",
        "tool_input": {"file_path": "src/x.py"},
        "tool_use_id": "toolu_p",
    }
    assert logger.log_start(payload) == "toolu_p"
    logger.log_end("toolu_p", {"content": "x = 1", "is_error": False})
    with pytest.raises(ValueError, match="tool use block needs a tool name"):
        logger.log_start({"tool_use_id": "toolu_q", "tool_input": {}})
    writer.close()
    got = rows(tmp_path / "obs.db", "SELECT id, tool, file_path, result_status FROM tool_uses")
    assert got == [
        {"id": "toolu_p", "tool": "Read", "file_path": "src/x.py", "result_status": "done"}
    ]


WORKER = """
import asyncio
import sys

sys.path.insert(0, {tests!r})
from claude_agent_sdk import query
import claude_replay as r

SCRIPT = [
    r.init(),
    r.assistant(r.tool_use("toolu_z1", "Bash", {{"command": "ls"}})),
    r.tool_results(r.tool_result("toolu_z1", "a.py")),
    r.result(),
]


async def main():
    async for message in query(prompt="list", transport=r.ReplayTransport(SCRIPT)):
        print(type(message).__name__)


asyncio.run(main())
"""


def test_unmodified_worker_under_opentelemetry_instrument(tmp_path: Path) -> None:
    """The zero-code form: the launcher finds the instrumentor through its entry point."""
    import shutil
    import subprocess
    import sys

    launcher = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert launcher is not None
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER.format(tests=str(Path(__file__).parent)))
    db = tmp_path / "obs.db"
    env = {
        "PATH": str(Path(sys.executable).parent),
        "OTEL_OBS_DB": str(db),
        "OTEL_OBS_TRANSCRIPTS_DIR": str(tmp_path / "transcripts"),
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        # OpenInference's instrumentor of the same SDK, when installed, records
        # the same session a second time (see the README).
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "claude_agent_sdk",
    }
    proc = subprocess.run(
        [launcher, sys.executable, str(worker)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "SystemMessage",
        "AssistantMessage",
        "UserMessage",
        "ResultMessage",
    ]
    assert tools(db) == [("toolu_z1", SESSION, "Bash", "done", "a.py", None)]
    check_integrity(db)


def test_background_subagent_ends_with_its_task_notification(recorded: Recorded) -> None:
    """A background subagent starts after its Task tool use ended and ends with its notice."""
    task_input = {"description": "Lint", "prompt": "run the linter", "subagent_type": "linter"}
    lint = {"command": "ruff check ."}
    launched = [{"type": "text", "text": "Async agent launched successfully."}]
    script = [
        init(),
        assistant(tool_use("toolu_bg", "Task", task_input)),
        tool_results(tool_result("toolu_bg", launched)),
        assistant(tool_use("toolu_bg_1", "Bash", lint), parent="toolu_bg"),
        tool_results(tool_result("toolu_bg_1", "E501 line too long", True), parent="toolu_bg"),
        {
            "type": "system",
            "subtype": "task_notification",
            "task_id": "a1b2c3",
            "tool_use_id": "toolu_bg",
            "status": "failed",
            "output_file": "/tmp/claude-1000/tasks/a1b2c3.output",
            "summary": "lint failed",
            "uuid": "5f3e9a2c-0000-4000-8000-000000000001",
            "session_id": SESSION,
        },
        result(),
    ]
    run_query(script)
    recorded.flush()
    sub = f"{SESSION}/toolu_bg"
    agents = rows(recorded.db, "SELECT id, status, error FROM build_agent_instances ORDER BY 1")
    assert agents == [
        {"id": SESSION, "status": "completed", "error": None},
        {"id": sub, "status": "failed", "error": "RuntimeError: subagent failed"},
    ]
    assert [(t[0], t[1], t[3]) for t in tools(recorded.db)] == [
        ("toolu_bg", SESSION, "done"),
        ("toolu_bg_1", sub, "error"),
    ]
    check_integrity(recorded.db)
    task_span = recorded.span(**{c.GEN_AI_TOOL_CALL_ID: "toolu_bg"})
    sub_agent = recorded.span(**{c.KIND: c.KIND_AGENT, c.INSTANCE_ID: sub})
    assert sub_agent.parent.span_id == task_span.context.span_id


def test_the_session_usage_and_cost_are_the_instances(recorded: Recorded) -> None:
    """The result message's usage and cost (the replay's ``result()``) reach ``llm_calls`` as
    the session's reported total, and the cost tools count it once."""
    from otel_obs import ObservabilitySkills

    run_query([init(), assistant(text("Nothing to do.")), result()])
    recorded.flush()
    got = rows(
        recorded.db,
        "SELECT kind, instance_id, input_tokens, output_tokens, cache_read_tokens, cost_usd,"
        " cost_source FROM llm_calls",
    )
    assert len(got) == 1 and got[0]["kind"] == "agent" and got[0]["instance_id"] == SESSION
    assert (got[0]["output_tokens"], got[0]["cache_read_tokens"]) == (340, 800)
    assert got[0]["input_tokens"] >= 1200  # cached input counted in, as documented
    assert got[0]["cost_usd"] == pytest.approx(0.0421) and got[0]["cost_source"] == "reported"
    with ObservabilitySkills(recorded.db) as skills:
        (agent,) = skills.cost_by_agent(SESSION)
    assert agent["total_cost_usd"] == pytest.approx(0.0421)
