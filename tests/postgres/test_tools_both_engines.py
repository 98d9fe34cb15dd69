"""Every SQL tool and every spec method answers the same on SQLite and on PostgreSQL.

The same rows (a demo store, a store of planted faults) on both engines; each
tool runs with every execution id, task id, task list, correlation and event
of the store (and without the optional ones), and the answers must be equal
exactly: the same rows in the same order, the same values of the same Python
types (``3`` is not ``3.0``; floats to the last bit).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pg_stores import Pair
from tool_answers import NOW, store_values, tool_calls, typed

from otel_obs.queries.jsonable import to_jsonable
from otel_obs.queries.registry import load_tools
from otel_obs.queries.runner import ObservabilitySkills


@pytest.mark.parametrize("tool_id", sorted(load_tools()))
def test_every_tool_answers_the_same_on_both_engines(pair: Pair, tool_id: str):
    lite, server = ObservabilitySkills(pair.sqlite), ObservabilitySkills(pair.url)
    try:
        ran = found = 0
        for tid, params in tool_calls(pair.sqlite):
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
        answered = {tid for tid, params in tool_calls(pair.sqlite) if lite.run(tid, **params)}
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
        for execution_id in store_values(pair.sqlite)["execution_id"]:
            for name in methods:
                accepts = inspect.signature(getattr(lite, name)).parameters
                kwargs: dict[str, Any] = {"now": NOW} if "now" in accepts else {}
                expected = to_jsonable(getattr(lite, name)(execution_id, **kwargs))
                answered = to_jsonable(getattr(server, name)(execution_id, **kwargs))
                assert typed(answered) == typed(expected), (name, execution_id)
        for task_id in store_values(pair.sqlite)["task_id"]:
            for name in ("trace_task", "task_blockers"):
                expected = getattr(lite, name)(task_id)
                assert typed(getattr(server, name)(task_id)) == typed(expected), (name, task_id)


def test_the_module_functions_answer_the_same(pair: Pair):
    from otel_obs.queries import runner

    execution_id = store_values(pair.sqlite)["execution_id"][0]
    for function in ("obs_validate", "obs_errors", "obs_parallel_health", "obs_anomalies"):
        expected = to_jsonable(getattr(runner, function)(execution_id, db_path=pair.sqlite))
        answered = to_jsonable(getattr(runner, function)(execution_id, db_path=pair.url))
        assert typed(answered) == typed(expected), function
    summary = runner.obs_summary(execution_id, db_path=pair.url)
    assert typed(summary) == typed(runner.obs_summary(execution_id, db_path=pair.sqlite))
