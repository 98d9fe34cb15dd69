"""Cooperation with the application's tracer provider, with real exporters and receivers.

Producers never take the global provider; an application that sets its own
later keeps it and its exporters (which then receive the producers' spans);
``configure()`` twice applies what changed; our exporters carry our spans
unless asked to carry the application's; the payload policy holds for every
exporter the producers' spans reach.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from otlp_receivers import grpc_receiver, run, stored_tools, worker

APP_PROVIDER = """
import json
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

memory = InMemorySpanExporter()
app = TracerProvider()
app.add_span_processor(SimpleSpanProcessor(memory))
"""

TOOLS = ["toolu_000_long_identifier", "toolu_001_long_identifier"]


def test_producers_first_then_the_app_sets_its_provider_and_keeps_its_exporter(
    tmp_path: Path,
) -> None:
    code = (
        "from otel_obs import TranscriptWriter\n"
        "early = TranscriptWriter('exec-early', 'early-agent')\n"
        "early.close()\n"
        + APP_PROVIDER
        + """
trace.set_tracer_provider(app)
assert trace.get_tracer_provider() is app
with trace.get_tracer("the-app").start_as_current_span("app work"):
    pass
"""
        + worker()
        + "\nprint(json.dumps(sorted(s.name for s in memory.get_finished_spans())))"
    )
    done = run(code, tmp_path)
    assert "Overriding" not in done.stderr, done.stderr
    names = json.loads(done.stdout.strip().splitlines()[-1])
    # The app's exporter got its own span, and the producers' spans made after it was set.
    assert "app work" in names and "execute_tool Bash" in names and "invoke_agent agent-1" in names
    assert "invoke_agent early-agent" not in names
    assert stored_tools(tmp_path / "obs.db") == TOOLS


def test_configure_twice_same_is_a_no_op_other_options_are_applied(tmp_path: Path) -> None:
    code = """
import json
from otel_obs import configure, TranscriptWriter
first = configure("a/obs.db", service_name="one", otlp_endpoint=ENDPOINT)
store = first.store
same = configure("a/obs.db", service_name="one", otlp_endpoint=ENDPOINT)
same = same is first and same.store is store
w = TranscriptWriter("exec-a", "agent-a"); w.close()
moved = configure("b/obs.db", service_name="two", otlp_endpoint=ENDPOINT, otlp_payloads="none")
from otel_obs import ToolUseLogger
w = TranscriptWriter("exec-b", "agent-b")
t = ToolUseLogger(w)
tid = t.log_start({"id": "toolu_b", "name": "Bash", "input": {"command": "echo secret"}})
t.log_end(tid, {"tool_use_id": tid, "content": "secret", "is_error": False})
w.close()
print(json.dumps({"same": same, "moved": moved is first,
                  "old_closed": store.closed, "db": moved.db_path.parent.name}))
"""
    with grpc_receiver() as (endpoint, received):
        done = run(code.replace("ENDPOINT", repr(endpoint)), tmp_path)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"same": True, "moved": True, "old_closed": True, "db": "b"}
    conn = sqlite3.connect(tmp_path / "a" / "obs.db")
    assert conn.execute("SELECT id FROM build_agent_instances").fetchall() == [("agent-a",)]
    conn = sqlite3.connect(tmp_path / "b" / "obs.db")
    assert conn.execute("SELECT id FROM build_agent_instances").fetchall() == [("agent-b",)]
    assert conn.execute("SELECT input FROM tool_uses").fetchone() == ('{"command":"echo secret"}',)
    by_name = {s.name: s for s in received.spans}
    assert by_name["invoke_agent agent-a"].resource["service.name"] == "one"
    assert by_name["invoke_agent agent-b"].resource["service.name"] == "two"
    assert "obs.tool.input" not in by_name["execute_tool Bash"].attributes  # payloads: none
    assert by_name["execute_tool Bash"].attributes["obs.tool.input_summary"] == "echo secret"


def test_our_exporter_carries_our_spans_unless_asked_for_the_apps(tmp_path: Path) -> None:
    code = (
        APP_PROVIDER
        + """
trace.set_tracer_provider(app)
from otel_obs import configure
configure(otlp_endpoint=ENDPOINT, otlp_app_spans=APP_SPANS)
with trace.get_tracer("the-app").start_as_current_span("app work"):
    pass
"""
        + worker()
    )
    for app_spans in (False, True):
        with grpc_receiver() as (endpoint, received):
            run(
                code.replace("ENDPOINT", repr(endpoint)).replace("APP_SPANS", str(app_spans)),
                tmp_path / str(app_spans),
            )
        names = received.names()
        assert names.count("execute_tool Bash") == 2
        assert ("app work" in names) is app_spans


def test_payload_policy_holds_for_the_apps_exporters_too(tmp_path: Path) -> None:
    # A distro-like app provider with its own OTLP exporter; otel-obs builds none.
    app = (
        APP_PROVIDER
        + """
