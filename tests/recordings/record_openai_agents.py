"""Record the spans of the OpenAI Agents SDK through OpenInference's instrumentor.

Recording written (next to this file): ``openai_agents``.

The scenario: agent ``builder`` (``agents.Agent``) driven by a fake model, a subclass of
``agents.models.interface.Model`` (no network): turn 1 calls ``read_file(path="src/app.py")``
(call id ``call_read_1``), turn 2 calls ``run_tests(target="unit")`` (call id ``call_test_1``),
which raises ``RuntimeError("3 tests failed in unit")``; turn 3 answers "done". The SDK catches
the tool's exception and hands the text of its ``failure_error_function`` to the model as the
tool's output, so the run COMPLETES. The tools use a custom ``failure_error_function`` that
returns the error text (the SDK's default one returns a fixed "An error occurred while running
the tool. Please try again." and redacts the error from the trace, so nothing would say what
failed).

Like the SDK's own ``OpenAIResponsesModel``, the fake model opens a ``response_span`` and puts
an ``openai.types.responses.Response`` (its output items, with the call ids) and the input on
it, so the LLM spans have the shape a real Responses-API run gives.

``OpenAIAgentsInstrumentor().instrument(tracer_provider=...)`` replaces the SDK's trace
processors with its own (exclusive by default), so the SDK's exporter to OpenAI gets nothing;
``uninstrument`` puts them back. No network is used.

Packages (pip, in a venv outside the repo):
    opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-common==1.45.2 protobuf==7.36.2
    openai-agents==0.24.0 openai==3.63.0
    openinference-instrumentation-openai-agents==2.6.0 openinference-instrumentation==0.1.72
    openinference-semantic-conventions==0.1.42

Rerun from the repo root:  python tests/recordings/record_openai_agents.py
"""

from __future__ import annotations

import asyncio
import json
import sys
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

INSTRUMENTATION = "openinference-instrumentation-openai-agents 2.6.0 (openai-agents 0.24.0)"


def build_agent() -> Any:
    """The ``builder`` agent: the scripted model and the two tools."""
    from agents import Agent, RunContextWrapper, function_tool
    from agents.items import ModelResponse
    from agents.models.interface import Model, ModelTracing
    from agents.tracing import response_span
    from agents.usage import Usage
    from openai.types.responses import (
        Response,
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    def tool_error_text(ctx: RunContextWrapper[Any], error: Exception) -> str:
        """What the model is told when a tool raises: the error itself."""
        return f"Tool failed: {error}"

    @function_tool(failure_error_function=tool_error_text)
    def read_file(path: str) -> str:
        """Read a file of the project."""
        return FILE_TEXT

    @function_tool(failure_error_function=tool_error_text)
    def run_tests(target: str) -> str:
        """Run the tests of a target."""
        raise RuntimeError(FAILURE)

    def call(call_id: str, name: str, arguments: dict[str, str]) -> ResponseFunctionToolCall:
        return ResponseFunctionToolCall(
            type="function_call",
            id=f"fc_{call_id}",
            call_id=call_id,
            name=name,
            arguments=json.dumps(arguments),
            status="completed",
        )

    def text(content: str) -> ResponseOutputMessage:
        return ResponseOutputMessage(
            type="message",
            id="msg_done",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=content, annotations=[])],
        )

    class ScriptedModel(Model):
        """Turn 1 read_file, turn 2 run_tests, turn 3 the answer "done"; no network."""

        def __init__(self) -> None:
            self.turns = 0

        async def get_response(
            self,
            system_instructions: str | None,
            input: Any,
            model_settings: Any,
            tools: list[Any],
            output_schema: Any,
            handoffs: list[Any],
            tracing: ModelTracing,
            *,
            previous_response_id: str | None,
            conversation_id: str | None,
            prompt: Any,
        ) -> ModelResponse:
            self.turns += 1
            if self.turns == 1:
                output: list[Any] = [call("call_read_1", "read_file", {"path": "src/app.py"})]
            elif self.turns == 2:
                output = [call("call_test_1", "run_tests", {"target": "unit"})]
            else:
                output = [text("done")]
            response_id = f"resp_{self.turns}"
            # What OpenAIResponsesModel does around a request (agents/models/openai_responses.py).
            with response_span(disabled=tracing.is_disabled()) as span:
                if tracing.include_data():
                    span.span_data.response = Response.model_construct(
                        id=response_id,
                        object="response",
                        created_at=1767225600.0,
                        model="scripted-model",
                        status="completed",
                        output=output,
                        instructions=system_instructions,
                        parallel_tool_calls=False,
                        tool_choice="auto",
                        tools=[],
                    )
                    span.span_data.input = input
            return ModelResponse(output=output, usage=Usage(requests=1), response_id=response_id)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("the scenario does not stream")

    return Agent(
        name="builder",
        instructions="Fix the failing tests.",
        model=ScriptedModel(),
        tools=[read_file, run_tests],
    )


def scenario(provider: Any) -> dict[str, Any]:
    from agents import Runner
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        result = asyncio.run(Runner.run(build_agent(), "Fix the failing tests"))
        assert result.final_output == "done", result.final_output
    finally:
        instrumentor.uninstrument()
    return {
        "framework": "openai-agents",
        "instrumentation": INSTRUMENTATION,
        "executions": 1,
        "runs": [
            {
                "agent": "builder",
                "status": "completed",
                "tools": [
                    read_file_truth(),
                    run_tests_truth(),
                ],
            }
        ],
        "notes": (
            "The SDK catches the tool's exception and gives the model the text of the tool's "
            "failure_error_function ('Tool failed: 3 tests failed in unit') as the tool "
            "output; the run goes on and completes with 'done'. The run_tests TOOL span ends "
            "with status ERROR, description \"Error running tool (non-fatal): {'tool_name': "
            "'run_tests', 'error': '3 tests failed in unit'}\", no exception event. The tool "
            "spans carry no call id: the call ids are only in the LLM ('response') spans, in "
            "the output function_call items and in the next request's function_call_output "
            "items. Span tree: 'Agent workflow' (the SDK trace, AGENT) > 'Agent workflow' (the "
            "SDK task span, CHAIN) > 'builder' (AGENT) > 'turn' (CHAIN, one per model turn) > "
            "'response' (LLM) and the tool spans (TOOL)."
        ),
    }


def main() -> None:
    record_all({"openai_agents": scenario})


if __name__ == "__main__":
    main()
