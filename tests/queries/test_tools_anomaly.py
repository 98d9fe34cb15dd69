"""Anomaly tools D001–D006 on stores recorded through the real producers.

Each situation is recorded by ``scenarios_parallel`` (a slow Read among
steady ones, a burst of errors, leaked locks and checkpoints, a busy minute,
an assertion that regresses between runs of a task list, tasks waiting on
each other in a circle) next to a clean execution that must show none of it.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator

import pytest
import scenarios_parallel as sp

from otel_obs.queries.runner import ObservabilitySkills

UNKNOWN = {"execution_id": "no-such-execution"}
CLEAN = {"execution_id": sp.CLEAN_EXECUTION}


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[sp.Store, sp.AnomalyFacts]]:
    store = sp.Store.at(tmp_path_factory.mktemp("anomaly"))
    facts = sp.build_anomalies(store)
    sp.build_spike(store)
    sp.build_regressions(store)
    sp.build_cycles(store)
    sp.build_clean(store)
    yield store, facts
    store.close()


@pytest.fixture(scope="module")
def store(built: tuple[sp.Store, sp.AnomalyFacts]) -> sp.Store:
    return built[0]


@pytest.fixture(scope="module")
def facts(built: tuple[sp.Store, sp.AnomalyFacts]) -> sp.AnomalyFacts:
    return built[1]


@pytest.fixture(scope="module")
def skills(store: sp.Store) -> Iterator[ObservabilitySkills]:
    with ObservabilitySkills(store.db_path) as skills:
        yield skills


# D001 ---------------------------------------------------------------------


def _population_stats(values: tuple[float, ...]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def test_d001_flags_the_call_far_slower_than_its_tool(skills, facts):
    rows = skills.run("D001", execution_id=sp.ANOMALY_EXECUTION)
    mean, stddev = _population_stats(sp.SLOW_READS)  # 19 and 27
    assert rows == [
        {
            "tool_use_id": facts.slow_read,
            "tool": "Read",
            "task_id": "D-1",
            "start_time": rows[0]["start_time"],
            "duration_ms": 100.0,
            "mean_ms": mean,
            "stddev_ms": stddev,
            "threshold_ms": mean + 2 * stddev,
            "sigmas_above": round((100.0 - mean) / stddev, 2),
        }
    ]
    assert (mean, stddev) == (19.0, 27.0)


def test_d001_uses_the_population_stddev_and_a_strict_threshold(skills, facts):
    # z = 3.0 with the population stddev (2.85 with the sample one): 2.9 still flags it,
    # 3.0 puts the threshold exactly at 100 ms, which is not slower.
    flagged = skills.run("D001", execution_id=sp.ANOMALY_EXECUTION, sigmas=2.9)
    assert [r["tool_use_id"] for r in flagged] == [facts.slow_read]
    assert skills.run("D001", execution_id=sp.ANOMALY_EXECUTION, sigmas=3.0) == []


def test_d001_needs_min_calls_for_a_baseline(skills):
    # Read has 10 calls; Bash (1 ms and 500 ms) only 2, so it is never judged.
    assert skills.run("D001", execution_id=sp.ANOMALY_EXECUTION, min_calls=11) == []
    rows = skills.run("D001", execution_id=sp.ANOMALY_EXECUTION, min_calls=2, sigmas=0.9)
    assert {r["tool"] for r in rows} == {"Read", "Grep", "Bash"}


def test_d001_nothing_unusual_in_a_clean_execution(skills):
    assert skills.run("D001", **CLEAN) == []
    assert skills.run("D001", **UNKNOWN) == []


# D002 ---------------------------------------------------------------------


def test_d002_finds_the_cascade_and_ignores_the_short_run(skills, store, facts):
    rows = skills.run("D002", execution_id=sp.ANOMALY_EXECUTION)
    assert len(rows) == 1
    (cascade,) = rows
    # error entry, failed Bash, failed assertion, error entry
    assert cascade["cascade"] == 1
    assert cascade["errors"] == 4
    assert cascade["first_sequence"] == store.sequence_of(facts.cascade_first)
    assert cascade["last_sequence"] == store.sequence_of(facts.cascade_last)
    assert set(cascade["sources"].split(",")) == {"error", "tool", "assertion"}
    assert cascade["task_ids"] == "D-2"
    assert cascade["first_at"] <= cascade["last_at"]


def test_d002_thresholds_are_parameters(skills, store, facts):
    rows = skills.run("D002", execution_id=sp.ANOMALY_EXECUTION, min_errors=2)
    first, second = (store.sequence_of(e) for e in facts.pair)
    assert [(r["first_sequence"], r["last_sequence"], r["errors"]) for r in rows][1:] == [
        (first, second, 2)
    ]
    # The pair lies 4 entries apart: a gap of 3 splits it (and the cascade, whose
    # errors are never more than 3 apart, stays whole).
    assert second - first == 4
    rows = skills.run("D002", execution_id=sp.ANOMALY_EXECUTION, min_errors=2, gap=3)
    assert [r["errors"] for r in rows] == [4]
    assert skills.run("D002", execution_id=sp.ANOMALY_EXECUTION, gap=0) == []


def test_d002_no_cascade_in_a_clean_execution(skills):
    assert skills.run("D002", **CLEAN) == []
    assert skills.run("D002", **UNKNOWN) == []


# D003 ---------------------------------------------------------------------


def test_d003_an_assertion_that_passed_last_run_and_fails_now(skills):
    # reg-1 passed "unit tests"; reg-2 fails it. "lint" failed both times (old
    # failure); "new check" has no history; other-1 belongs to another list.
    rows = skills.run("D003", execution_id="reg-2")
    assert [
        (r["task_id"], r["category"], r["description"], r["previous_execution_id"]) for r in rows
    ] == [("R-1", "tests_pass", "unit tests", "reg-1")]


def test_d003_compares_with_the_latest_earlier_run(skills):
    # reg-3: "unit tests" failed in reg-2 too (not a regression again); "readme"
    # passed in reg-2 and fails now.
    rows = skills.run("D003", execution_id="reg-3")
    assert [(r["category"], r["description"], r["previous_execution_id"]) for r in rows] == [
        ("file_created", "readme", "reg-2")
    ]


def test_d003_first_run_and_clean_runs_have_no_regressions(skills):
    assert skills.run("D003", execution_id="reg-1") == []
    assert skills.run("D003", execution_id="other-1") == []
    assert skills.run("D003", **CLEAN) == []
    assert skills.run("D003", **UNKNOWN) == []


# D004 ---------------------------------------------------------------------


def test_d004_finds_the_busy_minute(skills):
    rows = skills.run("D004", execution_id=sp.SPIKE_EXECUTION)
    mean = sum(sp.SPIKE_MINUTES) / len(sp.SPIKE_MINUTES)  # 18 entries over 4 minutes
    assert rows == [
        {
            "minute": "2026-03-02T10:02:00Z",
            "events": 12,
            "mean_per_minute": mean,
            "ratio": round(12 / mean, 2),
        }
    ]


def test_d004_factor_is_a_parameter(skills):
    # 12 > 2 x 4.5 but not > 3 x 4.5
    assert skills.run("D004", execution_id=sp.SPIKE_EXECUTION, factor=3.0) == []


def test_d004_no_spike_in_a_clean_execution(skills):
    # clean-1 lasts well under a minute or two: no minute can exceed twice the mean.
    assert skills.run("D004", **CLEAN) == []
    assert skills.run("D004", **UNKNOWN) == []


# D005 ---------------------------------------------------------------------


def test_d005_unreleased_locks_and_unsettled_checkpoints(skills, store, facts):
    rows = skills.run("D005", execution_id=sp.ANOMALY_EXECUTION)
    assert [
        (r["resource_type"], r["resource_id"], r["instance_id"], r["sequence"]) for r in rows
    ] == [
        (kind, resource, instance, store.sequence_of(entry))
        for kind, resource, instance, entry in facts.orphans
    ]
    # the second acquire of src/a.py by anom-w is the one never released
    assert rows[0]["detail"] == "2 acquired, 1 released"


def test_d005_nothing_orphaned_in_a_clean_execution(skills):
    assert skills.run("D005", **CLEAN) == []
    assert skills.run("D005", **UNKNOWN) == []


# D006 ---------------------------------------------------------------------


def test_d006_dependency_cycles_with_their_path(skills):
    rows = skills.run("D006", execution_id=sp.CYCLE_EXECUTION)
    assert rows == [
        {
            "execution_id": sp.CYCLE_EXECUTION,
            "cycle_start": "C-a",
            "cycle_length": 3,
            "path": "C-a -> C-b -> C-c -> C-a",
            "tasks_in_group": 3,
        },
        {
            "execution_id": sp.CYCLE_EXECUTION,
            "cycle_start": "C-x",
            "cycle_length": 2,
            "path": "C-x -> C-y -> C-x",
            "tasks_in_group": 2,
        },
    ]


def test_d006_without_an_execution_searches_the_whole_store(skills):
    rows = skills.run("D006")
    assert [(r["execution_id"], r["cycle_start"]) for r in rows] == [
        (sp.CYCLE_EXECUTION, "C-a"),
        (sp.CYCLE_EXECUTION, "C-x"),
    ]
    short = skills.run("D006", execution_id=sp.CYCLE_EXECUTION, max_length=2)
    assert [r["path"] for r in short] == ["C-x -> C-y -> C-x"]


def test_d006_no_cycle_in_a_clean_execution(skills):
    assert skills.run("D006", **CLEAN) == []
    assert skills.run("D006", **UNKNOWN) == []


# the combined report ----------------------------------------------------------


def test_detect_anomalies_is_empty_for_a_clean_execution(skills):
    report = skills.detect_anomalies(sp.CLEAN_EXECUTION)
    assert not report.has_anomalies
    assert skills.detect_anomalies(sp.ANOMALY_EXECUTION).has_anomalies


# the shared scenarios (conftest) ------------------------------------------------


def test_d001_finds_the_slow_call_of_the_shared_scenario(slow_tool):
    # Real sleeps: nine Reads of ~10 ms and one of ~100 ms (z close to 3).
    with ObservabilitySkills(slow_tool.db_path) as skills:
        rows = skills.run("D001", execution_id=slow_tool.execution_id)
    assert [(r["tool_use_id"], r["tool"]) for r in rows] == [
        (slow_tool.slow_tool_use_id, slow_tool.tool)
    ]
    assert rows[0]["duration_ms"] >= slow_tool.slow_ms


def test_d002_finds_the_cascade_of_the_shared_scenario(error_cascade):
    with ObservabilitySkills(error_cascade.db_path) as skills:
        rows = skills.run("D002", execution_id=error_cascade.execution_id)
    conn = sqlite3.connect(error_cascade.db_path)
    try:
        sequences = [
            conn.execute(
                "SELECT sequence FROM transcript_entries WHERE id = ?", (entry_id,)
            ).fetchone()[0]
            for entry_id in error_cascade.cascade_error_ids
        ]
    finally:
        conn.close()
    # The four errors in a row; the late error lies beyond the quiet tool uses,
    # a run of one, not reported.
    assert [
        (r["first_sequence"], r["last_sequence"], r["errors"], r["sources"], r["task_ids"])
        for r in rows
    ] == [(sequences[0], sequences[-1], len(sequences), "error", error_cascade.task_id)]


def test_d003_finds_the_regression_of_the_shared_scenario(regression):
    with ObservabilitySkills(regression.db_path) as skills:
        rows = skills.run("D003", execution_id=regression.later_execution)
        assert skills.run("D003", execution_id=regression.earlier_execution) == []
    assert [
        (
            r["task_id"],
            r["category"],
            r["description"],
            r["assertion_id"],
            r["previous_execution_id"],
            r["previous_assertion_id"],
        )
        for r in rows
    ] == [
        (
            regression.task_id,
            regression.category,
            regression.description,
            regression.later_assertion_id,
            regression.earlier_execution,
            regression.earlier_assertion_id,
        )
    ]


def test_d005_finds_the_orphans_of_the_shared_scenario(orphans):
    with ObservabilitySkills(orphans.db_path) as skills:
        rows = skills.run("D005", execution_id=orphans.execution_id)
    assert [(r["resource_type"], r["resource_id"], r["instance_id"]) for r in rows] == [
        ("lock", orphans.unreleased_lock, orphans.instance_id),
        ("checkpoint", orphans.open_checkpoint, orphans.instance_id),
    ]


def test_d006_finds_the_cycle_of_the_shared_scenario(dependency_cycle):
    with ObservabilitySkills(dependency_cycle.db_path) as skills:
        rows = skills.run("D006", execution_id=dependency_cycle.execution_id)
    # Walk the declared dependencies from the smallest task of the cycle.
    start = min(dependency_cycle.cycle)
    path, node = [start], dependency_cycle.depends_on[start][0]
    while node != start:
        path.append(node)
        node = dependency_cycle.depends_on[node][0]
    assert [(r["cycle_start"], r["cycle_length"], r["path"]) for r in rows] == [
        (start, len(dependency_cycle.cycle), " -> ".join([*path, start]))
    ]
    assert dependency_cycle.outside not in rows[0]["path"]


def test_anomaly_tools_are_quiet_on_the_shared_clean_run(clean_run):
    with ObservabilitySkills(clean_run.db_path) as skills:
        assert not skills.detect_anomalies(clean_run.execution_id).has_anomalies
