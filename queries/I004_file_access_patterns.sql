-- id: I004
-- title: File access patterns
-- family: investigation
-- param: execution_id text
-- param: limit int = 50
-- returns: file_path, tool, accesses, errors, task_count, task_ids, first_access, last_access
-- purpose: Per file and tool: how often the file was touched, how many of those ended in
--   error, by which tasks, and when first and last; the busiest first, at most `limit` rows.
WITH accesses AS (
    -- ordered by the list of each file and tool's tasks (a list reads its rows in order)
    SELECT file_path, tool, task_id, result_status, start_time
    FROM tool_uses
    WHERE execution_id = :execution_id AND file_path IS NOT NULL
    ORDER BY file_path, tool, task_id
)
SELECT file_path,
       tool,
       COUNT(*) AS accesses,
       SUM(result_status = 'error') AS errors,
       COUNT(DISTINCT task_id) AS task_count,
       group_concat(DISTINCT task_id) AS task_ids,
       MIN(start_time) AS first_access,
       MAX(start_time) AS last_access
FROM accesses
GROUP BY file_path, tool
ORDER BY accesses DESC, file_path, tool
LIMIT :limit
