"""Validation tools V001–V007: quiet on producer-built stores, loud where an invariant breaks.

Broken stores are producer-built stores broken on purpose: either by the
scenario itself (a lock never released, a chain never ended) or by SQL on a
copy of the clean store, one invariant at a time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import scenarios

from otel_obs.queries.results import ValidationIssue
from otel_obs.queries.runner import ObservabilitySkills

V_TOOLS = ("V001", "V002", "V003", "V004", "V005", "V006", "V007")


def broken_copy(clean: scenarios.CleanRun, tmp_path: Path, *statements: str) -> ObservabilitySkills:
    """The clean store copied to ``tmp_path`` with ``statements`` applied to it."""
    db = scenarios.copy_store(clean.db_path, tmp_path / "broken.db")
    conn = sqlite3.connect(db)
    with conn:
        for statement in statements:
            assert conn.execute(statement).rowcount > 0, statement
    conn.close()
    return ObservabilitySkills(db)


def checks_of(issues: list[ValidationIssue]) -> set[str]:
    return {issue.check_id for issue in issues}


def test_a_clean_execution_validates_without_issues(clean_run):
    skills = ObservabilitySkills(clean_run.db_path)
    assert skills.validate(clean_run.execution_id) == []
    for tool_id in V_TOOLS:
        assert skills.run(tool_id, execution_id=clean_run.execution_id) == [], tool_id
    assert skills.foreign_key_integrity() == []  # the whole store


@pytest.mark.parametrize("tool_id", V_TOOLS)
def test_an_unknown_execution_gives_no_rows(clean_run, tool_id):
    assert ObservabilitySkills(clean_run.db_path).run(tool_id, execution_id="no-such-exec") == []


def test_every_failure_scenario_is_otherwise_consistent(
    failing_chain, blocked_command, error_cascade, slow_tool, dependency_cycle, regression
):
    """Failures of the agent's work are not failures of the record."""
    for facts, execution_id in (
        (failing_chain, failing_chain.execution_id),
        (blocked_command, blocked_command.execution_id),
        (error_cascade, error_cascade.execution_id),
        (slow_tool, slow_tool.execution_id),
        (dependency_cycle, dependency_cycle.execution_id),
        (regression, regression.later_execution),
    ):
        assert ObservabilitySkills(facts.db_path).validate(execution_id) == [], execution_id


def test_v001_finds_a_sequence_gap(clean_run, tmp_path):
    with sqlite3.connect(clean_run.db_path) as conn:
        (last,) = conn.execute(
            "SELECT MAX(sequence) FROM transcript_entries WHERE execution_id = ?",
            (clean_run.execution_id,),
        ).fetchone()
    broken = broken_copy(
        clean_run,
        tmp_path,
        f"UPDATE transcript_entries SET sequence = sequence + 100 "
        f"WHERE execution_id = '{clean_run.execution_id}' AND sequence = {last}",
    )
    rows = broken.sequence_integrity(clean_run.execution_id)
    # The last entry moved from `last` to `last + 100`: `last` .. `last + 99` are missing.
    assert rows == [{"issue": "gap", "from_sequence": last, "to_sequence": last + 99, "count": 100}]
    issues = broken.validate(clean_run.execution_id)
    assert checks_of(issues) == {"V001"}
    assert issues[0].severity == "error" and f"{last}..{last + 99}" in issues[0].description


def test_v001_finds_a_transcript_that_does_not_start_at_one(clean_run, tmp_path):
    broken = broken_copy(
        clean_run,
        tmp_path,
        f"DELETE FROM transcript_entries WHERE execution_id = '{clean_run.execution_id}' "
        "AND sequence = 1",
    )
    assert broken.sequence_integrity(clean_run.execution_id) == [
        {"issue": "gap", "from_sequence": 1, "to_sequence": 1, "count": 1}
    ]


def test_v002_finds_tool_uses_and_entries_without_their_counterpart(clean_run, tmp_path):
    unlinked, deleted = clean_run.tool_use_ids[0], clean_run.tool_use_ids[1]
    broken = broken_copy(
        clean_run,
        tmp_path,
        f"UPDATE tool_uses SET transcript_entry_id = NULL WHERE id = '{unlinked}'",
        f"DELETE FROM tool_uses WHERE id = '{deleted}'",
    )
    rows = broken.tool_use_linkage(clean_run.execution_id)
    assert {(r["tool_use_id"], r["problem"]) for r in rows} == {
        (unlinked, "no transcript entry recorded"),
        (deleted, "tool use missing for tool_use entry"),
    }
    assert "V002" in checks_of(broken.validate(clean_run.execution_id))


