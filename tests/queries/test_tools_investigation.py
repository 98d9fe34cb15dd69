"""Investigation tools I001–I007 on producer-built stores with known contents."""

from __future__ import annotations

import json

from otel_obs.queries.runner import ObservabilitySkills

# I001 -------------------------------------------------------------------


def test_i001_traces_a_task_in_order_with_tools_and_assertions(failing_chain):
    skills = ObservabilitySkills(failing_chain.db_path)
    rows = skills.trace_task(failing_chain.failed_task)
    assert {r["execution_id"] for r in rows} == {failing_chain.execution_id}
    sequences = [r["sequence"] for r in rows]
    assert sequences == sorted(sequences)
    assert rows[0]["entry_type"] == "task_start" and rows[-1]["entry_type"] == "task_end"
    assert [r["tool"] for r in rows if r["tool"]] == failing_chain.task_tools
    assert [r["assertion_result"] for r in rows if r["assertion_id"]] == (
        failing_chain.task_assertions
    )
    assert [r["assertion_id"] for r in rows if r["assertion_id"]] == failing_chain.assertion_ids
    # the dependent task's path holds only its own two entries
    other = skills.trace_task(failing_chain.blocked_task, failing_chain.execution_id)
    assert [r["entry_type"] for r in other] == ["task_start", "task_end"]


def test_i001_is_empty_for_an_unknown_task(failing_chain):
    skills = ObservabilitySkills(failing_chain.db_path)
    assert skills.trace_task("no-such-task") == []
    assert skills.trace_task(failing_chain.failed_task, execution_id="no-such-exec") == []


def test_i001_picks_the_latest_execution_of_a_repeated_task(regression):
    skills = ObservabilitySkills(regression.db_path)
    latest = skills.trace_task(regression.task_id)
    assert {r["execution_id"] for r in latest} == {regression.later_execution}
    earlier = skills.trace_task(regression.task_id, regression.earlier_execution)
    assert {r["execution_id"] for r in earlier} == {regression.earlier_execution}
    assert [r["assertion_result"] for r in earlier if r["assertion_id"]] == ["pass", "pass"]


# I002 -------------------------------------------------------------------


def test_i002_counts_tool_outcomes(failing_chain, clean_run):
    rows = ObservabilitySkills(failing_chain.db_path).tool_usage_stats(failing_chain.execution_id)
    got = {
        r["tool"]: (r["uses"], r["done_count"], r["error_count"], r["blocked_count"]) for r in rows
    }
    assert got == failing_chain.tool_outcomes
    for r in rows:
        uses, done = r["uses"], r["done_count"]
        assert r["success_rate"] == round(100.0 * done / uses, 1)
        assert r["max_duration_ms"] + 0.001 >= r["mean_duration_ms"] > 0  # mean: 3 decimals
    clean = ObservabilitySkills(clean_run.db_path).tool_usage_stats(clean_run.execution_id)
    assert {r["tool"]: r["uses"] for r in clean} == clean_run.tool_uses
    assert {r["success_rate"] for r in clean} == {100.0}


def test_i002_counts_blocked_uses(blocked_command):
    rows = ObservabilitySkills(blocked_command.db_path).tool_usage_stats(
        blocked_command.execution_id
    )
    bash = next(r for r in rows if r["tool"] == "Bash")
    assert (bash["uses"], bash["done_count"], bash["blocked_count"]) == (2, 1, 1)


def test_i002_is_empty_for_an_unknown_execution(clean_run):
    assert ObservabilitySkills(clean_run.db_path).tool_usage_stats("no-such-exec") == []


# I003 -------------------------------------------------------------------


def test_i003_names_the_skill_line_that_failed(failing_chain):
    rows = ObservabilitySkills(failing_chain.db_path).skill_patterns(failing_chain.execution_id)
    by_name = {r["skill_name"]: r for r in rows}
    assert set(by_name) == {failing_chain.failed_skill, failing_chain.succeeded_skill}
    failed = by_name[failing_chain.failed_skill]
    assert (failed["invocations"], failed["failed_count"], failed["success_rate"]) == (1, 1, 0.0)
    assert failed["failed_lines"] == failing_chain.failed_skill_line
    ok = by_name[failing_chain.succeeded_skill]
    assert (ok["success_count"], ok["success_rate"], ok["failed_lines"]) == (1, 100.0, None)


def test_i003_counts_partial_skills_and_is_empty_without_skills(blocked_command, error_cascade):
    rows = ObservabilitySkills(blocked_command.db_path).skill_patterns(blocked_command.execution_id)
    assert [(r["skill_name"], r["partial_count"]) for r in rows] == [
        (blocked_command.skill_name, 1)
    ]
    assert (
        ObservabilitySkills(error_cascade.db_path).skill_patterns(error_cascade.execution_id) == []
    )


