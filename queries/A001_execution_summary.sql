-- id: A001
-- title: Execution summary
-- family: aggregation
-- param: execution_id text
-- returns: execution_id, task_list_id, status, started_at, ended_at, duration_ms, entries, tasks, tool_uses, tool_errors, blocked, error_entries, assertions_passed, assertions_failed, skills, skills_failed, errors
-- purpose: One row of headline numbers for an execution: how it ended, how long it took, how much happened and how much went wrong.

-- An execution exists when it has a run row or any transcript entry. The run row's status is
-- final once its execution span ended (completed_at set). Until then (or when no orchestrator
-- opened an execution span, so nothing will ever end it) the status comes from the agent
-- instances: 'running' while any is executing, 'failed' if any failed or was terminated,
-- 'completed' when all completed; with no agent rows it stays the run row's. ended_at is the
-- run's completed_at, else the last transcript entry. errors counts every error source once:
-- tool errors, error entries, failed assertions and failed skills (blocked tool uses are counted
-- apart, in blocked).
WITH run AS (
    SELECT id, task_list_id, status, started_at, completed_at
    FROM task_list_execution_runs
    WHERE id = :execution_id
),
entry_span AS (
    SELECT COUNT(*) AS entries, MIN(timestamp) AS first_at, MAX(timestamp) AS last_at
    FROM transcript_entries
    WHERE execution_id = :execution_id
),
known AS (
    SELECT :execution_id AS execution_id
    WHERE EXISTS (SELECT 1 FROM run) OR (SELECT entries FROM entry_span) > 0
),
tool_counts AS (
    SELECT
        COUNT(*) AS tool_uses,
        COALESCE(SUM(result_status = 'error'), 0) AS tool_errors,
        COALESCE(SUM(result_status = 'blocked'), 0) AS blocked
    FROM tool_uses
    WHERE execution_id = :execution_id
),
assertion_counts AS (
    SELECT
        COALESCE(SUM(result = 'pass'), 0) AS passed,
        COALESCE(SUM(result = 'fail'), 0) AS failed
    FROM assertion_results
    WHERE execution_id = :execution_id
),
skill_counts AS (
    SELECT COUNT(*) AS skills, COALESCE(SUM(status = 'failed'), 0) AS failed
    FROM skill_traces
    WHERE execution_id = :execution_id
),
agent_state AS (
    SELECT
        COALESCE(SUM(status = 'executing'), 0) AS executing,
        COALESCE(SUM(status IN ('failed', 'terminated')), 0) AS failed,
        COUNT(*) AS agents
    FROM build_agent_instances
    WHERE execution_id = :execution_id
),
summary AS (
    SELECT
        k.execution_id,
        (SELECT task_list_id FROM run) AS task_list_id,
        CASE
            WHEN (SELECT completed_at FROM run) IS NOT NULL THEN (SELECT status FROM run)
            WHEN a.executing > 0 THEN 'running'
            WHEN a.failed > 0 THEN 'failed'
            WHEN a.agents > 0 THEN 'completed'
            ELSE COALESCE((SELECT status FROM run), 'running')
        END AS status,
        COALESCE((SELECT started_at FROM run), e.first_at) AS started_at,
        COALESCE((SELECT completed_at FROM run), e.last_at) AS ended_at,
        e.entries,
        (SELECT COUNT(*) FROM tasks WHERE execution_id = :execution_id) AS tasks,
        t.tool_uses,
        t.tool_errors,
        t.blocked,
        (
            SELECT COUNT(*) FROM transcript_entries
            WHERE execution_id = :execution_id AND entry_type = 'error'
        ) AS error_entries,
        ac.passed AS assertions_passed,
        ac.failed AS assertions_failed,
        s.skills,
        s.failed AS skills_failed
    FROM known AS k, entry_span AS e, tool_counts AS t, assertion_counts AS ac,
        skill_counts AS s, agent_state AS a
)
SELECT
    execution_id,
    task_list_id,
    status,
    started_at,
    ended_at,
    ROUND((julianday(ended_at) - julianday(started_at)) * 86400000.0) AS duration_ms,
    entries,
    tasks,
    tool_uses,
    tool_errors,
    blocked,
    error_entries,
    assertions_passed,
    assertions_failed,
    skills,
    skills_failed,
    tool_errors + error_entries + assertions_failed + skills_failed AS errors
FROM summary