def test_v003_finds_rows_that_end_before_they_start(clean_run, tmp_path):
    tool_use = clean_run.tool_use_ids[2]
    broken = broken_copy(
        clean_run,
        tmp_path,
        f"UPDATE tool_uses SET end_time = '2000-01-01T00:00:00.000000Z' WHERE id = '{tool_use}'",
        "UPDATE tasks SET duration_ms = -5 WHERE id = 'clean-2'",
    )
    rows = broken.temporal_consistency(clean_run.execution_id)
    assert {(r["table_name"], r["row_id"]) for r in rows} == {
        ("tool_uses", tool_use),
        ("tasks", "clean-2"),
    }
    assert checks_of(broken.validate(clean_run.execution_id)) == {"V003"}


def test_v004_finds_a_lock_never_released(orphans):
    skills = ObservabilitySkills(orphans.db_path)
    assert skills.lock_balance(orphans.execution_id) == [
        {"file_path": orphans.unreleased_lock, "acquires": 1, "releases": 0, "balance": 1}
    ]
    issues = skills.validate(orphans.execution_id)
    assert [(i.check_id, i.severity) for i in issues] == [("V004", "warning")]
    assert orphans.unreleased_lock in issues[0].description


def test_v005_finds_a_chain_never_ended(stuck_agent):
    skills = ObservabilitySkills(stuck_agent.db_path)
    chain_id = dict(stuck_agent.open_operations)["assertion_chain"]
    rows = skills.chain_completeness(stuck_agent.execution_id)
    assert [(r["chain_id"], r["task_id"], r["assertion_count"]) for r in rows] == [
        (chain_id, stuck_agent.stuck_task, 0)
    ]
    assert "V005" in checks_of(skills.validate(stuck_agent.execution_id))


def test_v006_finds_a_wave_count_that_differs_from_its_assignments(clean_run, tmp_path):
    broken = broken_copy(
        clean_run,
        tmp_path,
        f"UPDATE parallel_execution_waves SET task_count = 5 "
        f"WHERE execution_id = '{clean_run.execution_id}' AND wave_number = 1",
    )
    assert broken.wave_task_counts(clean_run.execution_id) == [
        {"wave_number": 1, "recorded_count": 5, "assigned_count": len(clean_run.task_ids)}
    ]
    assert checks_of(broken.validate(clean_run.execution_id)) == {"V006"}


def test_v006_finds_assignments_to_a_wave_never_recorded(clean_run, tmp_path):
    broken = broken_copy(
        clean_run,
        tmp_path,
        f"UPDATE wave_task_assignments SET wave_number = 7 "
        f"WHERE execution_id = '{clean_run.execution_id}' AND task_id = 'clean-2'",
    )
    assert broken.wave_task_counts(clean_run.execution_id) == [
        {"wave_number": 1, "recorded_count": len(clean_run.task_ids), "assigned_count": 1},
        {"wave_number": 7, "recorded_count": None, "assigned_count": 1},
    ]


def test_v007_counts_broken_references_per_execution_and_store_wide(clean_run, tmp_path):
    broken = broken_copy(
        clean_run,
        tmp_path,
        "UPDATE assertion_results SET chain_id = 'no-such-chain'",
        f"UPDATE tool_uses SET within_skill = 'no-such-skill' "
        f"WHERE id = '{clean_run.tool_use_ids[0]}'",
    )
    expected = {
        ("assertion_results.chain_id -> assertion_chains.id", clean_run.assertion_count),
        ("tool_uses.within_skill -> skill_traces.id", 1),
    }
    rows = broken.foreign_key_integrity(clean_run.execution_id)
    assert {(r["relationship"], r["broken_count"]) for r in rows} == expected
    assert {(r["relationship"], r["broken_count"]) for r in broken.foreign_key_integrity()} == (
        expected
    )
    assert broken.foreign_key_integrity("no-such-exec") == []
    issues = broken.validate(clean_run.execution_id)
    assert checks_of(issues) == {"V007"} and len(issues) == 2
