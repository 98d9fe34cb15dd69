"""Model usage in the store (``llm_calls``) and the cost tools (C001–C005).

A planted scenario, made with the real OpenTelemetry SDK into a real store, whose tokens
and costs are known by construction: a planner agent with two model calls (GenAI ``chat``
spans, tokens only: priced), a subagent it starts through a tool call with one call of
its own (an OpenInference LLM span that reports its cost), a reviewer agent that states
only its run's total (an agent span's aggregated usage), and the planner's own run total,
which its calls already count. The expected figures are computed here from the planted
numbers and the price table, not read back from the mapping.

And the recordings of real frameworks (``tests/recordings/``): the store's token totals
equal the sums of the token attributes of their LLM spans, read from the OTLP/JSON here.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from recordings.otlp_file import load_recording

from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.store_choice import thread_store
from otel_obs.ingest.decode import parse_json, records_of
from otel_obs.queries.runner import ObservabilitySkills

EXECUTION = "exec-cost"
T0 = 1_767_000_000_000_000_000  # ns
MS = 1_000_000


def price(model: str, provider: str | None, **tokens: int) -> float:
    return float(calc_price(Usage(**tokens), model, provider_id=provider).total_price)


#: The planted calls: (model, provider, input, output, cache read, reported cost).
CHAT1 = ("gpt-4o", "openai", 1000, 200, 400, None)
CHAT2 = ("gpt-4o", "openai", 2000, 100, 0, None)
SUB_CALL = ("claude-sonnet-4-5", "anthropic", 500, 50, 0, 0.0123)
REVIEWER_TOTAL = ("gpt-4o-mini", "openai", 300, 30, 0, None)

P1 = price("gpt-4o", "openai", input_tokens=1000, output_tokens=200, cache_read_tokens=400)
P2 = price("gpt-4o", "openai", input_tokens=2000, output_tokens=100)
P_SUB = 0.0123
P_REVIEWER = price("gpt-4o-mini", "openai", input_tokens=300, output_tokens=30)


def _store(folder: Path):
    return thread_store(folder / "obs.db", folder / "transcripts")


def planted(folder: Path) -> Path:
    store = _store(folder)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SqliteSpanExporter(store)))
    tracer = provider.get_tracer("planted")
    clock = iter(range(T0, T0 + 10_000 * MS, MS))

    def span(name: str, attrs: dict[str, Any], parent: Any = None):
        # A root without a parent, whatever an earlier test left current.
        ctx = trace.set_span_in_context(parent) if parent is not None else Context()
        return tracer.start_span(name, context=ctx, attributes=attrs, start_time=next(clock))

    def end(s: Any) -> None:
        s.end(end_time=next(clock))

    def chat(parent: Any, planted: tuple) -> None:
        model, prov, tin, tout, cache, _ = planted
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.provider.name": prov,
            "gen_ai.usage.input_tokens": tin,
            "gen_ai.usage.output_tokens": tout,
        }
        if cache:
            attrs["gen_ai.usage.cache_read.input_tokens"] = cache
        end(span(f"chat {model}", attrs, parent))

    def tool(parent: Any, name: str, call: str):
        return span(
            f"execute_tool {name}",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.id": call,
                "gen_ai.tool.call.arguments": "{}",
            },
            parent,
        )

    def agent(name: str, task: str, extra: dict[str, Any], parent: Any = None):
        attrs = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": name,
            "gen_ai.conversation.id": EXECUTION,
            "obs.task_id": task,
            **extra,
        }
        return span(f"invoke_agent {name}", attrs, parent)

    planner = agent("planner", "t1", {})
    chat(planner, CHAT1)
    task_tool = tool(planner, "Task", "call_sub")
    sub = agent("researcher", "t3", {}, task_tool)
    model, prov, tin, tout, _, cost = SUB_CALL
    end(
        span(
            "llm",
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": model,
                "llm.provider": prov,
                "llm.token_count.prompt": tin,
                "llm.token_count.completion": tout,
                "llm.cost.total": cost,
            },
            sub,
        )
    )
    for call in ("call_r1", "call_r2"):
        end(tool(sub, "read_file", call))
    end(sub)
    end(task_tool)
    chat(planner, CHAT2)
    end(tool(planner, "run_tests", "call_t1"))
    # The planner's run total: its calls (and its subagent's) already count it.
    planner.set_attributes(
        {"gen_ai.aggregated_usage.input_tokens": 3500, "gen_ai.aggregated_usage.output_tokens": 350}
    )
    end(planner)
    model, prov, tin, tout, _, _ = REVIEWER_TOTAL
    reviewer = agent(
        "reviewer",
        "t2",
        {
            "gen_ai.request.model": model,
            "gen_ai.provider.name": prov,
            "gen_ai.aggregated_usage.input_tokens": tin,
            "gen_ai.aggregated_usage.output_tokens": tout,
        },
    )
    end(tool(reviewer, "read_file", "call_v1"))
    end(reviewer)
    provider.shutdown()
    store.flush()
    store.close()
    return folder / "obs.db"


@pytest.fixture(scope="module")
def planted_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted(tmp_path_factory.mktemp("planted"))


def instances(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        ids = [r[0] for r in conn.execute("SELECT id FROM build_agent_instances")]
    finally:
        conn.close()
    (sub,) = [i for i in ids if i.endswith("/call_sub")]
    found = {"researcher": sub}
    for name in ("planner", "reviewer"):
        (found[name],) = [i for i in ids if i.startswith(name + "@") and "/" not in i]
    return found


def test_cost_by_agent_nests_subagents_and_counts_each_call_once(planted_db: Path) -> None:
    ids = instances(planted_db)
    assert ids["researcher"] == ids["planner"] + "/call_sub"
    with ObservabilitySkills(planted_db) as skills:
        by_agent = {r["instance_id"]: r for r in skills.cost_by_agent(EXECUTION)}
    assert list(by_agent) == [ids["planner"], ids["researcher"], ids["reviewer"]]
    planner, sub, reviewer = (by_agent[ids[n]] for n in ("planner", "researcher", "reviewer"))
    assert (planner["parent_instance_id"], planner["depth"]) == (None, 0)
    assert (sub["parent_instance_id"], sub["depth"]) == (ids["planner"], 1)
    assert planner["llm_calls"] == 2 and planner["usage_from"] == "calls"
    assert (planner["input_tokens"], planner["output_tokens"]) == (3000, 300)
    assert planner["cost_usd"] == pytest.approx(P1 + P2, abs=1e-6)
    assert planner["computed_cost_usd"] == pytest.approx(P1 + P2, abs=1e-6)
    assert planner["reported_cost_usd"] is None
    assert planner["cache_read_tokens"] == 400
    assert (sub["llm_calls"], sub["input_tokens"], sub["output_tokens"]) == (1, 500, 50)
    assert sub["reported_cost_usd"] == pytest.approx(P_SUB) and sub["computed_cost_usd"] is None
    # rolled up: the planner with its subagent, the run total of 3500 never added
    assert (planner["total_llm_calls"], planner["total_input_tokens"]) == (3, 3500)
    assert planner["total_output_tokens"] == 350
    assert planner["total_cost_usd"] == pytest.approx(P1 + P2 + P_SUB, abs=1e-6)
    assert reviewer["usage_from"] == "agent total" and reviewer["llm_calls"] == 0
    assert (reviewer["input_tokens"], reviewer["output_tokens"]) == (300, 30)
    assert reviewer["cost_usd"] == pytest.approx(P_REVIEWER, abs=1e-6)
    own = sum(r["cost_usd"] or 0 for r in by_agent.values())
    assert own == pytest.approx(P1 + P2 + P_SUB + P_REVIEWER, abs=1e-5)


def test_cost_by_task_and_by_model(planted_db: Path) -> None:
    with ObservabilitySkills(planted_db) as skills:
        by_task = {r["task_id"]: r for r in skills.cost_by_task(EXECUTION)}
        by_model = {r["model"]: r for r in skills.cost_by_model(EXECUTION)}
    assert set(by_task) == {"t1", "t2", "t3"}
    assert by_task["t1"]["cost_usd"] == pytest.approx(P1 + P2, abs=1e-6)
    assert by_task["t3"]["cost_usd"] == pytest.approx(P_SUB, abs=1e-6)
    assert by_task["t2"]["cost_usd"] == pytest.approx(P_REVIEWER, abs=1e-6)
    assert set(by_model) == {"gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini"}
    assert by_model["gpt-4o"]["llm_calls"] == 2
    assert by_model["gpt-4o"]["input_tokens"] == 3000
    assert by_model["gpt-4o"]["computed_cost_usd"] == pytest.approx(P1 + P2, abs=1e-6)
    assert by_model["claude-sonnet-4-5"]["reported_cost_usd"] == pytest.approx(P_SUB)
    assert by_model["gpt-4o-mini"]["cost_usd"] == pytest.approx(P_REVIEWER, abs=1e-6)


def test_cost_by_tool_use_is_the_deciding_calls_share(planted_db: Path) -> None:
    with ObservabilitySkills(planted_db) as skills:
        uses = {r["tool_use_id"]: r for r in skills.cost_by_tool_use(EXECUTION, limit=100)}
        tools = {r["tool"]: r for r in skills.cost_by_tool(EXECUTION)}
    # the reviewer's calls are not stored (only its run's total): its tool use has no row
    assert set(uses) == {"call_sub", "call_r1", "call_r2", "call_t1"}
    assert uses["call_sub"]["cost_usd"] == pytest.approx(P1, abs=1e-6)
    assert uses["call_t1"]["cost_usd"] == pytest.approx(P2, abs=1e-6)
    for call in ("call_r1", "call_r2"):
        assert uses[call]["tool_uses_decided"] == 2
        assert uses[call]["cost_usd"] == pytest.approx(P_SUB / 2, abs=1e-6)
        assert uses[call]["input_tokens"] == 250
    assert uses["call_r1"]["llm_call_id"] == uses["call_r2"]["llm_call_id"]
    assert tools["read_file"]["tool_uses"] == 3 and tools["read_file"]["decided_uses"] == 2
    assert tools["read_file"]["cost_usd"] == pytest.approx(P_SUB, abs=1e-6)
    assert tools["run_tests"]["cost_usd"] == pytest.approx(P2, abs=1e-6)


# --------------------------------------------------------------------------
# recordings of real frameworks
# --------------------------------------------------------------------------

#: The token attributes of a model call, by convention: (input, output).
TOKEN_KEYS = (
    ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"),
    ("llm.token_count.prompt", "llm.token_count.completion"),
)
WITH_USAGE = ("pydantic_ai", "pydantic_ai_concurrent", "smolagents_openai_model")
LLM_SPANS = {  # recordings whose model calls state no tokens: (calls, model)
    "adk": 2,
    "openai_agents": 3,
    "langchain_oi": 3,
    "langchain_openllmetry": 3,
}


def _attr(value: dict[str, Any]) -> Any:
    return next(iter(value.values()))


def _llm_spans(name: str) -> list[dict[str, Any]]:
    doc = json.loads(load_recording(name)[0])
    found = []
    for resource in doc["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for s in scope["spans"]:
                attrs = {a["key"]: _attr(a["value"]) for a in s.get("attributes", [])}
                if attrs.get("openinference.span.kind") == "LLM" or attrs.get(
                    "gen_ai.operation.name"
                ) in ("chat", "generate_content"):
                    found.append(attrs)
    return found


def _exported(name: str, folder: Path) -> Path:
    body, _ = load_recording(name)
    store = _store(folder)
    SqliteSpanExporter(store).export(records_of(parse_json(body)).records)
    store.flush()
    store.close()
    return folder / "obs.db"


def _calls(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT execution_id, instance_id, input_tokens, output_tokens FROM llm_calls"
            " WHERE kind = 'call'"
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("name", WITH_USAGE)
def test_recorded_usage_equals_the_spans_token_attributes(name: str, tmp_path: Path) -> None:
    spans = _llm_spans(name)
    expected_in = expected_out = 0
    for attrs in spans:
        keys = next(k for k in TOKEN_KEYS if k[0] in attrs)
        expected_in += int(attrs[keys[0]])
        expected_out += int(attrs[keys[1]])
    db = _exported(name, tmp_path)
    calls = _calls(db)
    assert len(calls) == len(spans)
    assert sum(r[2] for r in calls) == expected_in and sum(r[3] for r in calls) == expected_out
    assert all(r[1] for r in calls)  # every call has its agent run's instance
    # the agent spans' own totals are there too, and the tools count the calls once
    with ObservabilitySkills(db) as skills:
        executions = {r[0] for r in calls}
        agents = [a for e in executions for a in skills.cost_by_agent(e)]
    assert sum(a["input_tokens"] or 0 for a in agents) == expected_in
    assert sum(a["llm_calls"] for a in agents) == len(spans)


@pytest.mark.parametrize("name", sorted(LLM_SPANS))
def test_recorded_calls_without_tokens_are_stored(name: str, tmp_path: Path) -> None:
    db = _exported(name, tmp_path)
    calls = _calls(db)
    assert len(calls) == LLM_SPANS[name] == len(_llm_spans(name))
    assert all(r[1] for r in calls) and all(r[2] is None for r in calls)


def test_otel_obs_cost_totals_and_table(planted_db: Path) -> None:
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "otel_obs", "cost", *args, "--db", str(planted_db)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = cli(EXECUTION, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    total = answer["total"]
    assert total["llm_calls"] == 3 and total["input_tokens"] == 3000 + 500 + 300
    assert total["cost_usd"] == pytest.approx(P1 + P2 + P_SUB + P_REVIEWER, abs=1e-5)
    assert total["reported_cost_usd"] == pytest.approx(P_SUB)
    assert total["computed_cost_usd"] == pytest.approx(P1 + P2 + P_REVIEWER, abs=1e-5)
    assert len(answer["by_tool_use"]) == 4
    table = cli(EXECUTION)
    assert table.returncode == 0 and "By agent" in table.stdout and "gpt-4o" in table.stdout
    bad = cli(EXECUTION, "--top", "-1")
    assert bad.returncode == 2 and "-1" in bad.stderr


def test_the_report_shows_tokens_and_cost(planted_db: Path, tmp_path: Path) -> None:
    """The HTML report has the cost section: one row per agent (subagents nested), per model."""
    from otel_obs.report import build_report

    html = build_report(planted_db, EXECUTION)
    assert '<section id="cost"><h2>Tokens and cost</h2>' in html
    assert 'data-table="cost-by-agent" data-count="3"' in html
    with ObservabilitySkills(planted_db) as skills:
        models = len(skills.cost_by_model(EXECUTION))
    assert models >= 1 and f'data-table="cost-by-model" data-count="{models}"' in html


def test_diff_says_what_a_run_cost(planted_db: Path) -> None:
    """``otel-obs diff``'s cost is the planted calls' (and the run total used), each once."""
    from otel_obs.queries.diff import compare

    result = compare(planted_db, EXECUTION, EXECUTION)
    expected = P1 + P2 + P_SUB + P_REVIEWER
    assert result["cost_usd"][EXECUTION] == pytest.approx(expected, abs=1e-5)
    assert result["tokens"][EXECUTION] == 3000 + 300 + 500 + 50 + 300 + 30


@pytest.mark.parametrize(
    ("value", "stored"),
    [(2**70, float(2**70)), ("1e400", None), ("nan", None), (-5, None), ("12", 12)],
    ids=["beyond-64-bits", "overflow-text", "nan", "negative", "text"],
)
def test_odd_token_counts_and_a_huge_model_name_cost_no_other_row(
    tmp_path: Path, value: Any, stored: Any
) -> None:
    """A model call stating odd usage values is stored with what can be kept (an integer
    beyond 64 bits as the nearest real, as SQLite's INTEGER columns keep one; what is not a
    count as none), its model name capped; the agent's tool use in the same batch is
    stored too."""
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import set_span_in_context

    from otel_obs.exporters.exporter import SqliteSpanExporter
    from otel_obs.exporters.store_choice import thread_store

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("odd")
    agent = tracer.start_span(
        "invoke_agent builder",
        context=Context(),  # a root, whatever an earlier test left current
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "builder"},
    )
    inside = set_span_in_context(agent)
    tracer.start_span(
        "chat",
        context=inside,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m" * 1_000_000,
            "gen_ai.usage.input_tokens": value,
            "gen_ai.usage.output_tokens": 7,
        },
    ).end()
    tracer.start_span(
        "execute_tool ls",
        context=inside,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "ls",
            "gen_ai.tool.call.id": "call-1",
        },
    ).end()
    agent.end()
    store = thread_store(tmp_path / "obs.db", tmp_path / "t")
    SqliteSpanExporter(store).export(memory.get_finished_spans())
    assert store.flush()
    stats = store.stats()
    store.close()
    conn = sqlite3.connect(tmp_path / "obs.db")
    (calls,) = conn.execute("SELECT input_tokens, output_tokens, length(model) FROM llm_calls")
    tools = conn.execute("SELECT id FROM tool_uses").fetchall()
    conn.close()
    assert calls[0] == stored and calls[1] == 7
    assert calls[2] <= 1_100  # capped, saying how much was cut
    assert tools == [("call-1",)]
    assert stats["dropped_rows"] == 0 and stats["mapping_errors"] == 0
    assert stats["values_made_safe"] == 0  # made safe where it was read