app.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=ENDPOINT)))
trace.set_tracer_provider(app)
"""
    )
    for configure in (None, ""):
        folder = tmp_path / f"configure-{configure is not None}"
        with grpc_receiver() as (endpoint, received):
            done = run(
                worker(configure=configure, before=app.replace("ENDPOINT", repr(endpoint)))
                + "\nprint(json.dumps([dict(s.attributes) for s in memory.get_finished_spans()"
                " if s.name == 'execute_tool Bash']))",
                folder,
                OTEL_OBS_OTLP_PAYLOADS="none",
            )
        tools = [s.attributes for s in received.spans if s.name == "execute_tool Bash"]
        tools += json.loads(done.stdout.strip().splitlines()[-1])
        assert len(tools) == 4
        for attributes in tools:
            assert "obs.tool.input" not in attributes and "obs.tool.output" not in attributes
            assert attributes["obs.tool.input_summary"].startswith("echo ")
        conn = sqlite3.connect(folder / "obs.db")
        assert conn.execute(
            "SELECT count(*) FROM tool_uses WHERE input IS NOT NULL"
        ).fetchone() == (2,)


def test_exporters_are_rebuilt_not_doubled_when_configure_follows_the_producers(
    tmp_path: Path,
) -> None:
    code = (
        "from otel_obs import TranscriptWriter\n"
        "early = TranscriptWriter('exec-early', 'early-agent')\n"
        "early.close()\n"
        "from opentelemetry import trace\n"
        "from otel_obs import configure\n"
        "configure(otlp_app_spans=True)\n"
        "with trace.get_tracer('the-app').start_as_current_span('app work'):\n"
        "    pass\n" + worker()
    )
    with grpc_receiver() as (endpoint, received):
        run(code, tmp_path / "configured", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    names = received.names()
    assert names.count("invoke_agent early-agent") == 1
    assert names.count("execute_tool Bash") == 2 and names.count("app work") == 1
    # Without configure(), OTEL_OBS_OTLP_APP_SPANS has no application provider to use:
    # the producers' spans still go out, once.
    with grpc_receiver() as (endpoint, received):
        run(
            worker(),
            tmp_path / "implicit",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_OBS_OTLP_APP_SPANS="true",
        )
    assert received.names().count("execute_tool Bash") == 2


def test_a_span_handed_to_exporters_reads_as_its_view(tmp_path: Path) -> None:
    """What every exporter reads of a producer span: derived facts, payload policy applied."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_obs import conventions as c
    from otel_obs.otel.export_step import ExportStep

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ExportStep([SimpleSpanProcessor(memory)], "none", to_app=False))
    span = provider.get_tracer("t").start_span(
        "execute_tool Read",
        attributes={
            c.KIND: c.KIND_TOOL,
            c.GEN_AI_TOOL_NAME: "Read",
            c.TOOL_INPUT: '{"file_path": "src/a.py"}',
            c.TOOL_OUTPUT: "secret",
        },
    )
    span.add_event("obs.decision", {c.ENTRY_DETAILS: "secret", "kept": 1})
    span.end()
    [shown] = memory.get_finished_spans()
    attributes = dict(shown.attributes)
    assert c.TOOL_INPUT not in attributes and c.TOOL_OUTPUT not in attributes
    assert (attributes[c.FILE_PATH], attributes[c.FILE_OPERATION]) == ("src/a.py", "READ")
    assert [dict(e.attributes) for e in shown.events] == [{"kept": 1}]
    assert "secret" not in shown.to_json() and "src/a.py" in shown.to_json()
    assert shown.context.span_id == span.get_span_context().span_id


def test_configure_without_a_provider_the_standard_exporters_are_the_apps(
    tmp_path: Path,
) -> None:
    """configure() makes the application's provider from the standard variables: the
    exporters OTEL_TRACES_EXPORTER names are that provider's and carry its spans (payload
    policy on ours); OTEL_OBS_OTLP_APP_SPANS=false, or an otlp_endpoint, keeps them to ours."""
    app_span = """
from opentelemetry import trace
with trace.get_tracer("the-app").start_as_current_span(
    "app work", attributes={"gen_ai.tool.call.arguments": '{"q": 1}'}
):
    pass
"""
    cases = {
        "standard": ("", {"OTEL_TRACES_EXPORTER": "otel_obs,otlp"}, True),
        "opted-out": (
            "",
            {"OTEL_TRACES_EXPORTER": "otel_obs,otlp", "OTEL_OBS_OTLP_APP_SPANS": "false"},
            False,
        ),
        "endpoint-argument": ("otlp_endpoint=ENDPOINT", {}, False),
    }
    for case, (arguments, env, app_spans) in cases.items():
        with grpc_receiver() as (endpoint, received):
            variables = dict(env, OTEL_OBS_OTLP_PAYLOADS="none")
            if not arguments:
                variables["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
            code = worker(configure=arguments.replace("ENDPOINT", repr(endpoint))) + app_span
            run(code, tmp_path / case, **variables)
        names = received.names()
        assert names.count("execute_tool Bash") == 2, (case, names)
        assert names.count("app work") == (1 if app_spans else 0), (case, names)
        for got in received.spans:
            if got.name == "execute_tool Bash":
                assert "obs.tool.input" not in got.attributes  # payloads: none, for ours
                assert "gen_ai.tool.call.arguments" not in got.attributes
            if got.name == "app work":  # the application's own attributes: its own
                assert got.attributes["gen_ai.tool.call.arguments"] == '{"q": 1}'
