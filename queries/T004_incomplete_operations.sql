-- id: T004
-- title: Incomplete operations
-- family: troubleshooting
-- param: execution_id text
-- param: older_than_s float = 300
-- param: now timestamp = now
-- returns: kind, id, name, task_id, instance_id, started_at, age_s
-- purpose: Tool uses, skill traces, tasks and assertion chains that started and never ended,
--   at least `older_than_s` seconds before `now`, oldest first.
WITH open_operations AS (
    SELECT 'tool_use' AS kind, id, tool AS name, task_id, instance_id, start_time AS started_at
    FROM tool_uses
    WHERE execution_id = :execution_id AND result_status IS NULL AND end_time IS NULL
    UNION ALL
    SELECT 'skill', id, skill_name, task_id, instance_id, start_time
    FROM skill_traces
    WHERE execution_id = :execution_id AND end_time IS NULL
    UNION ALL
    -- a task that never started (pending) is not incomplete, only waiting
    SELECT 'task', id, title, id, instance_id, started_at
    FROM tasks
    WHERE execution_id = :execution_id AND started_at IS NOT NULL AND completed_at IS NULL
    UNION ALL
    SELECT 'assertion_chain', id, description, task_id, instance_id, start_time
    FROM assertion_chains
    WHERE execution_id = :execution_id AND end_time IS NULL
),
aged AS (
    SELECT *, (julianday(:now) - julianday(started_at)) * 86400.0 AS age_s
    FROM open_operations
)
SELECT kind, id, name, task_id, instance_id, started_at, ROUND(age_s, 3) AS age_s
FROM aged
WHERE age_s >= :older_than_s
ORDER BY julianday(started_at), started_at, kind, id
