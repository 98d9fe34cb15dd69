"""Record the spans of Google ADK's built-in tracing (an LlmAgent run by an InMemoryRunner).

What it records (a scripted ``BaseLlm`` subclass, no network):

- ``adk``: ``LlmAgent(name="builder", model=ScriptedLlm(), tools=[read_file, run_tests])``;
  the model calls read_file(path="src/app.py") (function call id "call_read_1"), then
  run_tests(target="unit") (id "call_test_1"), which raises
  ``RuntimeError("3 tests failed in unit")``. With no on_tool_error callback, ADK re-raises
  the tool's exception: the run aborts (runner.run_async raises), the model is not asked a
  third time, and the agent run FAILED. Content capture is on
  (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY while the scenario runs),
  so tool spans carry gen_ai.tool.call.arguments / gen_ai.tool.call.result.
- ``adk_parallel``: the model's first turn calls read_file TWICE in one response
  (paths "src/app.py" id "call_read_1" and "src/util.py" id "call_read_2"), which makes ADK
  merge the two function responses and emit an ``execute_tool (merged)`` span; then it
  answers "done" (no run_tests): the run completes.
- ``adk_nocontent``: ``adk`` with ADK's default content setting (the env var unset =
  NO_CONTENT): no arguments/results on the spans.

ADK's tracer (``gcp.vertex.agent``) comes from the GLOBAL tracer provider (module-level
ProxyTracers that cache the real tracer once resolved). The scenario points the global at
``provider`` while it runs and restores it afterwards, resetting ADK's proxy tracers both
times, so it can run again in the same process with another provider.

Packages used (pip, Python 3.11):
    google-adk==2.13.0 google-genai==2.34.0 opentelemetry-sdk==1.44.0 opentelemetry-api==1.44.0
    opentelemetry-exporter-otlp-proto-common==1.44.0 protobuf==5.29.6

Rerun (from the repository root, in a venv with the packages above):
    python tests/recordings/record_adk.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    from .otlp_file import FAILURE, read_file_truth, record_all, run_tests_truth
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from recordings.otlp_file import FAILURE, read_file_truth, record_all, run_tests_truth

READ_OUTPUT = "def main():\n    return 42\n"
USER_ID = "user-1"
SESSION_ID = "session-builder-1"
CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def _reset_adk_proxy_tracers() -> None:
    """Forget the real tracers that ADK's module-level ProxyTracers cached."""
    from opentelemetry.trace import ProxyTracer

    for name, module in list(sys.modules.items()):
        if not name.startswith("google.adk") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, ProxyTracer):
                value._real_tracer = None


@contextmanager
def global_provider(provider, content: str | None) -> Iterator[None]:
    """``provider`` as OpenTelemetry's global tracer provider (and the content env) for a while."""
    # ADK imports its tracing module lazily; imported while a global provider is set, its
    # module-level ``tracer`` would be that provider's real Tracer for good: import it now.
    import google.adk.runners  # noqa: F401
    import google.adk.telemetry.tracing as adk_tracing
    from opentelemetry import trace
    from opentelemetry.trace import ProxyTracer

    if not isinstance(adk_tracing.tracer, ProxyTracer):
        raise RuntimeError("ADK's tracer was bound to a provider before this scenario ran")
    saved = trace._TRACER_PROVIDER
    saved_content = os.environ.get(CONTENT_ENV)
    if content is None:
        os.environ.pop(CONTENT_ENV, None)
    else:
        os.environ[CONTENT_ENV] = content
    _reset_adk_proxy_tracers()
    trace._TRACER_PROVIDER = provider
    try:
        yield
    finally:
        trace._TRACER_PROVIDER = saved
        _reset_adk_proxy_tracers()
        if saved_content is None:
            os.environ.pop(CONTENT_ENV, None)
        else:
            os.environ[CONTENT_ENV] = saved_content


def _tool_calls(parallel: bool) -> list[list[tuple[str, dict[str, str], str]]]:
    """The model's turns: the function calls (name, args, id) of each; [] answers "done"."""
    if parallel:
        return [
            [
                ("read_file", {"path": "src/app.py"}, "call_read_1"),
                ("read_file", {"path": "src/util.py"}, "call_read_2"),
            ],
            [],
        ]
    return [
        [("read_file", {"path": "src/app.py"}, "call_read_1")],
        [("run_tests", {"target": "unit"}, "call_test_1")],
        [],
    ]


