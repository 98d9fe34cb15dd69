"""The instrumentor against the real Claude Code CLI: recorded, and live.

``data/claude_cli_session.jsonl`` is a session of the CLI bundled with
``claude-agent-sdk`` (2.1.x), recorded against the scripted Messages API of
``scripted_messages_api.py`` (paths neutralised): one assistant turn asking
for an allowed Bash, a failing Bash, a Write the permission system denies and
a Bash a PreToolUse hook denies. The replay test plays it through the real SDK.
``data/claude_cli_subagent.jsonl`` likewise: a ``Task`` tool use whose
subagent (a background agent: the tool answers "launched" at once, the
subagent's messages follow, and a ``task_notification`` ends it) runs a Bash.

The live test (marker ``claude_cli``) runs that CLI itself against the same
scripted API on 127.0.0.1, with a dummy key, so the stream is whatever the
installed CLI prints today. Another live test turns on the CLI's own traces
(enhanced telemetry) and sends them over OTLP to ``otel-obs serve``. They are
skipped, with the reason, when the SDK's bundled CLI is absent; deselect them
with ``-m "not claude_cli"``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

sdk = pytest.importorskip("claude_agent_sdk")

from claude_agent_sdk import ClaudeAgentOptions, HookMatcher, query  # noqa: E402
from claude_replay import ReplayTransport, deny_rm, load_recording  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from scripted_messages_api import ScriptedMessagesAPI, text, tool_use  # noqa: E402

from otel_obs import conventions as c  # noqa: E402
from otel_obs.config import get_pipeline  # noqa: E402
from otel_obs.instrumentation.claude_agent_sdk import ClaudeAgentSDKInstrumentor  # noqa: E402

RECORDING = Path(__file__).parent / "data" / "claude_cli_session.jsonl"
RECORDED_SESSION = "010e1f37-5630-4dc8-ab72-f9ccf6312af0"
SUBAGENT_RECORDING = Path(__file__).parent / "data" / "claude_cli_subagent.jsonl"
SUBAGENT_SESSION = "d7f51a1c-eaa0-4421-98d7-cd5c3b42aea0"
HOOK_DENIAL = "PreToolUse:Bash hook error: destructive command"


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def check_store(db: Path, session: str, denied_write: str) -> None:
    """Statuses, reasons, one execution, sequences 1..n, every tool use linked to its entry."""
    assert rows(db, "SELECT id FROM task_list_execution_runs") == [(session,)]
    assert rows(
        db,
        "SELECT id, result_status, output, error_message, block_reason FROM tool_uses ORDER BY id",
    ) == [
        ("toolu_rec_1", "done", "hello", None, None),
        ("toolu_rec_2", "error", "Exit code 3", "Exit code 3", None),
        ("toolu_rec_3", "blocked", None, None, denied_write),
        ("toolu_rec_4", "blocked", None, None, HOOK_DENIAL),
    ]
    seqs = rows(db, "SELECT sequence, tool_use_id FROM transcript_entries ORDER BY sequence")
    assert [s for s, _ in seqs] == [1, 2, 3, 4]
    assert sorted(t for _, t in seqs) == [
        "toolu_rec_1",
        "toolu_rec_2",
        "toolu_rec_3",
        "toolu_rec_4",
    ]
    assert rows(
        db,
        "SELECT count(*) FROM tool_uses t JOIN transcript_entries e"
        " ON e.id = t.transcript_entry_id AND e.tool_use_id = t.id",
    ) == [(4,)]
    assert rows(db, "SELECT id, status FROM build_agent_instances") == [(session, "completed")]


@pytest.fixture
def pipeline(tmp_path: Path):
    pipe = get_pipeline(tmp_path / "obs.db", tmp_path / "transcripts")
    pipe.spans = InMemorySpanExporter()  # type: ignore[attr-defined]
    pipe.provider.add_span_processor(SimpleSpanProcessor(pipe.spans))  # type: ignore[attr-defined]
    instrumentor = ClaudeAgentSDKInstrumentor()
    instrumentor.instrument(pipeline=pipe)
    yield pipe
    instrumentor.uninstrument()
    pipe.shutdown()


def _replay(recording: Path, prompt: str) -> None:
    """A recorded CLI session played through the real SDK."""

    async def main() -> None:
        transport = ReplayTransport(load_recording(recording))
        async for _ in query(prompt=prompt, transport=transport):
            pass

    asyncio.run(main())


def test_recorded_cli_session(pipeline) -> None:
    _replay(RECORDING, "clean and build")
    assert pipeline.flush(10)
    denied = (
        "Claude requested permissions to write to /tmp/otel-obs-denied.txt,"
        " but you haven't granted it yet."
    )
    check_store(pipeline.db_path, RECORDED_SESSION, denied)


def _cli_env(url: str, home: Path) -> dict[str, str]:
    """The CLI on the scripted API only: a dummy key, its own home, no other traffic."""
    return {
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": "sk-ant-dummy-key-for-a-scripted-api",
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }


def _bundled_cli() -> Path | None:
    path = Path(sdk.__file__).parent / "_bundled" / "claude"
    return path if path.is_file() else None


def _run_cli(
    api: ScriptedMessagesAPI,
    tmp_path: Path,
    prompt: str,
    env_changes: dict[str, str | None] | None = None,
    **options: Any,
) -> list[Any]:
    """The bundled CLI through the SDK on the scripted API, in a project and a home of
    its own; ``env_changes`` (None removes a variable) adjust :func:`_cli_env`.

    As root the CLI refuses to skip permissions: the default mode, with the
    tools the test allows (a Write outside the project is then denied).
    """
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    env = _cli_env(api.url, home)
    for name, value in (env_changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    settings = ClaudeAgentOptions(
        env=env,
        permission_mode="default",
        cwd=str(project),
        model="claude-sonnet-4-5",
        **options,
    )

    async def main() -> list[Any]:
        return [m async for m in query(prompt=prompt, options=settings)]

    return asyncio.run(asyncio.wait_for(main(), 120))


@pytest.mark.claude_cli
@pytest.mark.skipif(
    _bundled_cli() is None, reason="claude-agent-sdk's bundled CLI is not installed"
)
def test_real_cli_against_a_scripted_messages_api(pipeline, tmp_path: Path) -> None:
    denied_path = tmp_path / "outside" / "denied.txt"
    turns = [
        [
            text("Working on it."),
            tool_use("toolu_rec_1", "Bash", {"command": "echo hello", "description": "say hello"}),
            tool_use("toolu_rec_2", "Bash", {"command": "exit 3", "description": "fail"}),
            tool_use("toolu_rec_3", "Write", {"file_path": str(denied_path), "content": "x"}),
            tool_use("toolu_rec_4", "Bash", {"command": "rm -rf build", "description": "clean"}),
        ],
        [text("Done.")],
    ]

    with ScriptedMessagesAPI(turns) as api:
        messages = _run_cli(
            api,
            tmp_path,
            "clean and build",
            allowed_tools=["Bash"],
            max_turns=4,
            hooks={"PreToolUse": [HookMatcher(hooks=[deny_rm])]},
        )
    assert pipeline.flush(10)
    session = messages[-1].session_id
    denied = (
        f"Claude requested permissions to write to {denied_path}, but you haven't granted it yet."
    )
    check_store(pipeline.db_path, session, denied)
    assert not denied_path.exists()


def check_subagent(pipeline: Any, session: str) -> None:
    """The subagent is an instance of its own, under its Task tool use; its Bash is its own."""
    db = pipeline.db_path
    sub = f"{session}/toolu_rec_task"
    assert rows(db, "SELECT id, instance_id, tool, result_status FROM tool_uses ORDER BY id") == [
        ("toolu_rec_sub", sub, "Bash", "done"),
        ("toolu_rec_task", session, "Task", "done"),
    ]
    assert rows(db, "SELECT output FROM tool_uses WHERE id = 'toolu_rec_sub'") == [("sub",)]
    assert rows(db, "SELECT id, status FROM build_agent_instances ORDER BY spawned_at") == [
        (session, "completed"),
        (sub, "completed"),
    ]
    assert rows(db, "SELECT id FROM task_list_execution_runs") == [(session,)]
    seqs = rows(db, "SELECT sequence, tool_use_id FROM transcript_entries ORDER BY sequence")
    assert seqs == [(1, "toolu_rec_task"), (2, "toolu_rec_sub")]
    spans = pipeline.spans.get_finished_spans()

    def one(**attrs: Any) -> Any:
        found = [s for s in spans if all(s.attributes.get(k) == v for k, v in attrs.items())]
        assert len(found) == 1, attrs
        return found[0]

    task = one(**{c.GEN_AI_TOOL_CALL_ID: "toolu_rec_task"})
    agent = one(**{c.KIND: c.KIND_AGENT, c.INSTANCE_ID: sub})
    bash = one(**{c.GEN_AI_TOOL_CALL_ID: "toolu_rec_sub"})
    assert agent.parent.span_id == task.context.span_id
    assert bash.parent.span_id == agent.context.span_id


def test_recorded_cli_subagent_session(pipeline) -> None:
    _replay(SUBAGENT_RECORDING, "check the files")
    assert pipeline.flush(10)
    check_subagent(pipeline, SUBAGENT_SESSION)


@pytest.mark.claude_cli
@pytest.mark.skipif(
    _bundled_cli() is None, reason="claude-agent-sdk's bundled CLI is not installed"
)
def test_real_cli_subagent(pipeline, tmp_path: Path) -> None:
    turns = [
        [
            tool_use(
                "toolu_rec_task",
                "Task",
                {
                    "description": "Check files",
                    "prompt": "SUBAGENT-CHECK: list the files",
                    "subagent_type": "general-purpose",
                },
            )
        ],
        [text("The subagent found them.")],
    ]
    subagent = [
        [tool_use("toolu_rec_sub", "Bash", {"command": "echo sub", "description": "list"})],
        [text("Found: sub")],
    ]
    with ScriptedMessagesAPI(turns, {"SUBAGENT-CHECK": subagent}) as api:
        messages = _run_cli(
            api, tmp_path, "check the files", allowed_tools=["Bash", "Task"], max_turns=4
        )
    assert pipeline.flush(10)
    check_subagent(pipeline, messages[-1].session_id)


@pytest.mark.claude_cli
@pytest.mark.skipif(
    _bundled_cli() is None, reason="claude-agent-sdk's bundled CLI is not installed"
)
def test_real_cli_telemetry_into_serve_stores_its_failed_tool(tmp_path: Path) -> None:
    """The CLI's own traces (enhanced telemetry) over OTLP into ``otel-obs serve``: a Bash
    that exits non-zero is stored failed, though only its ``claude_code.tool.execution``
    child span says so."""
    from ingest_support import Served

    turns = [
        [
            tool_use("toolu_cc_1", "Bash", {"command": "echo hello", "description": "say hello"}),
            tool_use("toolu_cc_2", "Bash", {"command": "exit 3", "description": "fail"}),
        ],
        [text("Done.")],
    ]
    served = Served(tmp_path / "served.db")
    try:
        with ScriptedMessagesAPI(turns) as api:
            messages = _run_cli(
                api,
                tmp_path,
                "build",
                {
                    "DISABLE_TELEMETRY": None,
                    "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
                    "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
                    "OTEL_TRACES_EXPORTER": "otlp",
                    "OTEL_METRICS_EXPORTER": "none",
                    "OTEL_LOGS_EXPORTER": "none",
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": served.http,
                    "OTEL_TRACES_EXPORT_INTERVAL": "200",
                },
                allowed_tools=["Bash"],
                max_turns=3,
            )
        # The CLI exports its spans before it exits; serve stores what it acknowledged.
        served.stop()
    finally:
        served.kill()
    session = messages[-1].session_id
    db = served.db
    got = rows(db, "SELECT id, execution_id, tool, result_status, is_error FROM tool_uses")
    assert sorted(got) == [
        ("toolu_cc_1", session, "Bash", "done", 0),
        ("toolu_cc_2", session, "Bash", "error", 1),
    ]
    [(message,)] = rows(db, "SELECT error_message FROM tool_uses WHERE id = 'toolu_cc_2'")
    assert message  # the CLI's words for it: the error's class name unless tool details are on
    assert rows(db, "SELECT count(*) FROM transcript_entries WHERE tool_use_id IS NOT NULL") == [
        (2,)
    ]
