"""``otel-obs mcp`` as a subprocess, driven by the ``mcp`` SDK's own stdio client.

The tool listing is compared with the registry and the spec's method names;
answers are compared with the Python API on the same demo store; a bad
parameter must come back as a tool error naming it, and the server must go on
answering afterwards.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
import pytest
from demo_store import DemoStore, clean_env, demo_store

from otel_obs.queries.jsonable import to_jsonable
from otel_obs.queries.registry import load_tools
from otel_obs.queries.runner import ObservabilitySkills

mcp = pytest.importorskip("mcp", reason="the mcp extra is not installed")
from mcp import Client, StdioServerParameters  # noqa: E402

SPEC_METHODS = {
    "validate",
    "find_errors",
    "find_blocked",
    "find_incomplete",
    "parallel_health",
    "find_wave_bottlenecks",
    "detect_anomalies",
    "execution_summary",
    "tool_usage_stats",
    "trace_task",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    return demo_store(tmp_path_factory)


def session(demo: DemoStore, script: Any, params: Any = None) -> Any:
    """Run ``script(client)`` against a fresh ``python -m otel_obs mcp --db …`` process."""
    params = params or StdioServerParameters(
        command=sys.executable,
        args=["-m", "otel_obs", "mcp", "--db", str(demo.db)],
        env=clean_env(),
        cwd=str(demo.root),
    )

    async def main() -> Any:
        with anyio.fail_after(60):
            async with Client(params) as client:
                return await script(client)

    return anyio.run(main)


def test_lists_every_sql_tool_and_the_spec_methods(demo: DemoStore):
    async def script(client: Any) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in session(demo, script)}
    registry = load_tools()
    assert set(tools) == set(registry) | SPEC_METHODS
    assert len(registry) == 39 + 5  # the spec's 39 and the cost tools
    t003 = tools["T003"]
    assert registry["T003"].purpose in t003.description
    assert t003.input_schema["properties"]["window"] == {
        "type": "integer",
        "minimum": 0,
        "default": 5,
    }
    assert t003.input_schema["required"] == ["execution_id"]
    assert tools["T004"].input_schema["properties"]["older_than_s"]["type"] == "number"
    assert tools["V007"].input_schema["properties"]["execution_id"]["type"] == ["string", "null"]
    assert set(tools["trace_task"].input_schema["properties"]) == {"task_id", "execution_id"}
    assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())


def test_answers_equal_the_python_api_and_bad_parameters_are_tool_errors(demo: DemoStore):
    eid = demo.execution_id

    async def script(client: Any) -> Any:
        return (
            await client.call_tool("validate", {"execution_id": eid}),
            await client.call_tool("find_errors", {"execution_id": eid}),
            await client.call_tool("T003", {"execution_id": eid, "window": 3}),
            await client.call_tool("T003", {"execution_id": eid, "window": "three"}),
            await client.call_tool("T003", {"execution_id": eid, "bogus": 1}),
            await client.call_tool("find_incomplete", {"execution_id": eid, "now": "yesterday"}),
            await client.call_tool("NOPE", {}),
            await client.call_tool("execution_summary", {"execution_id": eid}),
        )

    validate, errors, t003, bad_type, unknown, bad_time, no_tool, summary = session(demo, script)
    with ObservabilitySkills(demo.db) as skills:
        assert not validate.is_error
        assert validate.structured_content == {"result": to_jsonable(skills.validate(eid))}
        expected_errors = to_jsonable(skills.find_errors(eid))
        assert expected_errors and errors.structured_content == {"result": expected_errors}
        assert errors.structured_content["result"][0]["is_root_cause"] is True
        assert t003.structured_content == {"result": skills.first_error_context(eid, window=3)}
        assert summary.structured_content == {"result": skills.execution_summary(eid)}
    for result, names in (
        (bad_type, ["'window'", "three"]),
        (unknown, ["'bogus'"]),
        (bad_time, ["'now'", "yesterday"]),
        (no_tool, ["'NOPE'"]),
    ):
        assert result.is_error
        text = result.content[0].text
        for name in names:
            assert name in text, (name, text)


def test_the_store_is_opened_read_only(demo: DemoStore):
    before = demo.db.stat().st_mtime_ns, demo.db.stat().st_size

    async def script(client: Any) -> Any:
        return await client.call_tool("detect_anomalies", {"execution_id": demo.execution_id})

    result = session(demo, script)
    assert not result.is_error and "has_anomalies" in result.structured_content["result"]
    assert (demo.db.stat().st_mtime_ns, demo.db.stat().st_size) == before


def test_mcp_without_a_store_is_a_usage_error(demo: DemoStore, tmp_path):
    proc = demo.cli("mcp", "--db", str(tmp_path / "none.db"))
    assert proc.returncode == 2 and "--db" in proc.stderr and "none.db" in proc.stderr


def test_http_serves_the_same_tools_on_loopback(demo: DemoStore):
    import socket
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_obs", "mcp", "--db", str(demo.db), "--http"]
        + ["--port", str(port)],
        cwd=demo.root,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the HTTP server did not start"
                time.sleep(0.2)

        async def main() -> Any:
            with anyio.fail_after(30):
                async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                    listed = await client.list_tools()
                    called = await client.call_tool(
                        "find_blocked", {"execution_id": demo.execution_id}
                    )
                    return listed, called

        listed, called = anyio.run(main)
        assert len(listed.tools) == 39 + 5 + len(SPEC_METHODS)  # the spec's 39, the cost tools
        with ObservabilitySkills(demo.db) as skills:
            assert called.structured_content == {"result": skills.find_blocked(demo.execution_id)}
    finally:
        proc.terminate()  # our own child, by its handle
        proc.wait(timeout=10)


def test_skills_install_writes_the_claude_code_mcp_config(demo: DemoStore, tmp_path):
    import json

    project = tmp_path / "project"
    (project / ".mcp.json").parent.mkdir()
    (project / ".mcp.json").write_text('{"mcpServers": {"other": {"command": "x"}}}')
    proc = demo.cli(
        "skills", "install", "--dir", str(project / ".claude" / "skills"), "--db", str(demo.db)
    )
    assert proc.returncode == 0, proc.stderr
    config = json.loads((project / ".mcp.json").read_text())
    assert config["mcpServers"]["other"] == {"command": "x"}
    entry = config["mcpServers"]["otel-obs"]
    assert entry["command"] == "otel-obs"
    assert entry["args"] == ["mcp", "--db", str(demo.db.resolve())]
    assert (project / ".claude" / "skills" / "obs-validate" / "SKILL.md").is_file()

    # The configured command is a working MCP server (the venv's otel-obs on PATH).
    async def script(client: Any) -> Any:
        return await client.call_tool("execution_summary", {"execution_id": demo.execution_id})

    params = StdioServerParameters(
        command=entry["command"], args=entry["args"], env=clean_env(), cwd=str(project)
    )
    result = session(demo, script, params)
    assert result.structured_content["result"]["execution_id"] == demo.execution_id

    # A .mcp.json that is not JSON is refused, not overwritten.
    (project / ".mcp.json").write_text("{not json")
    bad = demo.cli("skills", "install", "--dir", str(project / ".claude" / "skills"))
    assert bad.returncode == 2 and ".mcp.json" in bad.stderr
    assert (project / ".mcp.json").read_text() == "{not json"


def _start_http(demo: DemoStore, *args: str) -> tuple[Any, int]:
    import socket
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_obs", "mcp", "--db", str(demo.db), "--http"]
        + ["--port", str(port), *args],
        cwd=demo.root,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                error = proc.communicate()[1]
                raise AssertionError(f"the HTTP server did not start: {error}") from None
            time.sleep(0.2)


def test_http_sessions_left_open_are_closed_and_never_lock_new_clients_out(demo: DemoStore):
    """Clients that open sessions and never close them: past --max-sessions the longest
    idle one is closed to make room, and every one closes after --session-idle-timeout."""
    import time

    import requests

    proc, port = _start_http(demo, "--max-sessions", "3", "--session-idle-timeout", "2")
    url = f"http://127.0.0.1:{port}/mcp"
    headers = {"Accept": "application/json, text/event-stream"}
    version = "2025-06-18"  # a version whose ping is a bare JSON-RPC request

    def open_session(n: int) -> requests.Response:
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": f"leaky-{n}", "version": "1"},
            },
        }
        return requests.post(url, json=request, headers=headers, timeout=10)

    def alive(session_id: str) -> bool:
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        answer = requests.post(
            url,
            json=ping,
            headers={
                **headers,
                "mcp-session-id": session_id,
                "mcp-protocol-version": version,
            },
            timeout=10,
        )
        assert answer.status_code in (200, 404), answer.text
        return answer.status_code == 200

    try:
        opened = []
        for n in range(6):
            answer = open_session(n)
            assert answer.status_code == 200, answer.text
            opened.append(answer.headers["mcp-session-id"])
        # The three oldest made room for the three newest.
        assert [alive(s) for s in opened[3:]] == [True, True, True]
        assert [alive(s) for s in opened[:3]] == [False, False, False]
        time.sleep(3)  # idle past --session-idle-timeout
        assert not any(alive(s) for s in opened[3:])
        assert open_session(9).status_code == 200
        assert proc.poll() is None
    finally:
        proc.terminate()  # our own child, by its handle
        proc.communicate(timeout=10)


@pytest.mark.parametrize(
    ("args", "said"),
    [(("--max-sessions", "0"), "--max-sessions"), (("--session-idle-timeout", "-1"), "-1")],
)
def test_bad_session_limits_are_usage_errors(demo: DemoStore, args, said):
    proc = demo.cli("mcp", "--db", str(demo.db), "--http", *args)
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr
