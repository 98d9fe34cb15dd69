-- id: T005
-- title: Repeated failures
-- family: troubleshooting
-- param: execution_id text
-- returns: tool, target, failures, first_failure_at, last_failure_at, task_ids, last_error
-- purpose: Tool + file (or command) pairs that ended in error more than once: the agent
--   retrying the same thing without changing it.
WITH failures AS (
    SELECT tool,
           -- the file for file tools, else the command (inputs are capped, so guard the JSON)
           COALESCE(file_path,
                    CASE WHEN json_valid(input) THEN json_extract(input, '$.command') END,
                    input_summary) AS target,
           task_id,
           COALESCE(end_time, start_time) AS failed_at,
           COALESCE(error_message, output_summary) AS error
    FROM tool_uses
    WHERE execution_id = :execution_id AND result_status = 'error'
),
ranked AS (
    SELECT *,
           ROW_NUMBER() OVER (
               PARTITION BY tool, target ORDER BY julianday(failed_at) DESC, failed_at DESC
           ) AS newest_first
    FROM failures
    -- by tool and target, then the list of tasks (a list reads its rows in order)
    ORDER BY tool, target, task_id
)
SELECT tool,
       target,
       COUNT(*) AS failures,
       MIN(failed_at) AS first_failure_at,
       MAX(failed_at) AS last_failure_at,
       group_concat(DISTINCT task_id) AS task_ids,
       MAX(CASE WHEN newest_first = 1 THEN error END) AS last_error
FROM ranked
GROUP BY tool, target
HAVING COUNT(*) > 1
ORDER BY failures DESC, tool, target
