-- id: I001
-- title: Task execution path
-- family: investigation
-- param: task_id text
-- param: execution_id text?
-- returns: execution_id, sequence, timestamp, entry_type, summary, tool_use_id, tool,
--   tool_status, tool_duration_ms, assertion_id, assertion_category, assertion_result
-- purpose: Everything a task did, in transcript order, with each entry's tool use and
--   assertion. Looks in the given execution, else in the latest execution that has the task.
WITH target AS (
    SELECT t.execution_id
    FROM tasks AS t
    LEFT JOIN task_list_execution_runs AS r ON r.id = t.execution_id
    WHERE t.id = :task_id
      AND (:execution_id IS NULL OR t.execution_id = :execution_id)
    ORDER BY julianday(COALESCE(r.started_at, t.started_at)) DESC
    LIMIT 1
)
SELECT e.execution_id,
       e.sequence,
       e.timestamp,
       e.entry_type,
       e.summary,
       u.id AS tool_use_id,
       u.tool,
       u.result_status AS tool_status,
       u.duration_ms AS tool_duration_ms,
       a.id AS assertion_id,
       a.category AS assertion_category,
       a.result AS assertion_result
FROM target AS x
JOIN transcript_entries AS e ON e.task_id = :task_id AND e.execution_id = x.execution_id
LEFT JOIN tool_uses AS u ON u.execution_id = e.execution_id AND u.id = e.tool_use_id
LEFT JOIN assertion_results AS a
    ON a.execution_id = e.execution_id AND a.transcript_entry_id = e.id
ORDER BY e.sequence
