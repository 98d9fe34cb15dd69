-- id: I007
-- title: Assertion evidence
-- family: investigation
-- param: execution_id text
-- returns: assertion_id, task_id, chain_id, category, description, result, evidence,
--   tool_use_id, tool, tool_input, tool_status, timestamp
-- purpose: Each assertion with its evidence (JSON) and the tool use that supports it: the one
--   recorded with it, else the task's last tool use that started before the assertion.
WITH assertions AS (
    SELECT a.*,
           COALESCE(
               a.tool_use_id,
               (SELECT u.id
                FROM tool_uses AS u
                WHERE u.task_id = a.task_id
                  AND u.execution_id = a.execution_id
                  -- one timestamp format in the store, so text order is time order down
                  -- to the microsecond (julianday() stops at the millisecond)
                  AND u.start_time <= a.timestamp
                ORDER BY u.start_time DESC
                LIMIT 1)
           ) AS supporting_tool_use_id
    FROM assertion_results AS a
    WHERE a.execution_id = :execution_id
)
SELECT a.id AS assertion_id,
       a.task_id,
       a.chain_id,
       a.category,
       a.description,
       a.result,
       a.evidence,
       a.supporting_tool_use_id AS tool_use_id,
       u.tool,
       u.input_summary AS tool_input,
       u.result_status AS tool_status,
       a.timestamp
FROM assertions AS a
LEFT JOIN tool_uses AS u
    ON u.execution_id = :execution_id AND u.id = a.supporting_tool_use_id
ORDER BY julianday(a.timestamp), a.timestamp, a.id
