-- id: P005
-- title: Wave bottlenecks
-- family: parallel
-- param: execution_id text
-- param: top int = 3
-- returns: wave_number, rank, task_id, title, instance_id, status, duration_ms, wave_mean_ms, ratio_to_mean
-- purpose: The slowest finished tasks of each wave, the ones that held the wave up.

-- Up to `top` tasks per wave by duration, slowest first (ties by task id). Only tasks that
-- finished have a duration; ratio_to_mean compares each to the mean of its wave's finished tasks.
WITH finished AS (
    SELECT id, title, instance_id, status, wave_number, duration_ms
    FROM tasks
    WHERE execution_id = :execution_id
        AND wave_number IS NOT NULL
        AND duration_ms IS NOT NULL
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (PARTITION BY wave_number ORDER BY duration_ms DESC, id) AS rank,
        AVG(duration_ms) OVER (PARTITION BY wave_number) AS wave_mean_ms
    FROM finished
)
SELECT
    wave_number,
    rank,
    id AS task_id,
    title,
    instance_id,
    status,
    duration_ms,
    ROUND(wave_mean_ms, 3) AS wave_mean_ms,
    CASE WHEN wave_mean_ms > 0 THEN ROUND(duration_ms / wave_mean_ms, 2) END AS ratio_to_mean
FROM ranked
WHERE rank <= :top
ORDER BY wave_number, rank
