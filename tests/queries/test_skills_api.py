"""ObservabilitySkills as the spec describes it: methods, typed reports, obs_* functions."""

from __future__ import annotations

import inspect
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

import otel_obs
from otel_obs.queries import runner as api
from otel_obs.queries.registry import load_tools
from otel_obs.queries.results import AnomalyReport, ParallelHealthReport, ValidationIssue
from otel_obs.queries.runner import ObservabilitySkills

#: One method per tool, named for what it answers.
METHOD_BY_TOOL = {
    "C001": "cost_by_agent",
    "C002": "cost_by_task",
    "C003": "cost_by_model",
    "C004": "cost_by_tool_use",
    "C005": "cost_by_tool",
    "V001": "sequence_integrity",
    "V002": "tool_use_linkage",
    "V003": "temporal_consistency",
    "V004": "lock_balance",
    "V005": "chain_completeness",
    "V006": "wave_task_counts",
    "V007": "foreign_key_integrity",
    "T001": "all_errors",
    "T002": "find_blocked",
    "T003": "first_error_context",
    "T004": "incomplete_operations",
    "T005": "repeated_failures",
    "T006": "task_blockers",
    "I001": "trace_task",
    "I002": "tool_usage_stats",
    "I003": "skill_patterns",
    "I004": "file_access",
    "I005": "related_events",
    "I006": "decision_points",
    "I007": "assertion_evidence",
    "A001": "execution_summary",
    "A002": "task_completion",
    "A003": "hourly_activity",
    "A004": "pass_rate_by_category",
    "A005": "duration_percentiles",
    "A006": "compare_executions",
    "P001": "wave_progress",
    "P002": "stuck_agents",
    "P003": "file_conflicts",
    "P004": "wave_efficiency",
    "P005": "find_wave_bottlenecks",
    "P006": "concurrent_overlaps",
    "P007": "agent_lifecycle",
    "D001": "unusual_durations",
    "D002": "error_cascades",
    "D003": "assertion_regressions",
    "D004": "activity_spikes",
    "D005": "orphaned_resources",
    "D006": "circular_waits",
}
SPEC_METHODS = (
    "validate",
    "find_errors",
    "find_blocked",
    "find_incomplete",
    "parallel_health",
    "find_wave_bottlenecks",
    "detect_anomalies",
    "execution_summary",
    "tool_usage_stats",
    "trace_task",
)


def test_every_tool_has_a_method_whose_parameters_match_the_tool():
    tools = load_tools()
    assert set(METHOD_BY_TOOL) == set(tools)
    for tool_id, name in METHOD_BY_TOOL.items():
        method = getattr(ObservabilitySkills, name)
        params = [p for p in inspect.signature(method).parameters if p != "self"]
        assert params == list(tools[tool_id].param_names), (tool_id, name)
    for name in SPEC_METHODS:
        assert callable(getattr(ObservabilitySkills, name))


def test_each_method_answers_like_run_by_id(failing_chain):
    skills = ObservabilitySkills(failing_chain.db_path)
    execution_id = failing_chain.execution_id
    assert skills.all_errors(execution_id) == skills.run("T001", execution_id=execution_id)
    assert skills.trace_task(failing_chain.failed_task) == skills.run(
        "I001", task_id=failing_chain.failed_task
    )
    assert (
        skills.execution_summary(execution_id) == skills.run("A001", execution_id=execution_id)[0]
    )


def test_tools_lists_ids_titles_families_and_parameters():
    listed = ObservabilitySkills.tools()
    assert len(listed) == 39 + 5  # the spec's 39 and the cost tools
    t003 = next(t for t in listed if t["id"] == "T003")
    assert t003["title"] == "First error and what followed"
    assert t003["family"] == "troubleshooting"
    assert t003["parameters"] == [
        {"name": "execution_id", "type": "text", "required": True, "default": None},
        {"name": "window", "type": "int", "required": False, "default": 5},
    ]


def test_run_refuses_unknown_tools_and_parameters(clean_run):
    skills = ObservabilitySkills(clean_run.db_path)
    with pytest.raises(ValueError, match="unknown tool id 'X123'.*valid ids: A001"):
        skills.run("X123")
    with pytest.raises(ValueError, match="needs parameter 'execution_id'"):
        skills.run("V001")
    with pytest.raises(ValueError, match="no parameter 'exec_id'"):
        skills.run("V001", exec_id=clean_run.execution_id)


def test_a_missing_database_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "observability.db"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        ObservabilitySkills(missing)


