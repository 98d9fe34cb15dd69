"""Record the spans of Pydantic AI's built-in OpenTelemetry instrumentation.

Recordings written (next to this file):

- ``pydantic_ai``: the shared scenario with the default instrumentation format
  (``InstrumentationSettings(version=5)`` in pydantic-ai-slim 2.78.0): spans
  ``invoke_agent builder`` / ``chat function:...`` / ``execute_tool <name>`` with
  ``gen_ai.tool.call.arguments`` and ``gen_ai.tool.call.result``.
- ``pydantic_ai_v1``: the same scenario with the oldest format this pydantic-ai still
  accepts, ``version=2`` (``version=1`` was removed; 2 keeps the legacy shape: spans
  ``agent run`` / ``running tool`` with ``agent_name``, ``tool_arguments``, ``tool_response``).
- ``pydantic_ai_tool_failed``: the shared scenario, but run_tests raises pydantic-ai's
  ``ToolFailed`` (its way to hand a terminal tool failure to the model), so the run completes.
- ``pydantic_ai_concurrent``: two runs of ``builder`` at once (``asyncio.gather``) under one
  root span ``batch`` (one trace), each calling ``read_file`` once, then answering.

The scenario: agent ``builder`` driven by a ``FunctionModel`` (no network): turn 1 calls
``read_file(path="src/app.py")`` (id ``call_read_1``), turn 2 calls ``run_tests(target="unit")``
(id ``call_test_1``), which raises ``RuntimeError("3 tests failed in unit")``. Pydantic AI does
not hand a plain tool exception back to the model: it propagates and the run FAILS, so turn 3
("done") is never asked for. That is what the truth says.

This pydantic-ai has no ``instrument=`` argument on ``Agent`` any more: the settings are set
with the ``agent.instrument`` property (per agent, so nothing global to undo).

Packages (pip, in a venv outside the repo):
    opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-common==1.45.2 protobuf==7.36.2
    pydantic-ai-slim==2.78.0

Rerun from the repo root:  python tests/recordings/record_pydantic_ai.py
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from pathlib import Path
from typing import Any

try:
    from .otlp_file import FAILURE, FILE_TEXT, read_file_truth, record_all, run_tests_truth
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from recordings.otlp_file import (
        FAILURE,
        FILE_TEXT,
        read_file_truth,
        record_all,
        run_tests_truth,
    )

PACKAGE = "pydantic-ai-slim 2.78.0"


def read_file(path: str) -> str:
    """Read a file of the project."""
    return FILE_TEXT


def run_tests(target: str) -> str:
    """Run the tests of a target."""
    raise RuntimeError(FAILURE)


def run_tests_tool_failed(target: str) -> str:
    """Run the tests of a target."""
    from pydantic_ai.exceptions import ToolFailed

    raise ToolFailed(FAILURE)


def _tool_returns(messages: list[Any]) -> int:
    from pydantic_ai.messages import ModelRequest, ToolReturnPart

    return sum(
        1
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    )


def _call(name: str, arguments: dict[str, str], call_id: str) -> Any:
    from pydantic_ai.messages import ModelResponse, ToolCallPart

    return ModelResponse(parts=[ToolCallPart(name, arguments, tool_call_id=call_id)])


def _answer(text: str) -> Any:
    from pydantic_ai.messages import ModelResponse, TextPart

    return ModelResponse(parts=[TextPart(text)])


def _scenario_model(messages: list[Any], info: Any) -> Any:
    """Turn 1 read_file, turn 2 run_tests, turn 3 the answer "done"."""
    done = _tool_returns(messages)
    if done == 0:
        return _call("read_file", {"path": "src/app.py"}, "call_read_1")
    if done == 1:
        return _call("run_tests", {"target": "unit"}, "call_test_1")
    return _answer("done")


def _concurrent_model(messages: list[Any], info: Any) -> Any:
    """Read the path named at the end of the prompt once, then answer "done"."""
    if _tool_returns(messages) == 0:
        path = str(messages[0].parts[-1].content).rsplit(" ", 1)[-1]
        call_id = "call_read_a" if path == "src/a.py" else "call_read_b"
        return _call("read_file", {"path": path}, call_id)
    return _answer("done")


def _agent(provider: Any, version: int, function: Any, failing_tool: Any = run_tests) -> Any:
    from pydantic_ai import Agent
    from pydantic_ai.models.function import FunctionModel
    from pydantic_ai.models.instrumented import InstrumentationSettings

    with warnings.catch_warnings():
        # Versions 2-4 are deprecated (a PydanticAIDeprecationWarning).
        warnings.simplefilter("ignore")
        settings = InstrumentationSettings(tracer_provider=provider, version=version)
    agent = Agent(FunctionModel(function), name="builder", tools=[read_file, failing_tool])
    agent.instrument = settings
    return agent


def _truth(version: int, notes: str, status: str = "failed") -> dict[str, Any]:
    return {
        "framework": "pydantic-ai",
        "instrumentation": f"{PACKAGE} (built-in, InstrumentationSettings version={version})",
        "executions": 1,
        "runs": [
            {
                "agent": "builder",
                "status": status,
                "tools": [
                    read_file_truth(),
                    run_tests_truth(),
                ],
            }
        ],
        "notes": notes,
    }


def run_scenario(provider: Any, version: int) -> dict[str, Any]:
    agent = _agent(provider, version, _scenario_model)
    try:
        agent.run_sync("Fix the failing tests")
    except RuntimeError as error:
        assert str(error) == FAILURE, error
    else:
        raise AssertionError("the run was expected to fail on run_tests")
    notes = (
        "A plain exception raised by a tool is not handed to the model: it propagates out of "
        "the agent run, so the run fails after run_tests and the model's third turn never "
        "happens. The tool span and the agent span both end with status ERROR and an "
        "'exception' event."
    )
    if version < 3:
        notes += (
            " Legacy format (version=2, the oldest this pydantic-ai accepts; version=1 was "
            "removed): spans 'agent run' and 'running tool', attributes agent_name, "
            "tool_arguments, tool_response."
        )
    return _truth(version, notes)


def scenario(provider: Any) -> dict[str, Any]:
    """The shared scenario with the default instrumentation version."""
    return run_scenario(provider, 5)


def scenario_v1(provider: Any) -> dict[str, Any]:
    """The shared scenario with the legacy instrumentation format (version=2)."""
    return run_scenario(provider, 2)


def scenario_tool_failed(provider: Any) -> dict[str, Any]:
    """The shared scenario, run_tests failing with ToolFailed (handed to the model)."""
    from pydantic_ai import Tool

    failing_tool = Tool(run_tests_tool_failed, name="run_tests")
    agent = _agent(provider, 5, _scenario_model, failing_tool=failing_tool)
    result = agent.run_sync("Fix the failing tests")
    assert result.output == "done", result.output
    return _truth(
        5,
        "run_tests raises pydantic_ai.exceptions.ToolFailed('3 tests failed in unit'), "
        "pydantic-ai's way to report a terminal tool failure TO THE MODEL: the failure "
        "becomes the tool's result, the model's third turn answers 'done' and the run "
        "completes. The run_tests tool span ends with status ERROR, an 'exception' event "
        "(pydantic_ai.exceptions.ToolFailedError) and gen_ai.tool.call.result holding the "
        "failure text.",
        status="completed",
    )


def scenario_concurrent(provider: Any) -> dict[str, Any]:
    """Two concurrent runs of builder under one root span "batch" (one trace)."""
    agent = _agent(provider, 5, _concurrent_model)
    tracer = provider.get_tracer("record_pydantic_ai")

    async def batch() -> None:
        with tracer.start_as_current_span("batch"):
            results = await asyncio.gather(agent.run("Read src/a.py"), agent.run("Read src/b.py"))
        assert [result.output for result in results] == ["done", "done"]

    asyncio.run(batch())
    runs = [
        {
            "agent": "builder",
            "status": "completed",
            "tools": [
                {
                    "name": "read_file",
                    "call_id": call_id,
                    "arguments": {"path": path},
                    "status": "done",
                    "output_contains": "return 42",
                }
            ],
        }
        for path, call_id in (("src/a.py", "call_read_a"), ("src/b.py", "call_read_b"))
    ]
    return {
        "framework": "pydantic-ai",
        "instrumentation": f"{PACKAGE} (built-in, InstrumentationSettings version=5)",
        "executions": 1,
        "runs": runs,
        "notes": (
            "Two runs of the same agent interleave in one trace under a root span 'batch' "
            "made by the script (scope record_pydantic_ai). Each 'invoke_agent builder' span "
            "carries its own gen_ai.agent.call.id (the run id) and gen_ai.conversation.id; its "
            "chat and tool spans carry the same two attributes (from baggage). The order of "
            "the two runs in 'runs' is by path, not by time."
        ),
    }


SCENARIOS = {
    "pydantic_ai": scenario,
    "pydantic_ai_v1": scenario_v1,
    "pydantic_ai_tool_failed": scenario_tool_failed,
    "pydantic_ai_concurrent": scenario_concurrent,
}


def main() -> None:
    record_all(SCENARIOS)


if __name__ == "__main__":
    main()
