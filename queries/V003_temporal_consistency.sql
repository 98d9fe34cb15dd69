-- id: V003
-- title: Temporal consistency
-- family: validation
-- param: execution_id text
-- returns: table_name, row_id, start_time, end_time, duration_ms
-- purpose: Timed rows (tool uses, skill traces, tasks, assertion chains) whose end precedes
--   their start or whose duration is negative.
WITH timed AS (
    SELECT 'tool_uses' AS table_name, id AS row_id, start_time, end_time, duration_ms
    FROM tool_uses WHERE execution_id = :execution_id
    UNION ALL
    SELECT 'skill_traces', id, start_time, end_time, duration_ms
    FROM skill_traces WHERE execution_id = :execution_id
    UNION ALL
    SELECT 'tasks', id, started_at, completed_at, duration_ms
    FROM tasks WHERE execution_id = :execution_id
    UNION ALL
    SELECT 'assertion_chains', id, start_time, end_time, duration_ms
    FROM assertion_chains WHERE execution_id = :execution_id
)
SELECT table_name, row_id, start_time, end_time, duration_ms
FROM timed
WHERE duration_ms < 0
   OR (end_time IS NOT NULL AND julianday(end_time) < julianday(start_time))
ORDER BY table_name, julianday(start_time), start_time, row_id