def test_the_default_database_comes_from_the_environment(clean_run, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(api.DB_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="database/observability.db"):
        ObservabilitySkills()
    monkeypatch.setenv(api.DB_ENV, str(clean_run.db_path))
    assert ObservabilitySkills().db_path == Path(clean_run.db_path)
    assert otel_obs.obs_validate(clean_run.execution_id) == []


def test_connections_are_read_only(clean_run):
    skills = ObservabilitySkills(clean_run.db_path)
    skills.run("V001", execution_id=clean_run.execution_id)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        skills._connection().execute("DELETE FROM tool_uses")
    skills.close()
    with sqlite3.connect(clean_run.db_path) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM tool_uses").fetchone()
    assert count == sum(clean_run.tool_uses.values())


def test_validate_returns_validation_issues(orphans):
    issues = ObservabilitySkills(orphans.db_path).validate(orphans.execution_id)
    assert issues and all(isinstance(i, ValidationIssue) for i in issues)
    assert issues[0].details["file_path"] == orphans.unreleased_lock


def test_parallel_health_is_healthy_for_a_clean_run(clean_run):
    report = ObservabilitySkills(clean_run.db_path).parallel_health(clean_run.execution_id)
    assert isinstance(report, ParallelHealthReport)
    assert report.is_healthy and report.issues == []
    assert [w["wave_number"] for w in report.wave_progress] == [1]


def test_parallel_health_names_conflicts_and_blocked_waves(wave_conflicts):
    # The run's agent w-5 is still running: with the default heartbeat it would read as
    # stuck once the session's store is two minutes old (stuck agents: the next test).
    report = ObservabilitySkills(wave_conflicts.db_path).parallel_health(
        wave_conflicts.execution_id, heartbeat_s=86_400
    )
    assert not report.is_healthy
    conflicts = {
        (c["wave_number"], c["file_path"], c["task_a"], c["task_b"]) for c in report.file_conflicts
    }
    assert conflicts == wave_conflicts.conflicts
    blocked_wave = wave_conflicts.waves[wave_conflicts.blocked_task]
    assert any(i.startswith(f"wave {blocked_wave}:") and "1 blocked" in i for i in report.issues)
    assert len(report.issues) == len(wave_conflicts.conflicts) + 1
    assert report.model_dump()["is_healthy"] is False


def test_parallel_health_names_a_stuck_agent(stuck_agent):
    later = datetime.fromtimestamp(stuck_agent.built_at + 600, timezone.utc)
    report = ObservabilitySkills(stuck_agent.db_path).parallel_health(
        stuck_agent.execution_id, now=later
    )
    assert [a["instance_id"] for a in report.stuck_agents] == [stuck_agent.stuck_instance]
    assert any(stuck_agent.stuck_instance in i for i in report.issues)


def test_detect_anomalies_reports_each_check(slow_tool, orphans, clean_run):
    slow = ObservabilitySkills(slow_tool.db_path).detect_anomalies(slow_tool.execution_id)
    assert isinstance(slow, AnomalyReport) and slow.has_anomalies
    assert [r["tool_use_id"] for r in slow.unusual_durations] == [slow_tool.slow_tool_use_id]
    leaks = ObservabilitySkills(orphans.db_path).detect_anomalies(orphans.execution_id)
    assert {r["resource_id"] for r in leaks.orphaned_resources} == {
        orphans.unreleased_lock,
        orphans.open_checkpoint,
    }
    clean = ObservabilitySkills(clean_run.db_path).detect_anomalies(clean_run.execution_id)
    assert not clean.has_anomalies


def test_execution_summary_is_a_dict_and_empty_for_an_unknown_id(clean_run):
    skills = ObservabilitySkills(clean_run.db_path)
    summary = skills.execution_summary(clean_run.execution_id)
    assert summary["execution_id"] == clean_run.execution_id
    assert summary["tool_uses"] == sum(clean_run.tool_uses.values())
    assert skills.execution_summary("no-such-exec") == {}


def test_obs_functions_take_a_db_path(failing_chain, slow_tool, clean_run):
    db = failing_chain.db_path
    errors = otel_obs.obs_errors(failing_chain.execution_id, db_path=db)
    assert errors[0].is_root_cause and errors[0].id == failing_chain.first_error_tool_use_id
    assert otel_obs.obs_validate(failing_chain.execution_id, db_path=db) == []
    summary = otel_obs.obs_summary(failing_chain.execution_id, db_path=db)
    assert summary["execution_id"] == failing_chain.execution_id
    assert otel_obs.obs_anomalies(slow_tool.execution_id, db_path=slow_tool.db_path).has_anomalies
    assert otel_obs.obs_parallel_health(
        clean_run.execution_id, db_path=clean_run.db_path
    ).is_healthy
