"""Record the spans of a LangChain v1 agent (``create_agent``) traced by OpenInference.

What it records (fake chat model, no network):

- ``langchain_oi``: agent ``builder`` (create_agent(name="builder")) with two tools; the
  scripted model calls read_file(path="src/app.py") (id "call_read_1"), then
  run_tests(target="unit") (id "call_test_1"), then answers "done". ``run_tests`` fails
  the LangChain way that hands the error to the model: it raises
  ``ToolException("3 tests failed in unit")`` and the tool has ``handle_tool_error=True``,
  so the tool returns a ``ToolMessage(status="error")`` and the run completes.
  (In these versions ``create_agent``'s ToolNode uses ``_default_handle_tool_errors``,
  which only turns argument-validation errors into error ToolMessages and re-raises any
  other exception; hence the ToolException.)
- ``langchain_oi_raise``: the same, but ``run_tests`` raises a plain
  ``RuntimeError("3 tests failed in unit")``: ToolNode's default re-raises it and the
  agent run fails (agent.invoke raises).

The thread id "thread-builder-1" is passed as ``config={"configurable": {"thread_id": ...}}``
(no checkpointer), as LangGraph users do to name a conversation.

Packages used (pip, Python 3.11):
    opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-common==1.45.2 protobuf==7.36.2
    langchain==1.5.2 langchain-core==1.8.3 langgraph==1.2.24 langgraph-prebuilt==1.1.3
    openinference-instrumentation-langchain==0.1.80 openinference-instrumentation==0.1.72
    openinference-semantic-conventions==0.1.42

Rerun (from the repository root, in a venv with the packages above):
    python tests/recordings/record_langchain_oi.py
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    from .otlp_file import recording_provider, write_recording
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from recordings.otlp_file import recording_provider, write_recording

READ_OUTPUT = "def main():\n    return 42\n"
FAILURE = "3 tests failed in unit"
THREAD_ID = "thread-builder-1"


def build_agent(failure: str):
    """The ``builder`` agent: a scripted chat model and the two tools.

    ``failure`` is "tool_exception" (ToolException, handled into an error ToolMessage)
    or "raise" (a plain RuntimeError, which aborts the run).
    """
    from langchain.agents import create_agent
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.tools import StructuredTool, ToolException

    class ScriptedChatModel(BaseChatModel):
        """Answers by turn: the number of AI messages already in the conversation."""

        @property
        def _llm_type(self) -> str:
            return "scripted-fake"

        def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
            return self

        def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs):
            turn = sum(1 for m in messages if isinstance(m, AIMessage))
            if turn == 0:
                msg = AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": "read_file",
                            "args": {"path": "src/app.py"},
                            "id": "call_read_1",
                            "type": "tool_call",
                        }
                    ],
                )
            elif turn == 1:
                msg = AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": "run_tests",
                            "args": {"target": "unit"},
                            "id": "call_test_1",
                            "type": "tool_call",
                        }
                    ],
                )
            else:
                msg = AIMessage(content="done")
            return ChatResult(generations=[ChatGeneration(message=msg)])

    def read_file(path: str) -> str:
        """Read a file of the project."""
        return READ_OUTPUT

    def run_tests(target: str) -> str:
        """Run the tests of a target."""
        if failure == "tool_exception":
            raise ToolException(FAILURE)
        raise RuntimeError(FAILURE)

    tools = [
        StructuredTool.from_function(read_file),
        StructuredTool.from_function(run_tests, handle_tool_error=(failure == "tool_exception")),
    ]
    return create_agent(ScriptedChatModel(), tools, name="builder")


def run_agent(failure: str) -> str:
    """Invoke the agent; "completed" or "failed"."""
    from langchain_core.messages import HumanMessage

    agent = build_agent(failure)
    try:
        agent.invoke(
            {"messages": [HumanMessage("Make the unit tests pass.")]},
            config={"configurable": {"thread_id": THREAD_ID}},
        )
    except RuntimeError as exc:
        if str(exc) != FAILURE:
            raise
        return "failed"
    return "completed"


def truth(
    framework: str, instrumentation: str, failure: str, status: str, notes: str
) -> dict[str, Any]:
    run_tests: dict[str, Any] = {
        "name": "run_tests",
        "call_id": "call_test_1",
        "arguments": {"target": "unit"},
        "status": "error",
        "error_contains": FAILURE,
    }
    return {
        "framework": framework,
        "instrumentation": instrumentation,
        "executions": 1,
        "runs": [
            {
                "agent": "builder",
                "status": status,
                "tools": [
                    {
                        "name": "read_file",
                        "call_id": "call_read_1",
                        "arguments": {"path": "src/app.py"},
                        "status": "done",
                        "output_contains": "return 42",
                    },
                    run_tests,
                ],
            }
        ],
        "notes": notes,
    }


FRAMEWORK = "langchain 1.5.2 create_agent (langgraph 1.2.24, langchain-core 1.8.3)"
INSTRUMENTATION = "openinference-instrumentation-langchain 0.1.80"
NOTES = {
    "tool_exception": (
        "run_tests raised ToolException with handle_tool_error=True: LangChain calls on_tool_end "
        "(not on_tool_error) with a ToolMessage(status='error'), so the run_tests TOOL span has "
        "status UNSET/OK and no exception event; the failure is only inside output.value (the "
        "ToolMessage JSON, kwargs.status == 'error', kwargs.content == '3 tests failed in unit'). "
        "The error is handed to the model, which answers 'done'; the run completes. "
        f"thread_id {THREAD_ID!r} passed in config.configurable (session.id / metadata)."
    ),
    "raise": (
        "run_tests raised RuntimeError: the TOOL span ends with status ERROR and an exception "
        "event; create_agent's ToolNode re-raises it, so the LangGraph/agent span (and the "
        "'tools' node span) end in error too and agent.invoke raises: the run failed, and "
        "the model is never asked a third time. "
        f"thread_id {THREAD_ID!r} passed in config.configurable."
    ),
}


def scenario(provider, failure: str = "tool_exception") -> dict[str, Any]:
    """Run the scenario traced by OpenInference on ``provider``; the truth."""
    from openinference.instrumentation.langchain import LangChainInstrumentor

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        status = run_agent(failure)
    finally:
        instrumentor.uninstrument()
    return truth(FRAMEWORK, INSTRUMENTATION, failure, status, NOTES[failure])


def scenario_raise(provider) -> dict[str, Any]:
    return scenario(provider, failure="raise")


def main() -> None:
    for name, run in (("langchain_oi", scenario), ("langchain_oi_raise", scenario_raise)):
        with recording_provider(name) as (provider, exporter):
            result = run(provider)
            spans = exporter.get_finished_spans()
            print(name, write_recording(name, spans, result), len(spans), "spans")


if __name__ == "__main__":
    main()
