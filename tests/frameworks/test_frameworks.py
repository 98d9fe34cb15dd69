"""Spans recorded from real agent frameworks land in the store as the scenario ran.

Every recording in ``tests/recordings/`` (``<name>.json``, made by the framework's own
code, and ``<name>.truth.json``, what its scenario did by construction) is replayed
two ways: decoded with ``otel-obs serve``'s own decoder and exported through the
exporter into a store, and posted over OTLP/HTTP to a real ``otel-obs serve``. Each
store must hold what the truth says: the executions, one agent instance per run
(``<agent>@<span id>``) with the run's status, and every tool call once, on its run's
instance, with its name, arguments, status, output or error. And the two stores must
hold the same rows.

What a framework does not put on its spans cannot be stored; those gaps are listed
below (:data:`NO_CALL_ID`, :data:`NO_CALL_ID_WHEN_RAISED`, :data:`NO_ARGUMENT_NAMES`,
:data:`NO_CONTENT`, :data:`EXECUTIONS_STATED`), each
with its reason, and the test checks what is knowable instead.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from ingest_support import Served, table_rows
from recordings.otlp_file import HERE, load_recording

from otel_obs.exporters.exporter import SqliteSpanExporter
from otel_obs.exporters.store_choice import thread_store
from otel_obs.ingest.decode import parse_json, records_of

RECORDINGS = sorted(p.name[: -len(".truth.json")] for p in HERE.glob("*.truth.json"))

#: Recordings whose tool spans carry no call id: their tool uses are keyed by span id.
NO_CALL_ID = {
    "openai_agents": "the call ids are only on the LLM spans, not on the tool spans",
    "smolagents": "a custom model: no LLM span, and the tool spans carry no call id",
    "smolagents_openai_model": "the call ids are only on the LLM spans, not the tool spans",
    "traceloop": "no model: the agent function calls the tools, there are no call ids",
}
#: Recordings where a tool that raised has no call id on its span: with OpenInference,
#: LangChain's id is only in the ToolMessage (the TOOL span's output), which a raising
#: tool never returns (OpenLLMetry states it in the span's input: it is read there);
#: ADK reads the id from the call's response, which a raising tool has not, and states
#: ``<not specified>`` (the id is only in the model's output messages, and not at all
#: with content capture off).
NO_CALL_ID_WHEN_RAISED = {"langchain_oi_raise", "langchain_oi_middleware", "adk", "adk_nocontent"}
#: Recordings whose tool input is the argument's value, not the arguments by name:
#: OpenInference's LangChain instrumentation records the tool's input string.
NO_ARGUMENT_NAMES = {
    "langchain_oi": "input.value is the tool's input string, without argument names",
    "langchain_oi_raise": "input.value is the tool's input string, without argument names",
    "langchain_oi_middleware": "input.value is the tool's input string, without argument names",
}
#: Recordings whose tool spans carry neither arguments nor results: the tool uses are
#: found by name, and their outputs are not checked.
NO_CONTENT = {
    "adk_nocontent": "ADK's content capture is off by default: no arguments or results",
}
#: Recordings whose spans state more executions than the scenario had: pydantic-ai gives
#: each run a conversation id of its own unless one is passed, and a conversation the
#: spans state is an execution (their common root span, the script's, states none).
EXECUTIONS_STATED = {"pydantic_ai_concurrent": 2}
AGENT_STATUS = {"completed": "completed", "failed": "failed"}
SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
#: The tables a replay fills (the rest stay empty or hold serve's own bookkeeping).
COMPARED = ("task_list_execution_runs", "build_agent_instances", "tool_uses", "transcript_entries")


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def through_exporter(name: str, folder: Path) -> Path:
    """The recording decoded as ``serve`` decodes it and exported into a store."""
    body, _ = load_recording(name)
    decoded = records_of(parse_json(body))
    db = folder / "exported.db"
    store = thread_store(db, folder / "transcripts")
    SqliteSpanExporter(store).export(decoded.records)
    store.flush()
    store.close()
    return db


def through_serve(name: str, folder: Path) -> Path:
    """The recording posted as it is (OTLP/JSON) to a real ``otel-obs serve``."""
    body, _ = load_recording(name)
    served = Served(folder / "served.db")
    try:
        answer = requests.post(
            served.http, data=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert answer.ok, answer.text
        served.stop()
    finally:
        served.kill()
    return served.db


def check_against_truth(name: str, db: Path, truth: dict[str, Any]) -> None:
    executions = rows(db, "SELECT id FROM task_list_execution_runs")
    assert len(executions) == EXECUTIONS_STATED.get(name, truth["executions"]), executions
    instances = rows(db, "SELECT id, status, error FROM build_agent_instances")
    runs = truth["runs"]
    assert len(instances) == len(runs), instances  # one instance per run, no other
    tools = rows(
        db,
        "SELECT id, instance_id, tool, input, output, result_status, error_message FROM tool_uses",
    )
    assert len(tools) == sum(len(run["tools"]) for run in runs), tools
    seen_instances: set[str] = set()
    for run in runs:
        run_instances = set()
        for expected in run["tools"]:
            row = find_tool(name, tools, expected)
            run_instances.add(row["instance_id"])
            check_tool(name, row, expected)
        assert len(run_instances) == 1, (run, run_instances)  # the run's tools share it
        (instance_id,) = run_instances
        assert instance_id not in seen_instances  # concurrent runs are two instances
        seen_instances.add(instance_id)
        assert instance_id.startswith(f"{run['agent']}@"), instance_id
        instance = next(i for i in instances if i["id"] == instance_id)
        assert instance["status"] == AGENT_STATUS[run["status"]], instance


def find_tool(name: str, tools: list[dict[str, Any]], expected: dict[str, Any]) -> dict:
    """The one stored tool use of an expected call: by name and arguments."""
    found = [t for t in tools if t["tool"] == expected["name"] and same_input(name, t, expected)]
    assert len(found) == 1, (expected, tools)
    return found[0]


def same_input(name: str, row: dict[str, Any], expected: dict[str, Any]) -> bool:
    stored = json.loads(row["input"]) if row["input"] is not None else None
    if name in NO_CONTENT:
        return stored is None
    if name in NO_ARGUMENT_NAMES:  # what is knowable: the values
        values = list(expected["arguments"].values())
        return stored == (values[0] if len(values) == 1 else values)
    return stored == expected["arguments"]


def check_tool(name: str, row: dict[str, Any], expected: dict[str, Any]) -> None:
    if name in NO_CALL_ID or (name in NO_CALL_ID_WHEN_RAISED and expected["status"] == "error"):
        assert SPAN_ID.match(row["id"]), row  # keyed by its span
    else:
        assert row["id"] == expected["call_id"], row
    assert row["result_status"] == expected["status"], row
    if name in NO_CONTENT:
        assert row["output"] is None, row
    elif "output_contains" in expected:
        assert expected["output_contains"] in (row["output"] or ""), row
    if "error_contains" in expected:
        assert expected["error_contains"] in (row["error_message"] or ""), row
    else:
        assert row["error_message"] is None, row


@pytest.mark.parametrize("name", RECORDINGS)
def test_recording_lands_as_it_ran_both_ways(name: str, tmp_path: Path) -> None:
    _, truth = load_recording(name)
    exported = through_exporter(name, tmp_path)
    check_against_truth(name, exported, truth)
    served = through_serve(name, tmp_path)
    check_against_truth(name, served, truth)
    mine, theirs = table_rows(exported), table_rows(served)
    for table in COMPARED:
        assert mine[table] == theirs[table], table  # the same rows both ways
