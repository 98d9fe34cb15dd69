"""Troubleshooting tools T001–T006 on producer-built stores with known failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from otel_obs.queries.results import ErrorRecord, StuckOperation
from otel_obs.queries.runner import ObservabilitySkills


def at(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat()


# T001 -------------------------------------------------------------------


def test_t001_lists_errors_from_every_source_in_time_order(failing_chain):
    rows = ObservabilitySkills(failing_chain.db_path).all_errors(failing_chain.execution_id)
    assert [(r["source"], r["id"]) for r in rows] == failing_chain.errors_in_order
    by_id = {r["id"]: r for r in rows}
    assert by_id[failing_chain.first_error_tool_use_id]["name"] == "Bash"
    assert by_id[failing_chain.failing_assertion_id]["name"] == "tests_pass"
    assert by_id[failing_chain.error_entry_id]["message"] == "tests keep failing"
    assert all(r["task_id"] == failing_chain.failed_task for r in rows)
    # every error has its place in the transcript, ascending with time
    sequences = [r["sequence"] for r in rows]
    assert None not in sequences and sequences == sorted(sequences)


def test_t001_is_empty_for_a_clean_or_unknown_execution(clean_run):
    skills = ObservabilitySkills(clean_run.db_path)
    assert skills.all_errors(clean_run.execution_id) == []
    assert skills.all_errors("no-such-exec") == []


def test_find_errors_marks_only_the_first_error_as_root_cause(failing_chain):
    records = ObservabilitySkills(failing_chain.db_path).find_errors(failing_chain.execution_id)
    assert all(isinstance(r, ErrorRecord) for r in records)
    assert [r.is_root_cause for r in records] == [True] + [False] * (len(records) - 1)
    assert records[0].id == failing_chain.first_error_tool_use_id


def test_t001_counts_an_error_cascade(error_cascade):
    rows = ObservabilitySkills(error_cascade.db_path).all_errors(error_cascade.execution_id)
    assert [r["id"] for r in rows] == [
        *error_cascade.cascade_error_ids,
        error_cascade.lone_error_id,
    ]


# T002 -------------------------------------------------------------------


def test_t002_reports_the_blocked_command_with_reason_and_context(blocked_command):
    rows = ObservabilitySkills(blocked_command.db_path).find_blocked(blocked_command.execution_id)
    assert len(rows) == 1
    row = rows[0]
    assert row["tool_use_id"] == blocked_command.blocked_tool_use_id
    assert row["tool"] == "Bash"
    assert blocked_command.command in row["input_summary"]
    assert row["block_reason"] == blocked_command.reason
    assert row["task_id"] == blocked_command.task_id
    assert row["instance_id"] == blocked_command.instance_id
    assert row["skill_name"] == blocked_command.skill_name
    assert row["sequence"] is not None


def test_t002_is_empty_without_blocked_commands(clean_run, failing_chain):
    assert ObservabilitySkills(clean_run.db_path).find_blocked(clean_run.execution_id) == []
    assert ObservabilitySkills(failing_chain.db_path).find_blocked("no-such-exec") == []


# T003 -------------------------------------------------------------------


def test_t003_shows_the_first_error_and_the_entries_after_it(failing_chain):
    skills = ObservabilitySkills(failing_chain.db_path)
    rows = skills.first_error_context(failing_chain.execution_id)
    expected = failing_chain.entry_types_from_first_error
    assert [r["entry_type"] for r in rows] == expected[:6]  # the error and 5 more
    assert [r["is_first_error"] for r in rows] == [1, 0, 0, 0, 0, 0]
    assert "npm test" in rows[0]["summary"]
    sequences = [r["sequence"] for r in rows]
    assert sequences == list(range(sequences[0], sequences[0] + 6))
    wider = skills.first_error_context(failing_chain.execution_id, window=9)
    assert [r["entry_type"] for r in wider] == expected
    assert len(skills.first_error_context(failing_chain.execution_id, window=0)) == 1


def test_t003_is_empty_without_errors(clean_run):
    skills = ObservabilitySkills(clean_run.db_path)
    assert skills.first_error_context(clean_run.execution_id) == []
    assert skills.first_error_context("no-such-exec") == []


# T004 -------------------------------------------------------------------


def test_t004_lists_everything_left_open_with_its_age(stuck_agent):
    skills = ObservabilitySkills(stuck_agent.db_path)
    later = stuck_agent.built_at + 600
    operations = skills.find_incomplete(stuck_agent.execution_id, now=at(later))
    assert all(isinstance(op, StuckOperation) for op in operations)
    assert [(op.kind, op.id) for op in operations] == stuck_agent.open_operations
    for op in operations:
        assert op.instance_id == stuck_agent.stuck_instance
        assert op.task_id == stuck_agent.stuck_task
        assert 599.99 <= op.age_s < 605  # started just before built_at


def test_t004_waits_for_the_age_threshold(stuck_agent):
    skills = ObservabilitySkills(stuck_agent.db_path)
    soon = at(stuck_agent.built_at + 60)
    assert skills.incomplete_operations(stuck_agent.execution_id, now=soon) == []
    rows = skills.incomplete_operations(stuck_agent.execution_id, older_than_s=30, now=soon)
    assert len(rows) == len(stuck_agent.open_operations)


def test_t004_is_empty_when_everything_ended(clean_run):
    skills = ObservabilitySkills(clean_run.db_path)
    far = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    assert skills.find_incomplete(clean_run.execution_id, now=far) == []
    assert skills.find_incomplete("no-such-exec", now=far) == []


# T005 -------------------------------------------------------------------


def test_t005_finds_the_command_that_failed_twice(failing_chain):
    rows = ObservabilitySkills(failing_chain.db_path).repeated_failures(failing_chain.execution_id)
    assert [(r["tool"], r["target"], r["failures"]) for r in rows] == [
        ("Bash", failing_chain.repeated_command, failing_chain.repeated_count)
    ]
    assert rows[0]["task_ids"] == failing_chain.failed_task
    assert rows[0]["last_error"] == "2 tests failed"


def test_t005_is_empty_without_repeats(clean_run):
    assert ObservabilitySkills(clean_run.db_path).repeated_failures(clean_run.execution_id) == []
    assert ObservabilitySkills(clean_run.db_path).repeated_failures("no-such-exec") == []


# T006 -------------------------------------------------------------------


def test_t006_names_the_failed_dependency(failing_chain):
    rows = ObservabilitySkills(failing_chain.db_path).task_blockers(failing_chain.blocked_task)
    assert [
        (r["execution_id"], r["blocker_type"], r["blocker_task_id"], r["blocker_status"])
        for r in rows
    ] == [(failing_chain.execution_id, "dependency", failing_chain.failed_task, "failed")]


def test_t006_names_a_running_task_writing_the_same_file(wave_conflicts):
    skills = ObservabilitySkills(wave_conflicts.db_path)
    rows = skills.task_blockers(wave_conflicts.blocked_task, wave_conflicts.execution_id)
    assert [
        (r["blocker_type"], r["blocker_task_id"], r["blocker_status"], r["file_path"]) for r in rows
    ] == [("file_conflict", wave_conflicts.running_task, "in_progress", wave_conflicts.hot_file)]
    # finished tasks of wave 1 share a file but nothing runs any more
    assert skills.task_blockers("w-2") == []


def test_t006_is_empty_for_a_free_or_unknown_task(clean_run):
    skills = ObservabilitySkills(clean_run.db_path)
    dependent = next(iter(clean_run.depends_on))
    assert skills.task_blockers(dependent) == []  # its dependency completed
    assert skills.task_blockers("no-such-task") == []
    assert skills.task_blockers(dependent, execution_id="no-such-exec") == []
