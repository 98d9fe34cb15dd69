-- id: A006
-- title: Cross-execution comparison
-- family: aggregation
-- param: task_list_id text
-- param: limit int = 10
-- returns: execution_id, started_at, status, entries, tool_uses, errors, mean_tool_ms, assertions, pass_rate
-- purpose: How the runs of one task list compare: volume, errors, tool speed and assertion pass rate, oldest first.

-- Executions of the task list are ordered by their start; the latest `limit` of them are
-- returned, oldest first, so a trend reads top to bottom. status follows A001: the run row's
-- once its execution span ended, else from its agent instances. errors counts tool errors, error
-- entries, failed assertions and failed skills (as A001); pass_rate is the percentage of the
-- execution's assertions that passed (NULL when it has none).
WITH latest_runs AS (
    SELECT id, started_at, status, completed_at
    FROM task_list_execution_runs
    WHERE task_list_id = :task_list_id
    ORDER BY julianday(started_at) DESC
    LIMIT :limit
),
measured AS (
    SELECT
        r.id AS execution_id,
        r.started_at,
        CASE
            WHEN r.completed_at IS NOT NULL THEN r.status
            WHEN EXISTS (
                SELECT 1 FROM build_agent_instances AS b
                WHERE b.execution_id = r.id AND b.status = 'executing'
            ) THEN 'running'
            WHEN EXISTS (
                SELECT 1 FROM build_agent_instances AS b
                WHERE b.execution_id = r.id AND b.status IN ('failed', 'terminated')
            ) THEN 'failed'
            WHEN EXISTS (SELECT 1 FROM build_agent_instances AS b WHERE b.execution_id = r.id)
                THEN 'completed'
            ELSE r.status
        END AS status,
        (SELECT COUNT(*) FROM transcript_entries AS e WHERE e.execution_id = r.id) AS entries,
        (SELECT COUNT(*) FROM tool_uses AS t WHERE t.execution_id = r.id) AS tool_uses,
        (
            SELECT COUNT(*) FROM tool_uses AS t
            WHERE t.execution_id = r.id AND t.result_status = 'error'
        ) AS tool_errors,
        (
            SELECT COUNT(*) FROM transcript_entries AS e
            WHERE e.execution_id = r.id AND e.entry_type = 'error'
        ) AS error_entries,
        (
            SELECT COUNT(*) FROM skill_traces AS s
            WHERE s.execution_id = r.id AND s.status = 'failed'
        ) AS skills_failed,
        (
            SELECT AVG(t.duration_ms) FROM tool_uses AS t
            WHERE t.execution_id = r.id AND t.duration_ms IS NOT NULL
        ) AS mean_tool_ms,
        (SELECT COUNT(*) FROM assertion_results AS a WHERE a.execution_id = r.id) AS assertions,
        (
            SELECT COUNT(*) FROM assertion_results AS a
            WHERE a.execution_id = r.id AND a.result = 'pass'
        ) AS passed,
        (
            SELECT COUNT(*) FROM assertion_results AS a
            WHERE a.execution_id = r.id AND a.result = 'fail'
        ) AS failed
    FROM latest_runs AS r
)
SELECT
    execution_id,
    started_at,
    status,
    entries,
    tool_uses,
    tool_errors + error_entries + failed + skills_failed AS errors,
    ROUND(mean_tool_ms, 3) AS mean_tool_ms,
    assertions,
    CASE WHEN assertions > 0 THEN ROUND(100.0 * passed / assertions, 1) END AS pass_rate
FROM measured
ORDER BY julianday(started_at), execution_id
