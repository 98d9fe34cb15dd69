"""Record the spans of traceloop-sdk's decorators (OpenLLMetry's SDK), no model involved.

What it records (``traceloop``): ``@workflow(name="build")`` (with
``@conversation(conversation_id="conv-builder-1")``) calls the ``@agent(name="builder")``
function, which calls ``@tool(name="read_file")`` with path="src/app.py" and then
``@tool(name="run_tests")`` with target="unit"; run_tests raises
``RuntimeError("3 tests failed in unit")``; the agent CATCHES it and carries on, returning
"done", so the agent run and the workflow complete (only the run_tests span is in error).
Tools are called with keyword arguments, so their input names the arguments. There is no
model, hence no tool call ids (call_id null in the truth).

Traceloop is initialised to export nowhere but the given provider: ``Traceloop.init`` with
``processor=`` a no-op SpanProcessor (Traceloop chains its own on_start onto it, the one
that stamps traceloop.workflow.name, gen_ai.agent.name, gen_ai.conversation.id,
traceloop.entity.path on every span), ``instruments=set()`` (no library instrumented),
``disable_batch=True``, ``telemetry_enabled=False``, TRACELOOP_TELEMETRY=false,
TRACELOOP_METRICS_ENABLED=false, and a loopback ``api_endpoint`` that is never used (no
exporter, metrics, logging, client or fetcher is made when a processor is given and no
API key). Traceloop.init keeps one TracerWrapper per process and adopts the GLOBAL tracer
provider when one is set (else it creates one and sets it globally); so the global is
pointed at ``provider`` only while init runs, and a later scenario in the same process
swaps the wrapper's provider and adds the same enriching processor to the new provider.
Traceloop.init also runs ``ThreadingInstrumentor().instrument()`` (context propagation to
threads), which stays for the process.

Packages used (pip, Python 3.11):
    traceloop-sdk==0.62.4 opentelemetry-sdk==1.44.0 opentelemetry-api==1.44.0
    opentelemetry-semantic-conventions-ai==0.5.1 opentelemetry-instrumentation-threading==0.65b0
    opentelemetry-exporter-otlp-proto-common==1.44.0 protobuf==5.29.6

Rerun (from the repository root, in a venv with the packages above):
    python tests/recordings/record_traceloop.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

try:
    from .otlp_file import FAILURE, record_all
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from recordings.otlp_file import FAILURE, record_all

READ_OUTPUT = "def main():\n    return 42\n"
CONVERSATION_ID = "conv-builder-1"

_ENRICHER = None  # the no-op processor onto which Traceloop chained its on_start


def _use_provider(provider) -> None:
    """Make traceloop's decorators start their spans on ``provider``."""
    global _ENRICHER
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanProcessor
    from traceloop.sdk import Traceloop
    from traceloop.sdk.tracing.tracing import TracerWrapper

    os.environ["TRACELOOP_TELEMETRY"] = "false"
    os.environ["TRACELOOP_METRICS_ENABLED"] = "false"
    os.environ["TRACELOOP_LOGGING_ENABLED"] = "false"
    if _ENRICHER is None and not hasattr(TracerWrapper, "instance"):
        _ENRICHER = SpanProcessor()
        saved = trace._TRACER_PROVIDER
        trace._TRACER_PROVIDER = provider  # adopted by init_tracer_provider, not replaced
        try:
            Traceloop.init(
                app_name="traceloop",
                api_endpoint="http://127.0.0.1:9/unused",
                processor=_ENRICHER,
                disable_batch=True,
                telemetry_enabled=False,
                instruments=set(),
            )
        finally:
            trace._TRACER_PROVIDER = saved
    elif _ENRICHER is not None:
        provider.add_span_processor(_ENRICHER)
    else:
        raise RuntimeError("Traceloop was initialised elsewhere in this process")
    TracerWrapper.instance._TracerWrapper__tracer_provider = provider


def run_workflow() -> str:
    from traceloop.sdk.decorators import agent, conversation, tool, workflow

    @tool(name="read_file")
    def read_file(path: str) -> str:
        return READ_OUTPUT

    @tool(name="run_tests")
    def run_tests(target: str) -> str:
        raise RuntimeError(FAILURE)

    @agent(name="builder")
    def builder(task: str) -> str:
        read_file(path="src/app.py")
        try:
            run_tests(target="unit")
        except RuntimeError:
            pass  # the agent goes on: the failure is reported in its answer
        return "done"

    @workflow(name="build")
    @conversation(conversation_id=CONVERSATION_ID)
    def build(task: str) -> str:
        return builder(task=task)

    return build(task="Make the unit tests pass.")


def scenario(provider) -> dict[str, Any]:
    """Run the decorated workflow with its spans on ``provider``; the truth."""
    _use_provider(provider)
    answer = run_workflow()
    assert answer == "done"
    return {
        "framework": "traceloop-sdk 0.62.4 decorators (@workflow/@agent/@tool)",
        "instrumentation": "traceloop-sdk 0.62.4",
        "executions": 1,
        "runs": [
            {
                "agent": "builder",
                "status": "completed",
                "tools": [
                    {
                        "name": "read_file",
                        "call_id": None,
                        "arguments": {"path": "src/app.py"},
                        "status": "done",
                        "output_contains": "return 42",
                    },
                    {
                        "name": "run_tests",
                        "call_id": None,
                        "arguments": {"target": "unit"},
                        "status": "error",
                        "error_contains": FAILURE,
                    },
                ],
            }
        ],
        "notes": (
            "No model: the tools are called directly by the agent function, so there are no tool "
            "call ids. run_tests raises; its span is ERROR with an exception event; the builder "
            "agent catches the exception and returns 'done', so the agent and the 'build' workflow "
            "spans end OK (run completed). The workflow 'build' wraps the agent 'builder': one "
            "execution, one agent run. Tool arguments are in traceloop.entity.input as "
            '{"args": [], "kwargs": {...}} (keyword call). gen_ai.conversation.id '
            f"{CONVERSATION_ID!r} on every span (set by @conversation)."
        ),
    }


def main() -> None:
    record_all({"traceloop": scenario})


if __name__ == "__main__":
    main()
