-- id: A002
-- title: Task completion summary
-- family: aggregation
-- param: execution_id text
-- returns: status, task_count, percentage, task_ids
-- purpose: How the tasks of an execution ended, status by status, with the ids in each.

-- One row per task status present in the execution; percentage is of all its tasks.
-- task_ids is a comma-separated list in id order.
WITH execution_tasks AS (
    SELECT id, status
    FROM tasks
    WHERE execution_id = :execution_id
    ORDER BY status, id
),
totals AS (
    SELECT COUNT(*) AS total FROM execution_tasks
)
SELECT
    status,
    COUNT(*) AS task_count,
    ROUND(100.0 * COUNT(*) / (SELECT total FROM totals), 1) AS percentage,
    group_concat(id, ',') AS task_ids
FROM execution_tasks
GROUP BY status
ORDER BY task_count DESC, status
