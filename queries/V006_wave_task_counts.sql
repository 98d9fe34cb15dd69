-- id: V006
-- title: Wave task counts
-- family: validation
-- param: execution_id text
-- returns: wave_number, recorded_count, assigned_count
-- purpose: Waves whose recorded task count (parallel_execution_waves.task_count) differs from
--   the number of their task assignments, including assignments to a wave with no wave row.
WITH assigned AS (
    SELECT wave_number, COUNT(*) AS assigned_count
    FROM wave_task_assignments
    WHERE execution_id = :execution_id
    GROUP BY wave_number
),
recorded AS (
    SELECT wave_number, task_count AS recorded_count
    FROM parallel_execution_waves
    WHERE execution_id = :execution_id
),
compared AS (
    SELECT r.wave_number, r.recorded_count, COALESCE(a.assigned_count, 0) AS assigned_count
    FROM recorded AS r LEFT JOIN assigned AS a USING (wave_number)
    UNION ALL
    -- assignments whose wave was never recorded
    SELECT a.wave_number, NULL, a.assigned_count
    FROM assigned AS a
    WHERE a.wave_number NOT IN (SELECT wave_number FROM recorded)
)
SELECT wave_number, recorded_count, assigned_count
FROM compared
WHERE recorded_count IS NULL OR recorded_count <> assigned_count
ORDER BY wave_number
