"""Aggregation tools A001–A006 on stores recorded through the real producers.

Expected values follow from what ``scenarios_parallel`` records (and the
timeline it moves the records to), not from the tools' own output.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import scenarios_parallel as sp

from otel_obs.queries.runner import ObservabilitySkills


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[sp.Store, sp.AggregationFacts]]:
    store = sp.Store.at(tmp_path_factory.mktemp("aggregation"))
    facts = sp.build_aggregation(store)
    sp.build_regressions(store)
    sp.build_clean(store)
    yield store, facts
    store.close()


@pytest.fixture(scope="module")
def store(built: tuple[sp.Store, sp.AggregationFacts]) -> sp.Store:
    return built[0]


@pytest.fixture(scope="module")
def skills(store: sp.Store) -> Iterator[ObservabilitySkills]:
    with ObservabilitySkills(store.db_path) as skills:
        yield skills


def _raw(db_path: Path, sql: str, *params: object) -> list[tuple]:
    """Plain reads of the stored rows, to check a tool against its inputs."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _ms_between(start: str, end: str) -> float:
    parse = datetime.fromisoformat
    return (
        parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))
    ).total_seconds() * 1000


UNKNOWN = {"execution_id": "no-such-execution"}


# A001 ---------------------------------------------------------------------


def test_a001_summary_counts_each_outcome_once(skills, store):
    (row,) = skills.run("A001", execution_id=sp.AGGREGATION_EXECUTION)
    # 10 Reads + failing Bash + blocked Bash + Grep; one error entry; 3 passes and
    # 2 failures; skills gen (success) and lint (failed).
    assert row["execution_id"] == sp.AGGREGATION_EXECUTION
    assert row["task_list_id"] == "list-agg"
    assert row["tasks"] == 5
    assert row["tool_uses"] == 13
    assert row["tool_errors"] == 1
    assert row["blocked"] == 1
    assert row["error_entries"] == 1
    assert row["assertions_passed"] == 3
    assert row["assertions_failed"] == 2
    assert row["skills"] == 2
    assert row["skills_failed"] == 1
    # tool error + error entry + 2 failed assertions + failed skill; blocked is apart
    assert row["errors"] == 5


def test_a001_status_and_duration(skills, store):
    (row,) = skills.run("A001", execution_id=sp.AGGREGATION_EXECUTION)
    # No orchestrator ended the run; its only agent closed normally.
    assert row["status"] == "completed"
    ((entries, last_at),) = _raw(
        store.db_path,
        "SELECT COUNT(*), MAX(timestamp) FROM transcript_entries WHERE execution_id = ?",
        sp.AGGREGATION_EXECUTION,
    )
    assert row["entries"] == entries
    assert row["started_at"].startswith("2026-03-02T10:")
    assert row["ended_at"] == last_at and last_at.startswith("2026-03-02T11:")
    assert row["duration_ms"] == pytest.approx(_ms_between(row["started_at"], last_at), abs=1)


def test_a001_takes_the_run_status_once_the_execution_span_ended(skills):
    (row,) = skills.run("A001", execution_id=sp.CLEAN_EXECUTION)
    assert row["status"] == "completed"
    assert row["errors"] == 0 and row["blocked"] == 0 and row["assertions_failed"] == 0
    assert row["ended_at"] is not None


def test_a001_unknown_execution_is_empty(skills):
    assert skills.run("A001", **UNKNOWN) == []
    assert skills.execution_summary("no-such-execution") == {}


# A002 ---------------------------------------------------------------------


def test_a002_tasks_by_status(skills):
    rows = skills.run("A002", execution_id=sp.AGGREGATION_EXECUTION)
    assert rows == [
        {"status": "completed", "task_count": 2, "percentage": 40.0, "task_ids": "A-1,A-5"},
        {"status": "blocked", "task_count": 1, "percentage": 20.0, "task_ids": "A-3"},
        {"status": "failed", "task_count": 1, "percentage": 20.0, "task_ids": "A-2"},
        {"status": "skipped", "task_count": 1, "percentage": 20.0, "task_ids": "A-4"},
    ]


def test_a002_unknown_execution_is_empty(skills):
    assert skills.run("A002", **UNKNOWN) == []


# A003 ---------------------------------------------------------------------


def test_a003_activity_per_hour(skills, store, built):
    boundary = built[1].second_hour_from
    ((first_hour_entries,),) = _raw(
        store.db_path,
        "SELECT COUNT(*) FROM transcript_entries WHERE execution_id = ? AND sequence < ?",
        sp.AGGREGATION_EXECUTION,
        boundary,
    )
    ((all_entries,),) = _raw(
        store.db_path,
        "SELECT COUNT(*) FROM transcript_entries WHERE execution_id = ?",
        sp.AGGREGATION_EXECUTION,
    )
    rows = skills.run("A003", execution_id=sp.AGGREGATION_EXECUTION)
    assert rows == [
        # task A-1: ten Reads and three passing assertions
        {
            "hour": "2026-03-02T10:00:00Z",
            "events": first_hour_entries,
            "tool_uses": 10,
            "errors": 0,
            "assertions": 3,
        },
        # A-2 … A-5: Bash error + error entry + 2 failed assertions + failed skill
        {
            "hour": "2026-03-02T11:00:00Z",
            "events": all_entries - first_hour_entries,
            "tool_uses": 3,
            "errors": 5,
            "assertions": 2,
        },
    ]


def test_a003_unknown_execution_is_empty(skills):
    assert skills.run("A003", **UNKNOWN) == []


# A004 ---------------------------------------------------------------------