# I004 -------------------------------------------------------------------


def test_i004_counts_accesses_and_errors_per_file_and_tool(failing_chain):
    skills = ObservabilitySkills(failing_chain.db_path)
    rows = skills.file_access(failing_chain.execution_id)
    got = {(r["file_path"], r["tool"]): (r["accesses"], r["errors"]) for r in rows}
    assert got == failing_chain.file_access
    assert {r["task_ids"] for r in rows} == {failing_chain.failed_task}
    assert len(skills.file_access(failing_chain.execution_id, limit=1)) == 1


def test_i004_is_empty_for_an_unknown_execution(failing_chain):
    assert ObservabilitySkills(failing_chain.db_path).file_access("no-such-exec") == []


# I005 -------------------------------------------------------------------


def test_i005_finds_events_by_correlation_or_by_one_of_them(failing_chain):
    skills = ObservabilitySkills(failing_chain.db_path)
    by_correlation = skills.related_events(correlation_id=failing_chain.failed_task)
    assert [r["id"] for r in by_correlation] == failing_chain.task_event_ids
    assert [r["event_type"] for r in by_correlation] == ["decision", "error"]
    by_event = skills.related_events(event_id=failing_chain.decision_id)
    assert by_event == by_correlation


def test_i005_is_empty_for_unknown_or_missing_ids(failing_chain):
    skills = ObservabilitySkills(failing_chain.db_path)
    assert skills.related_events(correlation_id="no-such-correlation") == []
    assert skills.related_events(event_id="no-such-event") == []
    assert skills.related_events() == []


# I006 -------------------------------------------------------------------


def test_i006_shows_the_decision_with_what_came_before(failing_chain):
    rows = ObservabilitySkills(failing_chain.db_path).decision_points(failing_chain.execution_id)
    assert len(rows) == 1
    row = rows[0]
    assert json.loads(row["options"]) == failing_chain.decision["options"]
    assert row["chosen"] == failing_chain.decision["chosen"]
    assert row["reasoning"] == failing_chain.decision["reasoning"]
    assert row["previous_entry_type"] == failing_chain.before_decision
    assert row["task_id"] == failing_chain.failed_task


def test_i006_is_empty_without_decisions(blocked_command):
    skills = ObservabilitySkills(blocked_command.db_path)
    assert skills.decision_points(blocked_command.execution_id) == []
    assert skills.decision_points("no-such-exec") == []


# I007 -------------------------------------------------------------------


def test_i007_shows_each_assertion_with_evidence_and_supporting_tool_use(failing_chain):
    rows = ObservabilitySkills(failing_chain.db_path).assertion_evidence(failing_chain.execution_id)
    assert [r["assertion_id"] for r in rows] == failing_chain.assertion_ids
    assert [r["result"] for r in rows] == failing_chain.task_assertions
    # assert_custom ran `true` / `false`: the evidence holds their exit codes
    exit_codes = [json.loads(r["evidence"])["exit_code"] for r in rows]
    assert exit_codes == [0 if result == "pass" else 1 for result in failing_chain.task_assertions]
    assert {r["tool_use_id"] for r in rows} == {failing_chain.supporting_tool_use_id}
    assert {r["tool"] for r in rows} == {"Read"}


def test_i007_is_empty_without_assertions(blocked_command):
    skills = ObservabilitySkills(blocked_command.db_path)
    assert skills.assertion_evidence(blocked_command.execution_id) == []
    assert skills.assertion_evidence("no-such-exec") == []


def test_i005_keeps_an_events_correlation_inside_its_execution(tmp_path):
    """Two executions reuse task T1 (the default correlation): an event finds only its own run."""
    from otel_obs import TranscriptEntry, TranscriptWriter

    db, transcripts = tmp_path / "obs.db", tmp_path / "transcripts"
    decisions = {}
    for execution in ("exec-1", "exec-2"):
        writer = TranscriptWriter(execution, "agent", db_path=db, transcripts_dir=transcripts)
        with writer.task("T1", "same task, two runs"):
            decisions[execution] = writer.write(
                TranscriptEntry(entry_type="decision", details={"options": ["a"], "chosen": "a"})
            )
        writer.close()
    skills = ObservabilitySkills(db)
    for execution, decision in decisions.items():
        rows = skills.related_events(event_id=decision)
        assert [(r["id"], r["execution_id"]) for r in rows] == [(decision, execution)]
    assert {r["id"] for r in skills.related_events(correlation_id="T1")} == set(decisions.values())
    scoped = skills.related_events(correlation_id="T1", execution_id="exec-2")
    assert [r["id"] for r in scoped] == [decisions["exec-2"]]
