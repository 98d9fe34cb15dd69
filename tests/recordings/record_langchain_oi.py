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
- ``langchain_oi_middleware``: ``run_tests`` raises ``RuntimeError`` and the agent has the
  tool-error middleware LangChain v1 documents for create_agent (``@wrap_tool_call``
  catching the exception and returning ``ToolMessage(content=str(e), status="error")``):
  the tool run itself fails (on_tool_error), the model gets the error and answers "done",
  the run completes.

The thread id "thread-builder-1" is passed as ``config={"configurable": {"thread_id": ...}}``
(no checkpointer), as LangGraph users do to name a conversation.

Packages used (pip, Python 3.11):
    opentelemetry-sdk==1.44.0 opentelemetry-exporter-otlp-proto-common==1.44.0 protobuf==5.29.6
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
    from .otlp_file import FAILURE, read_file_truth, record_all, run_tests_truth
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from recordings.otlp_file import FAILURE, read_file_truth, record_all, run_tests_truth

READ_OUTPUT = "def main():\n    return 42\n"
THREAD_ID = "thread-builder-1"


def build_agent(failure: str):
    """The ``builder`` agent: a scripted chat model and the two tools.

    ``failure`` is "tool_exception" (ToolException, handled into an error ToolMessage),
    "raise" (a plain RuntimeError, which aborts the run) or "middleware" (a RuntimeError
    that a wrap_tool_call middleware turns into an error ToolMessage).
    """
    from langchain.agents import create_agent
    from langchain.agents.middleware import wrap_tool_call
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
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
    middleware = []
    if failure == "middleware":

        @wrap_tool_call
        def tool_errors_to_model(request, handler):
            try:
                return handler(request)
            except Exception as exc:  # the documented pattern: report the error to the model
                return ToolMessage(
                    content=str(exc), tool_call_id=request.tool_call["id"], status="error"
                )

        middleware.append(tool_errors_to_model)
    return create_agent(ScriptedChatModel(), tools, name="builder", middleware=middleware)


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
    run_tests: dict[str, Any] = run_tests_truth()
    return {
        "framework": framework,
        "instrumentation": instrumentation,
        "executions": 1,
        "runs": [
            {
                "agent": "builder",
                "status": status,
                "tools": [
                    read_file_truth(),
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
        "status OK and no exception event; the failure is only inside its output.value, the "
        'ToolMessage as JSON: {"type": "tool", "data": {"content": "3 tests failed in unit", '
        '"tool_call_id": "call_test_1", "status": "error", ...}}. '
        "The error is handed to the model, which answers 'done'; the run completes. "
        f"thread_id {THREAD_ID!r} passed in config.configurable (session.id / metadata)."
    ),
    "middleware": (
        "run_tests raised RuntimeError; a @wrap_tool_call middleware (LangChain v1's documented "
        "tool-error handling for create_agent) caught it and returned ToolMessage(status='error', "
        "content='3 tests failed in unit') to the model: the run_tests TOOL span ends ERROR with "
        "an exception event (on_tool_error ran), the 'tools' node span ends OK with the error "
        "ToolMessage in its output, the model answers 'done' and the run completes. "
        f"thread_id {THREAD_ID!r} passed in config.configurable."
    ),
    "raise": (
        "run_tests raised RuntimeError: the TOOL span ends with status ERROR and an exception "
        "event; create_agent's ToolNode re-raises it, so the LangGraph/agent span (and the "
        "'tools' node span) end in error too and agent.invoke raises: the run failed, and "
        "the model is never asked a third time. "
        f"thread_id {THREAD_ID!r} passed in config.configurable."
    ),
}


OI_NOTE = (
    " Agent = the root CHAIN span named 'builder' (the graph name; metadata.lc_agent_name "
    "'builder' on every span); span kinds in openinference.span.kind (LLM for the chat model, "
    "CHAIN for graph/nodes, TOOL for tools); all attributes are set when the span ENDS. A TOOL "
    "span has tool.name and tool.description but NO call id attribute and no schema: its "
    "input.value is the tool input as LangChain's tracer saw it (a one-argument tool gives the "
    "bare value 'src/app.py', not JSON); the call id is in its output.value ToolMessage "
    "(tool_call_id), absent when the tool raised; the parent 'tools' CHAIN span's input.value "
    'is the JSON list of the tool calls [{"name", "args", "id", "type"}] and the LLM span has '
    "llm.output_messages.0.message.tool_calls.N.tool_call.{id,function.name,function.arguments}."
)
NOTES = {key: value + OI_NOTE for key, value in NOTES.items()}


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


def scenario_middleware(provider) -> dict[str, Any]:
    return scenario(provider, failure="middleware")


def main() -> None:
    record_all(
        {
            "langchain_oi": scenario,
            "langchain_oi_raise": scenario_raise,
            "langchain_oi_middleware": scenario_middleware,
        }
    )


if __name__ == "__main__":
    main()
