"""The store is independent of sampling and span limits; OTLP carries the sampled spans only.

Every case runs twenty agents (each its own trace) through the real producers
in a fresh interpreter, with a real OTLP receiver on 127.0.0.1. The store must
hold every row each time; what the receiver got must be exactly the traces the
sampler chose, computed here with the SDK's own sampler from the stored trace ids.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from otlp_receivers import grpc_receiver, run

AGENTS = 20

MANY = """
from otel_obs import ToolUseLogger, TranscriptWriter
for a in range(AGENTS):
    writer = TranscriptWriter("exec-sample", f"agent-{a:02d}")
    tools = ToolUseLogger(writer)
    with writer.task(f"T{a}", "sampled or not", action="UPDATE", file="src/app.py"):
        for n in range(2):
            tid = tools.log_start({"id": f"toolu_{a:02d}_{n}_long_identifier", "name": "Bash",
                                   "input": {"command": f"echo {a} {n}"}})
            tools.log_end(tid, {"tool_use_id": tid, "content": "x" * 40, "is_error": False})
        writer.write({"entry_type": "decision", "summary": "a decision well over twelve",
                      "details": {"chosen": "a"}})
    writer.close()
""".replace("AGENTS", str(AGENTS))

ALL_TOOLS = {f"toolu_{a:02d}_{n}_long_identifier" for a in range(AGENTS) for n in range(2)}


def stored(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(db)
    try:
        tools = dict(conn.execute("SELECT id, trace_id FROM tool_uses").fetchall())
        return {
            "tools": tools,
            "outputs": {r[0] for r in conn.execute("SELECT output FROM tool_uses")},
            "agents": conn.execute("SELECT count(*) FROM build_agent_instances").fetchone()[0],
            "tasks": conn.execute(
                "SELECT count(*) FROM tasks WHERE status = 'completed'"
            ).fetchone()[0],
            "decisions": conn.execute(
                "SELECT count(*) FROM transcript_entries WHERE entry_type = 'decision'"
                " AND summary = 'a decision well over twelve'"
            ).fetchone()[0],
        }
    finally:
        conn.close()


def assert_every_row(db: Path) -> dict[str, str]:
    """The store holds every agent, task, tool use and decision, uncut; returns tool → trace."""
    got = stored(db)
    assert set(got["tools"]) == ALL_TOOLS
    assert got["outputs"] == {"x" * 40}
    assert (got["agents"], got["tasks"], got["decisions"]) == (AGENTS, AGENTS, AGENTS)
    return got["tools"]  # type: ignore[return-value]


def chosen(traces: set[str], ratio: float) -> set[str]:
    sampler = TraceIdRatioBased(ratio)
    return {t for t in traces if sampler.should_sample(None, int(t, 16), "x").decision.is_sampled()}


def test_always_off_stores_everything_and_exports_nothing(tmp_path: Path) -> None:
    with grpc_receiver() as (endpoint, received):
        run(MANY, tmp_path, OTEL_TRACES_SAMPLER="always_off", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    assert_every_row(tmp_path / "obs.db")
    assert received.spans == []


def test_traceidratio_exports_exactly_the_chosen_traces(tmp_path: Path) -> None:
    with grpc_receiver() as (endpoint, received):
        run(
            MANY,
            tmp_path,
            OTEL_TRACES_SAMPLER="traceidratio",
            OTEL_TRACES_SAMPLER_ARG="0.1",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        )
    traces = set(assert_every_row(tmp_path / "obs.db").values())
    assert len(traces) == AGENTS
    expected = chosen(traces, 0.1)
    assert {s.trace_id for s in received.spans} == expected
    # A chosen trace goes out whole: agent, task, two tool uses.
    assert len(received.spans) == 4 * len(expected)


def test_a_not_sampled_parent_still_fills_the_store(tmp_path: Path) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
    with grpc_receiver() as (endpoint, received):
        run(MANY, tmp_path, TRACEPARENT=parent, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    tools = assert_every_row(tmp_path / "obs.db")
    assert set(tools.values()) == {"4bf92f3577b34da6a3ce929d0e0e4736"}  # joined, not sampled
    assert received.spans == []


def test_an_app_provider_with_parent_based_half(tmp_path: Path) -> None:
    app = """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from otel_obs import configure

memory = InMemorySpanExporter()
provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5)))
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
configure(otlp_endpoint=ENDPOINT)
"""
    with grpc_receiver() as (endpoint, received):
        done = run(
            app.replace("ENDPOINT", repr(endpoint))
            + MANY
            + "\nprint(json.dumps(sorted({format(s.context.trace_id, '032x')"
            " for s in memory.get_finished_spans()})))",
            tmp_path,
        )
    traces = set(assert_every_row(tmp_path / "obs.db").values())
    expected = chosen(traces, 0.5)
    assert 0 < len(expected) < AGENTS
    # Our OTLP exporter and the application's own exporter: the sampled traces only.
    assert {s.trace_id for s in received.spans} == expected
    assert set(json.loads(done.stdout.strip().splitlines()[-1])) == expected


def test_span_limits_never_cut_store_rows(tmp_path: Path) -> None:
    app_span = """
from opentelemetry import trace
from otel_obs import configure
configure()
with trace.get_tracer("app").start_as_current_span("app work") as span:
    span.set_attribute("app.note", "a value much longer than twelve")
"""
    with grpc_receiver() as (endpoint, received):
        run(
            app_span + MANY,
            tmp_path,
            OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT="12",
            OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="4",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_OBS_OTLP_APP_SPANS="true",
        )
    assert_every_row(tmp_path / "obs.db")
    by_name = {s.name: s for s in received.spans}
    # The application's own span keeps the application's limits ...
    assert by_name["app work"].attributes["app.note"] == "a value much"
    # ... the producers' spans go out whole.
    tool = by_name["execute_tool Bash"].attributes
    assert tool["gen_ai.tool.call.id"].endswith("_long_identifier")
    assert len(tool) > 4
