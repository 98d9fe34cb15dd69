"""Record the spans of a LangChain v1 agent (``create_agent``) traced by OpenLLMetry.

The same scenarios as ``record_langchain_oi.py`` (whose agent, scripted model and tools
this script reuses), traced by OpenLLMetry's LangChain instrumentation instead of
OpenInference:

- ``langchain_openllmetry``: run_tests raises ``ToolException`` with
  ``handle_tool_error=True``: an error ToolMessage goes back to the model, the run completes.
- ``langchain_openllmetry_raise``: run_tests raises ``RuntimeError``: create_agent's
  ToolNode re-raises it and the run fails.
- ``langchain_openllmetry_middleware``: run_tests raises ``RuntimeError`` and a
  ``@wrap_tool_call`` middleware returns ``ToolMessage(status="error")`` to the model: the
  tool span is in error, the run completes.

After ``uninstrument()`` the scenario unwraps what OpenLLMetry's ``_uninstrument`` leaves
wrapped (see ``_unwrap_dotted``), so a second run in the same process records on its own
provider.

Content capture is left at the instrumentation's default (TRACELOOP_TRACE_CONTENT unset =
on). Traceloop's SDK is not initialised: only the instrumentor runs, on the given provider.

Packages used (pip, Python 3.11):
    opentelemetry-sdk==1.44.0 opentelemetry-exporter-otlp-proto-common==1.44.0 protobuf==5.29.6
    langchain==1.5.2 langchain-core==1.8.3 langgraph==1.2.24 langgraph-prebuilt==1.1.3
    opentelemetry-instrumentation-langchain==0.62.4 opentelemetry-instrumentation==0.65b0
    opentelemetry-semantic-conventions-ai==0.5.1 wrapt==1.17.3

Rerun (from the repository root, in a venv with the packages above):
    python tests/recordings/record_langchain_openllmetry.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    from .otlp_file import record_all
    from .record_langchain_oi import FRAMEWORK, THREAD_ID, run_agent, truth
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from recordings.otlp_file import record_all
    from recordings.record_langchain_oi import FRAMEWORK, THREAD_ID, run_agent, truth

INSTRUMENTATION = "opentelemetry-instrumentation-langchain 0.62.4 (OpenLLMetry)"
NOTES = {
    "tool_exception": (
        "run_tests raised ToolException with handle_tool_error=True: LangChain calls on_tool_end "
        "(not on_tool_error) with a ToolMessage(status='error'), so the run_tests tool span "
        "(traceloop.span.kind='tool') has no error status; the failure is only inside "
        "traceloop.entity.output (the ToolMessage JSON with status 'error'). The error is handed "
        "to the model, which answers 'done'; the run completes. "
        f"thread_id {THREAD_ID!r} passed in config.configurable."
    ),
    "middleware": (
        "run_tests raised RuntimeError; a @wrap_tool_call middleware caught it and returned "
        "ToolMessage(status='error') to the model: the 'execute_tool run_tests' span ends ERROR "
        "(error.type RuntimeError, exception event, gen_ai.task.status 'failure'), the "
        "'execute_task tools' span ends OK with the error ToolMessage in its output, the model "
        "answers 'done' and the run completes. "
        f"thread_id {THREAD_ID!r} passed in config.configurable."
    ),
    "raise": (
        "run_tests raised RuntimeError: the tool span ends with status ERROR (and the "
        "'tools' node and the root 'builder' span too); create_agent's ToolNode re-raises it "
        "and agent.invoke raises: the run failed. "
        f"thread_id {THREAD_ID!r} passed in config.configurable."
    ),
}


BUILD_NOTE = (
    " The 'create_agent builder' span (gen_ai.operation.name 'create_agent', gen_ai.agent.name, "
    "gen_ai.tool.definitions = the tool SCHEMAS) is emitted when create_agent() BUILDS the "
    "graph, in a trace of its own that ends before the run starts: not an execution. The run "
    "is the 'invoke_agent builder' trace (gen_ai.conversation.id = thread_id)."
)
NOTES = {key: value + BUILD_NOTE for key, value in NOTES.items()}


def _unwrap_dotted() -> None:
    """Undo the wraps that LangchainInstrumentor.uninstrument() leaves in place.

    Its _uninstrument calls ``unwrap("langchain_core.callbacks", "BaseCallbackManager.__init__")``
    (and the same for Pregel.stream/astream, Command.__init__ and the AgentMiddleware hooks):
    opentelemetry.instrumentation.utils.unwrap reads a dotted attribute as a module path and
    getattr(module, "Class.method") finds nothing, so those stay wrapped, bound to the first
    provider; a second instrument() would wrap them again and the first provider's callback
    handler would keep receiving the LangChain spans. Here they are unwrapped on the classes.
    """
    from langchain.agents.middleware.types import AgentMiddleware
    from langchain_core.callbacks import BaseCallbackManager
    from langgraph.pregel import Pregel
    from langgraph.types import Command
    from opentelemetry.instrumentation.utils import unwrap

    unwrap(BaseCallbackManager, "__init__")
    unwrap(Pregel, "stream")
    unwrap(Pregel, "astream")
    unwrap(Command, "__init__")
    for hook in ("before_model", "after_model", "before_agent", "after_agent"):
        unwrap(AgentMiddleware, hook)
        unwrap(AgentMiddleware, "a" + hook)


def scenario(provider, failure: str = "tool_exception") -> dict[str, Any]:
    """Run the scenario traced by OpenLLMetry's LangChain instrumentor; the truth."""
    from opentelemetry.instrumentation.langchain import LangchainInstrumentor

    instrumentor = LangchainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        status = run_agent(failure)
    finally:
        instrumentor.uninstrument()
        _unwrap_dotted()
    return truth(FRAMEWORK, INSTRUMENTATION, failure, status, NOTES[failure])


def scenario_raise(provider) -> dict[str, Any]:
    return scenario(provider, failure="raise")


def scenario_middleware(provider) -> dict[str, Any]:
    return scenario(provider, failure="middleware")


def main() -> None:
    record_all(
        {
            "langchain_openllmetry": scenario,
            "langchain_openllmetry_raise": scenario_raise,
            "langchain_openllmetry_middleware": scenario_middleware,
        }
    )


if __name__ == "__main__":
    main()
