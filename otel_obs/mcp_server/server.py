"""The otel-obs MCP server on the official ``mcp`` SDK: stdio, or streamable HTTP on loopback.

Tools come from :mod:`.catalog`. Every call runs on one read-only
``ObservabilitySkills`` (``mode=ro``, or read-only transactions on a
PostgreSQL store: the server can never change the store,
and adds no load to the writers beyond reading), in a worker thread so a slow
query does not stall the protocol. A bad call, or any failure inside a tool,
comes back as a tool error (``isError``) whose text says what was wrong; the
server itself keeps serving.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server

from .. import __version__
from .._internal_errors import internal_errors
from ..queries.readonly import READ_ERRORS
from ..queries.runner import ObservabilitySkills
from ..store_location import StoreLocation
from .catalog import BadArguments, McpTool, catalog

log = logging.getLogger(__name__)

SERVER_NAME = "otel-obs"
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8765
HTTP_PATH = "/mcp"
#: Seconds an HTTP session may go without a request before it is closed (--session-idle-timeout).
DEFAULT_SESSION_IDLE_TIMEOUT_S = 300.0
#: HTTP sessions open at once (--max-sessions); past it the longest idle one is closed.
DEFAULT_MAX_SESSIONS = 100


#: A tool's failure that is its answer: a bad value, the read timeout, the store's error.
_TOOL_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, *READ_ERRORS)


def _result(value: Any) -> types.CallToolResult:
    """Structured content (``{"result": …}``) and the same JSON as text for older clients."""
    structured = {"result": value}
    text = json.dumps(structured, ensure_ascii=False)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured
    )


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


def build_server(db_path: StoreLocation) -> Server[Any]:
    """An MCP server answering from the store at ``db_path`` (which must exist)."""
    skills = ObservabilitySkills(db_path)
    tools = catalog()
    listing = types.ListToolsResult(
        tools=[
            types.Tool(
                name=tool.name,
                title=tool.title,
                description=tool.description,
                input_schema=tool.input_schema,
                # Every tool only reads the store (mode=ro), locally.
                annotations=types.ToolAnnotations(
                    read_only_hint=True, idempotent_hint=True, open_world_hint=False
                ),
            )
            for tool in tools.values()
        ]
    )

    async def on_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return listing

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool: McpTool | None = tools.get(params.name)
        if tool is None:
            return _error(f"unknown tool {params.name!r}; valid tools: {', '.join(tools)}")
        # A tool failure is the caller's answer, not a crash; a bug is an internal error too.
        with internal_errors("mcp_server.tool_call") as caught:
            try:
                value = await anyio.to_thread.run_sync(tool.call, skills, params.arguments)
            except BadArguments as error:
                return _error(str(error))
            except _TOOL_ERRORS as error:  # incl. the read timeout
                log.warning("tool %s failed", tool.name, exc_info=True)
                return _error(f"{tool.name} failed: {type(error).__name__}: {error}")
            return _result(value)
        unexpected = caught.error
        return _error(f"{tool.name} failed: {type(unexpected).__name__}: {unexpected}")

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=(
            "Diagnose AI coding agents' executions recorded by otel-obs: the 39 SQL tools "
            "by id (V validation, T troubleshooting, I investigation, A aggregation, "
            "P parallel, D anomaly) and the ObservabilitySkills methods. Start with "
            "execution_summary, validate and find_errors on an execution id."
        ),
        get_tool_input_schema=lambda name: tools[name].input_schema if name in tools else None,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


def serve_stdio(db_path: StoreLocation) -> None:
    """Serve over stdin/stdout until the client closes them."""
    from mcp.server.stdio import stdio_server

    server = build_server(db_path)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)


def serve_http(
    db_path: StoreLocation,
    port: int = DEFAULT_PORT,
    *,
    session_idle_timeout_s: float = DEFAULT_SESSION_IDLE_TIMEOUT_S,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> None:
    """Serve streamable HTTP on ``127.0.0.1:port`` (path ``/mcp``), loopback only.

    Sessions are bounded: one without a request for ``session_idle_timeout_s`` is
    closed, and opening one past ``max_sessions`` closes the longest idle session
    first (only when every session is busy is the new one refused, 503), so sessions
    that clients open and never close cannot lock new clients out.
    """
    import uvicorn

    check_session_limits(session_idle_timeout_s, max_sessions)
    server = build_server(db_path)
    app = server.streamable_http_app(
        streamable_http_path=HTTP_PATH,
        host=LOOPBACK,
        session_idle_timeout=session_idle_timeout_s,
        max_sessions=max_sessions,
    )
    evict_idle_sessions(server.session_manager)
    uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning")).run()


def check_session_limits(session_idle_timeout_s: float, max_sessions: int) -> None:
    """Raise ValueError naming a bad --session-idle-timeout or --max-sessions."""
    if not (math.isfinite(session_idle_timeout_s) and session_idle_timeout_s > 0):
        raise ValueError(
            f"--session-idle-timeout must be a positive number of seconds, "
            f"got {session_idle_timeout_s}"
        )
    if max_sessions <= 0:
        raise ValueError(f"--max-sessions must be positive, got {max_sessions}")


def evict_idle_sessions(manager: Any) -> None:
    """Make the session manager close the longest idle session when a new one would
    go past its ``max_sessions``, rather than refuse the new one.

    The SDK refuses (503) at the cap; this reads its session table and each session's
    idle deadline. Should a later SDK lay them out otherwise, the SDK's refusal stays.
    """
    admit = getattr(manager, "_admit_session", None)
    sessions = getattr(manager, "_server_instances", None)
    if admit is None or not isinstance(sessions, dict):
        log.warning("mcp: this SDK's sessions cannot be evicted; past the cap they are refused")
        return
    evicted = 0

    def admit_evicting(requestor: Any) -> Any:
        nonlocal evicted
        cap = manager.max_sessions
        if cap is not None and len(sessions) >= cap:
            idle = [
                (transport.idle_scope.deadline, session_id, transport)
                for session_id, transport in sessions.items()
                if getattr(transport, "_requests_in_flight", 1) == 0
                and transport.idle_scope is not None
                and math.isfinite(transport.idle_scope.deadline)
            ]
            if idle:
                _deadline, session_id, transport = min(idle, key=lambda x: x[0])
                sessions.pop(session_id, None)
                transport.idle_scope.cancel()  # its server task ends and discards it
                evicted += 1
                log.warning(
                    "mcp: %d sessions open (the limit): closed the longest idle one "
                    "(%d closed so far)",
                    cap,
                    evicted,
                )
        return admit(requestor)

    manager._admit_session = admit_evicting
