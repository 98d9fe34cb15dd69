"""Three frameworks run live, in process, through otel-obs's live processors.

The recordings (``tests/recordings``) are replayed through the exporter path and
OTLP in ``test_frameworks.py``; here the frameworks' own code runs on an otel-obs
pipeline's provider (fake models, no network), so the live path is checked against
the same truth: what each scenario asked its fake model and tools to do.
"""

from __future__ import annotations

import importlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from otel_obs.config import get_pipeline
from otel_obs.propagation import execution_scope

#: scenario module, the function, and the package it needs.
LIVE = {
    "pydantic_ai": ("recordings.record_pydantic_ai", "scenario", "pydantic_ai"),
    "pydantic_ai_concurrent": (
        "recordings.record_pydantic_ai",
        "scenario_concurrent",
        "pydantic_ai",
    ),
    "openai_agents": ("recordings.record_openai_agents", "scenario", "agents"),
    "smolagents": ("recordings.record_smolagents", "scenario", "smolagents"),
}


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def check_against_truth(db: Path, truth: dict[str, Any]) -> None:
    """The store holds what the scenario did: one instance per agent run, each tool call
    once on its run's instance with its arguments, outcome and output."""
    executions = rows(db, "SELECT id FROM task_list_execution_runs")
    assert len(executions) == truth["executions"], executions
    agents = rows(db, "SELECT id, status FROM build_agent_instances ORDER BY spawned_at")
    runs = truth["runs"]
    for name in {run["agent"] for run in runs}:
        named = [a for a in agents if re.fullmatch(rf"{re.escape(name)}@[0-9a-f]{{16}}", a["id"])]
        assert len(named) == sum(run["agent"] == name for run in runs), agents
        assert sorted(a["status"] for a in named) == sorted(
            run["status"] for run in runs if run["agent"] == name
        )
    tools = rows(db, "SELECT * FROM tool_uses")
    expected = [tool for run in runs for tool in run["tools"]]
    stored = [t for t in tools if any(t["tool"] == e["name"] for e in expected)]
    assert len(stored) == len(expected), [(t["tool"], t["input"]) for t in tools]
    instances = {a["id"] for a in agents}
    for want in expected:
        matches = [
            t
            for t in stored
            if t["tool"] == want["name"] and json.loads(t["input"]) == want["arguments"]
        ]
        assert len(matches) == 1, (want, [(t["tool"], t["input"]) for t in stored])
        got = matches[0]
        assert got["result_status"] == want["status"], (want, got)
        assert got["instance_id"] in instances, (got["instance_id"], instances)
        if "output_contains" in want:
            assert want["output_contains"] in (got["output"] or ""), got
        if "error_contains" in want:
            assert want["error_contains"] in (got["error_message"] or ""), got


@pytest.mark.parametrize("name", list(LIVE))
def test_framework_runs_live_into_the_store(tmp_path: Path, name: str) -> None:
    module_name, function, package = LIVE[name]
    pytest.importorskip(package)
    scenario = getattr(importlib.import_module(module_name), function)
    pipeline = get_pipeline(tmp_path / "obs.db", tmp_path / "transcripts")
    try:
        # Under our execution scope (baggage), as an orchestrator runs its workers: the
        # runs are one execution whatever conversations the framework names.
        with execution_scope(f"exec-{name}", pipeline=pipeline):
            truth = scenario(pipeline.provider)
        assert pipeline.flush(10)
    finally:
        pipeline.shutdown()
    check_against_truth(tmp_path / "obs.db", truth)
