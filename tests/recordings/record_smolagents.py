"""Record the spans of smolagents through OpenInference's instrumentor.

Recordings written (next to this file):

- ``smolagents``: the scenario with a custom ``smolagents.Model`` subclass (no LLM spans,
  see below).
- ``smolagents_openai_model``: the same scenario with smolagents' own ``OpenAIModel`` whose
  ``openai`` client sends its requests to an in-process ``MockTransport`` answering the same
  script as Chat Completions JSON (no network): this adds the LLM spans a real API model gives.

The scenario: a ``ToolCallingAgent`` named ``builder`` driven by a custom ``smolagents.Model``
subclass (no network) that returns tool calls: turn 1 calls ``read_file(path="src/app.py")``
(tool call id ``call_read_1``), turn 2 calls ``run_tests(target="unit")`` (id ``call_test_1``),
which raises ``RuntimeError("3 tests failed in unit")``; turn 3 answers "done". A ToolCallingAgent
answers by calling its built-in ``final_answer`` tool, so turn 3 is the tool call
``final_answer(answer="done")`` (id ``call_final_1``). The agent catches the tool's exception
(``AgentToolExecutionError``), records it on the step and shows it to the model in the next
turn, so the run COMPLETES with "done". The tools are made with smolagents' ``@tool`` decorator.

The instrumentor wraps ``generate`` only on the model classes smolagents itself exports
(``OpenAIModel``, ``LiteLLMModel``, ...), so a custom ``Model`` subclass that defines its own
``generate`` gets NO LLM span: the model's tool call ids appear in no span.

Packages (pip, in a venv outside the repo):
    opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-common==1.45.2 protobuf==7.36.2
    smolagents==1.26.0 openinference-instrumentation-smolagents==0.1.43
    openinference-instrumentation==0.1.72 openinference-semantic-conventions==0.1.42
    openai==3.63.0 httpx2==2.17.0 (only for smolagents_openai_model; openai 3.x is built on httpx2)

Rerun from the repo root:  python tests/recordings/record_smolagents.py
"""

from __future__ import annotations

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

INSTRUMENTATION = "openinference-instrumentation-smolagents 0.1.43 (smolagents 1.26.0)"


SCRIPT = [
    ("call_read_1", "read_file", {"path": "src/app.py"}),
    ("call_test_1", "run_tests", {"target": "unit"}),
    ("call_final_1", "final_answer", {"answer": "done"}),
]


def build_tools() -> list[Any]:
    """The two tools, made with smolagents' ``@tool`` decorator."""
    from smolagents import tool

    @tool
    def read_file(path: str) -> str:
        """Read a file of the project.

        Args:
            path: The path of the file, relative to the project.
        """
        return FILE_TEXT

    @tool
    def run_tests(target: str) -> str:
        """Run the tests of a target.

        Args:
            target: The test target to run.
        """
        raise RuntimeError(FAILURE)

    return [read_file, run_tests]


def scripted_model() -> Any:
    """A custom ``smolagents.Model`` answering each turn with the next tool call of SCRIPT."""
    from smolagents import Model
    from smolagents.models import (
        ChatMessage,
        ChatMessageToolCall,
        ChatMessageToolCallFunction,
        MessageRole,
    )
    from smolagents.monitoring import TokenUsage

    class ScriptedModel(Model):
        def __init__(self) -> None:
            super().__init__(model_id="scripted-model")
            self.turns = 0

        def generate(
            self,
            messages: list[Any],
            stop_sequences: list[str] | None = None,
            response_format: dict[str, str] | None = None,
            tools_to_call_from: list[Any] | None = None,
            **kwargs: Any,
        ) -> Any:
            call_id, name, arguments = SCRIPT[self.turns]
            self.turns += 1
            function = ChatMessageToolCallFunction(name=name, arguments=json.dumps(arguments))
            return ChatMessage(
                role=MessageRole.ASSISTANT,
                content=None,
                tool_calls=[ChatMessageToolCall(id=call_id, type="function", function=function)],
                token_usage=TokenUsage(input_tokens=10, output_tokens=5),
            )

    return ScriptedModel()