async def _run(parallel: bool) -> str:
    from google.adk.agents import LlmAgent
    from google.adk.models.base_llm import BaseLlm
    from google.adk.models.llm_response import LlmResponse
    from google.adk.runners import InMemoryRunner
    from google.genai import types

    turns = _tool_calls(parallel)

    class ScriptedLlm(BaseLlm):
        """Answers by turn: the number of model turns already in the request."""

        model: str = "scripted-llm"

        async def generate_content_async(self, llm_request, stream: bool = False):
            turn = sum(1 for c in llm_request.contents if c.role == "model")
            calls = turns[turn]
            if calls:
                parts = [
                    types.Part(function_call=types.FunctionCall(name=n, args=a, id=i))
                    for n, a, i in calls
                ]
            else:
                parts = [types.Part(text="done")]
            yield LlmResponse(content=types.Content(role="model", parts=parts))

    def read_file(path: str) -> str:
        """Read a file of the project."""
        return READ_OUTPUT

    def run_tests(target: str) -> str:
        """Run the tests of a target."""
        raise RuntimeError(FAILURE)

    agent = LlmAgent(
        name="builder",
        model=ScriptedLlm(),
        instruction="Make the unit tests pass.",
        tools=[read_file, run_tests],
    )
    runner = InMemoryRunner(agent=agent, app_name="builder_app")
    await runner.session_service.create_session(
        app_name="builder_app", user_id=USER_ID, session_id=SESSION_ID
    )
    message = types.Content(role="user", parts=[types.Part(text="Make the unit tests pass.")])
    try:
        async for _event in runner.run_async(
            user_id=USER_ID, session_id=SESSION_ID, new_message=message
        ):
            pass
    except RuntimeError as exc:
        if str(exc) != FAILURE:
            raise
        return "failed"
    finally:
        await runner.close()
    return "completed"


def _truth(status: str, tools: list[dict[str, Any]], notes: str) -> dict[str, Any]:
    return {
        "framework": "google-adk 2.13.0 (LlmAgent + InMemoryRunner)",
        "instrumentation": "google-adk 2.13.0 built-in tracing (scope gcp.vertex.agent)",
        "executions": 1,
        "runs": [{"agent": "builder", "status": status, "tools": tools}],
        "notes": notes,
    }


def scenario(provider, content: str | None = "SPAN_ONLY") -> dict[str, Any]:
    """Run the builder (read_file, then a failing run_tests) with ADK tracing on ``provider``."""
    with global_provider(provider, content):
        status = asyncio.run(_run(parallel=False))
    return _truth(
        status,
        [
            read_file_truth(),
            run_tests_truth(),
        ],
        "run_tests raised RuntimeError; ADK (no on_tool_error callback) re-raises it and the run "
        "aborts: the 'execute_tool run_tests' span is ERROR (description = error.type "
        "'RuntimeError', exception event with the message) and its gen_ai.tool.call.id is "
        "'<not specified>' (ADK reads the id from the response event, which a failed call has "
        "not): the call id 'call_test_1' is only in the model's function call (the "
        "'generate_content' span output / the next request). The invoke_agent and "
        "invocation spans end in error too. "
        f"Session id {SESSION_ID!r} = gen_ai.conversation.id on invoke_agent/model spans. "
        + (
            "Content capture SPAN_ONLY."
            if content
            else "Content capture off (ADK default): no gen_ai.tool.call.arguments / "
            "gen_ai.tool.call.result on the tool spans and no gen_ai.input.messages / "
            "gen_ai.output.messages / gen_ai.tool.definitions on the generate_content spans, "
            "so the arguments, the outputs and run_tests' call id are not in the spans at all; "
            "the failure message is still in the exception events and the status description."
        ),
    )


def scenario_nocontent(provider) -> dict[str, Any]:
    return scenario(provider, content=None)


def scenario_parallel(provider) -> dict[str, Any]:
    """The model calls read_file twice in one turn, then answers "done"."""
    with global_provider(provider, "SPAN_ONLY"):
        status = asyncio.run(_run(parallel=True))
    return _truth(
        status,
        [
            read_file_truth(),
            {
                "name": "read_file",
                "call_id": "call_read_2",
                "arguments": {"path": "src/util.py"},
                "status": "done",
                "output_contains": "return 42",
            },
        ],
        "Two function calls in one model turn: ADK runs both, each in its own "
        "'execute_tool read_file' span, then merges the two responses and emits an extra "
        "'execute_tool (merged)' span (gen_ai.operation.name 'execute_tool', gen_ai.tool.name "
        "'(merged tools)', gen_ai.tool.call.id = the merged EVENT id, not a call id): it is not a "
        "third tool use. No run_tests; the run completes. "
        f"Session id {SESSION_ID!r}. Content capture SPAN_ONLY.",
    )


def main() -> None:
    record_all(
        {"adk": scenario, "adk_parallel": scenario_parallel, "adk_nocontent": scenario_nocontent}
    )


if __name__ == "__main__":
    main()
