"""Every SQL tool and every spec method answers the same on SQLite and on PostgreSQL.

The same rows (a demo store, a store of planted faults) on both engines; each
tool runs with every execution id, task id, task list, correlation and event
of the store (and without the optional ones), and the answers must be equal
exactly: the same rows in the same order, the same values of the same Python
types (``3`` is not ``3.0``; floats to the last bit).
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from pg_stores import Pair

from otel_obs.queries.jsonable import to_jsonable
from otel_obs.queries.registry import load_tools
from otel_obs.queries.runner import ObservabilitySkills

NOW = "2031-06-01T00:00:00.000000Z"


def _values(db: Any) -> dict[str, list[Any]]:
    conn = sqlite3.connect(db)
    try:

        def column(sql: str) -> list[Any]:
            return [r[0] for r in conn.execute(sql)]

        return {
            "execution_id": column("SELECT id FROM task_list_execution_runs ORDER BY id"),
            "task_list_id": column(
                "SELECT DISTINCT task_list_id FROM task_list_execution_runs"
                " WHERE task_list_id IS NOT NULL ORDER BY 1"
            ),
            "task_id": column("SELECT DISTINCT id FROM tasks ORDER BY id LIMIT 12"),
            "correlation_id": column(
                "SELECT DISTINCT correlation_id FROM message_bus_log"
                " WHERE correlation_id IS NOT NULL ORDER BY 1 LIMIT 4"
            ),
            "event_id": column("SELECT id FROM message_bus_log ORDER BY id LIMIT 4"),
        }
    finally:
        conn.close()


def calls(pair: Pair) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every tool with every value of its parameters the store holds (and None if optional)."""
    values = _values(pair.sqlite)
    for tool in load_tools().values():
        combos: list[dict[str, Any]] = [{}]
        for param in tool.params:
            if param.name == "now":
                choices: list[Any] = [NOW]
            elif param.name in values:
                choices = list(values[param.name])
                if not param.required:
                    choices.append(None)
            else:
                continue  # a window or threshold: its default
            combos = [{**c, param.name: v} for c in combos for v in choices]
        for combo in combos:
            yield tool.id, combo


def typed(value: Any) -> Any:
    """``value`` with each number's type beside it, so ``3`` and ``3.0`` differ."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [typed(v) for v in value]
    if isinstance(value, bool | int | float):
        return (type(value).__name__, value)
    return value


@pytest.mark.parametrize("tool_id", sorted(load_tools()))
def test_every_tool_answers_the_same_on_both_engines(pair: Pair, tool_id: str):
    lite, server = ObservabilitySkills(pair.sqlite), ObservabilitySkills(pair.url)
    try:
        ran = found = 0
        for tid, params in calls(pair):
            if tid != tool_id:
                continue
            expected = lite.run(tid, **params)
            answered = server.run(tid, **params)
            assert typed(answered) == typed(expected), (tid, params)
            ran += 1
            found += len(expected)
        assert ran, f"{tool_id} never ran"
    finally:
        lite.close()
        server.close()


def test_the_stores_make_most_tools_find_something(pair: Pair):
    # Equal answers are only worth something when there is something to answer.
    with ObservabilitySkills(pair.sqlite) as lite:
        answered = {tid for tid, params in calls(pair) if lite.run(tid, **params)}
    assert len(answered) >= (44 if pair.name == "faults" else 25), sorted(
        set(load_tools()) - answered
    )


def spec_methods() -> list[str]:
    """Every public method of ObservabilitySkills that diagnoses one execution."""
    names = []
    for name, member in inspect.getmembers(ObservabilitySkills, inspect.isfunction):
        params = list(inspect.signature(member).parameters)
        if not name.startswith("_") and params[1:2] == ["execution_id"]:
            names.append(name)
    return names


def test_every_spec_method_answers_the_same_on_both_engines(pair: Pair):
    methods = spec_methods()
    assert {"validate", "find_errors", "parallel_health", "detect_anomalies"} <= set(methods)
    assert len(methods) >= 40, methods
    with ObservabilitySkills(pair.sqlite) as lite, ObservabilitySkills(pair.url) as server:
        for execution_id in _values(pair.sqlite)["execution_id"]:
            for name in methods:
                accepts = inspect.signature(getattr(lite, name)).parameters
                kwargs: dict[str, Any] = {"now": NOW} if "now" in accepts else {}
                expected = to_jsonable(getattr(lite, name)(execution_id, **kwargs))
                answered = to_jsonable(getattr(server, name)(execution_id, **kwargs))
                assert typed(answered) == typed(expected), (name, execution_id)
        for task_id in _values(pair.sqlite)["task_id"]:
            for name in ("trace_task", "task_blockers"):
                expected = getattr(lite, name)(task_id)
                assert typed(getattr(server, name)(task_id)) == typed(expected), (name, task_id)


def test_the_module_functions_answer_the_same(pair: Pair):
    from otel_obs.queries import runner

    execution_id = _values(pair.sqlite)["execution_id"][0]
    for function in ("obs_validate", "obs_errors", "obs_parallel_health", "obs_anomalies"):
        expected = to_jsonable(getattr(runner, function)(execution_id, db_path=pair.sqlite))
        answered = to_jsonable(getattr(runner, function)(execution_id, db_path=pair.url))
        assert typed(answered) == typed(expected), function
    summary = runner.obs_summary(execution_id, db_path=pair.url)
    assert typed(summary) == typed(runner.obs_summary(execution_id, db_path=pair.sqlite))