def _completion(turn: int) -> dict[str, Any]:
    """The Chat Completions answer of turn ``turn`` of SCRIPT, as the API would send it."""
    call_id, name, arguments = SCRIPT[turn]
    return {
        "id": f"chatcmpl-{turn + 1}",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "scripted-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": json.dumps(arguments)},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def scripted_openai_model() -> Any:
    """smolagents' own ``OpenAIModel`` whose HTTP client answers SCRIPT in-process (no network)."""
    import httpx2 as httpx  # the HTTP client package this openai release is built on
    from smolagents import OpenAIModel

    turns = iter(range(len(SCRIPT)))

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/chat/completions"), request.url
        return httpx.Response(200, json=_completion(next(turns)))

    http_client = httpx.Client(transport=httpx.MockTransport(answer))
    return OpenAIModel(
        model_id="scripted-model",
        api_base="http://scripted-model.invalid/v1",
        api_key="not-a-key",
        client_kwargs={"http_client": http_client, "max_retries": 0},
    )


def run_scenario(provider: Any, model: Any, notes: str) -> dict[str, Any]:
    from openinference.instrumentation.smolagents import SmolagentsInstrumentor
    from smolagents import ToolCallingAgent
    from smolagents.monitoring import LogLevel

    instrumentor = SmolagentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        agent = ToolCallingAgent(
            tools=build_tools(),
            model=model,
            name="builder",
            max_steps=5,
            verbosity_level=LogLevel.OFF,
        )
        output = agent.run("Fix the failing tests")
        assert output == "done", output
    finally:
        instrumentor.uninstrument()
    return {
        "framework": "smolagents",
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
        "notes": notes + COMMON_NOTES,
    }


COMMON_NOTES = (
    " The agent name is only in the AGENT span's name ('builder.run'); no attribute carries it. "
    "Tools made with @tool all give TOOL spans named 'SimpleTool': the tool's name is tool.name. "
    "The final answer is a call of the built-in final_answer tool (id call_final_1, arguments "
    '{"answer": "done"}), which gives a TOOL span like any other (span name FinalAnswerTool, '
    "tool.name final_answer); it is the answer, not a tool use, so it is not listed in tools. "
    "The run_tests TOOL span ends with status ERROR ('RuntimeError: 3 tests failed in unit') "
    "and an exception event; the agent catches it as AgentToolExecutionError, its 'Step 2' "
    "CHAIN span ends with status ERROR too (that exception recorded twice), and the run goes "
    "on: the AGENT span ends OK with output.value 'done'."
)


def scenario(provider: Any) -> dict[str, Any]:
    """The shared scenario with a custom Model subclass (no LLM spans)."""
    return run_scenario(
        provider,
        scripted_model(),
        "Custom Model subclass: the instrumentor wraps generate only on smolagents' own "
        "model classes, so there is no LLM span, and the model's tool call ids (call_read_1, "
        "call_test_1) are in NO span: the tool spans carry none, so a mapper has to make its "
        "own ids (the call_id values here are what the model was told to send).",
    )


def scenario_openai_model(provider: Any) -> dict[str, Any]:
    """The shared scenario with smolagents' OpenAIModel over an in-process HTTP transport."""
    return run_scenario(
        provider,
        scripted_openai_model(),
        "smolagents' own OpenAIModel (its HTTP answered in-process): each step has an LLM "
        "span 'OpenAIModel.generate' whose "
        "llm.output_messages.0.message.tool_calls.0.tool_call.id holds the call id "
        "(call_read_1, call_test_1, call_final_1); the TOOL spans still carry no call id.",
    )


SCENARIOS = {"smolagents": scenario, "smolagents_openai_model": scenario_openai_model}


def main() -> None:
    record_all(SCENARIOS)


if __name__ == "__main__":
    main()