def test_a004_pass_rate_by_category_worst_first(skills):
    rows = skills.run("A004", execution_id=sp.AGGREGATION_EXECUTION)
    assert rows == [
        {"category": "lint_passes", "total": 1, "pass": 0, "fail": 1, "skip": 0, "warn": 0,
         "pass_rate": 0.0},
        {"category": "tests_pass", "total": 2, "pass": 1, "fail": 1, "skip": 0, "warn": 0,
         "pass_rate": 50.0},
        {"category": "file_created", "total": 2, "pass": 2, "fail": 0, "skip": 0, "warn": 0,
         "pass_rate": 100.0},
    ]  # fmt: skip


def test_a004_unknown_execution_is_empty(skills):
    assert skills.run("A004", **UNKNOWN) == []


# A005 ---------------------------------------------------------------------


def test_a005_nearest_rank_percentiles(skills):
    rows = {r["tool"]: r for r in skills.run("A005", execution_id=sp.AGGREGATION_EXECUTION)}
    assert set(rows) == {"Read", "Bash", "Grep"}
    # Reads: 10, 20 … 100 ms. Nearest rank: p50 = 5th value, p90 = 9th,
    # p99 = 10th (ceil(9.9)); interpolation would give 55 and 91.
    assert rows["Read"] == {
        "tool": "Read", "calls": 10, "p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 100.0,
        "max_ms": 100.0,
    }  # fmt: skip
    # Bash: 5 and 7 ms: p50 = 1st value (ceil(1.0)), p90 = 2nd (ceil(1.8)).
    assert (rows["Bash"]["calls"], rows["Bash"]["p50_ms"], rows["Bash"]["p90_ms"]) == (2, 5.0, 7.0)
    assert rows["Grep"]["calls"] == 1
    assert rows["Grep"]["p50_ms"] == rows["Grep"]["p99_ms"] == rows["Grep"]["max_ms"] == 40.0


def test_a005_unknown_execution_is_empty(skills):
    assert skills.run("A005", **UNKNOWN) == []


# A006 ---------------------------------------------------------------------


def test_a006_compares_the_runs_of_one_task_list_oldest_first(skills):
    rows = skills.run("A006", task_list_id=sp.REGRESSION_LIST)
    # reg-1: 2 Reads (10, 30 ms); lint fails. reg-2: Read 40 ms + failing Bash
    # 60 ms; three assertions fail. reg-3: no tools; both assertions fail.
    summary = [
        (r["execution_id"], r["status"], r["tool_uses"], r["errors"], r["mean_tool_ms"],
         r["assertions"], r["pass_rate"])
        for r in rows
    ]  # fmt: skip
    assert summary == [
        ("reg-1", "completed", 2, 1, 20.0, 3, 66.7),
        ("reg-2", "completed", 2, 4, 50.0, 4, 25.0),
        ("reg-3", "completed", 0, 2, None, 2, 0.0),
    ]
    assert [r["started_at"] for r in rows] == [sp.at(9), sp.at(11), sp.at(12)]
    for row in rows:
        ((entries,),) = _raw(
            skills.db_path,
            "SELECT COUNT(*) FROM transcript_entries WHERE execution_id = ?",
            row["execution_id"],
        )
        assert row["entries"] == entries


def test_a006_limit_keeps_the_latest_runs(skills):
    rows = skills.run("A006", task_list_id=sp.REGRESSION_LIST, limit=2)
    assert [r["execution_id"] for r in rows] == ["reg-2", "reg-3"]


def test_a006_unknown_task_list_is_empty(skills):
    assert skills.run("A006", task_list_id="no-such-list") == []


# the shared scenarios (conftest) ------------------------------------------------


def test_a001_a002_on_the_shared_clean_run(clean_run):
    with ObservabilitySkills(clean_run.db_path) as skills:
        (summary,) = skills.run("A001", execution_id=clean_run.execution_id)
        statuses = skills.run("A002", execution_id=clean_run.execution_id)
    assert summary["task_list_id"] == clean_run.task_list_id
    assert summary["status"] == "completed"
    assert summary["tasks"] == len(clean_run.task_ids)
    assert summary["tool_uses"] == sum(clean_run.tool_uses.values())
    assert summary["assertions_passed"] == clean_run.assertion_count
    assert (summary["skills"], summary["errors"], summary["blocked"]) == (1, 0, 0)
    assert statuses == [
        {
            "status": "completed",
            "task_count": len(clean_run.task_ids),
            "percentage": 100.0,
            "task_ids": ",".join(sorted(clean_run.task_ids)),
        }
    ]


def test_a005_tail_of_the_shared_slow_tool(slow_tool):
    with ObservabilitySkills(slow_tool.db_path) as skills:
        rows = {r["tool"]: r for r in skills.run("A005", execution_id=slow_tool.execution_id)}
    read = rows[slow_tool.tool]
    calls = slow_tool.fast_calls + 1
    assert read["calls"] == calls
    # With ten calls, p90 is the 9th fastest (a fast one) and p99 the 10th (the slow one).
    assert read["p90_ms"] < slow_tool.slow_ms <= read["p99_ms"] == read["max_ms"]
    assert slow_tool.fast_ms <= read["p50_ms"] < slow_tool.slow_ms


def test_a006_orders_the_shared_regression_runs_by_start(regression):
    with ObservabilitySkills(regression.db_path) as skills:
        rows = skills.run("A006", task_list_id=regression.task_list_id)
    assert [(r["execution_id"], r["assertions"], r["pass_rate"]) for r in rows] == [
        (regression.earlier_execution, 2, 100.0),
        (regression.later_execution, 2, 50.0),
    ]
