-- id: D001
-- title: Unusual tool duration
-- family: anomaly
-- param: execution_id text
-- param: sigmas float = 2.0
-- param: min_calls int = 3
-- returns: tool_use_id, tool, task_id, start_time, duration_ms, mean_ms, stddev_ms, threshold_ms, sigmas_above
-- purpose: Tool uses that took far longer than the other calls of the same tool in the execution.

-- Per tool, over the execution's finished calls: mean and POPULATION standard deviation
-- (divide by n: the calls are the whole execution, not a sample of it). A call is unusual when
-- its duration exceeds mean + sigmas * stddev and the tool has at least min_calls calls (fewer
-- give no baseline). The outlier is part of its own baseline, so a single outlier among n calls
-- can reach at most sqrt(n - 1) sigmas. sigmas_above is the call's z-score.
WITH calls AS (
    SELECT id, tool, task_id, start_time, duration_ms
    FROM tool_uses
    WHERE execution_id = :execution_id AND duration_ms IS NOT NULL
),
baseline AS (
    SELECT
        tool,
        COUNT(*) AS calls,
        AVG(duration_ms) AS mean_ms,
        -- population variance; MAX(0, ...) absorbs rounding below zero
        MAX(0.0, AVG(duration_ms * duration_ms) - AVG(duration_ms) * AVG(duration_ms))
            AS variance
    FROM calls
    GROUP BY tool
    HAVING COUNT(*) >= :min_calls
),
scored AS (
    SELECT
        c.id,
        c.tool,
        c.task_id,
        c.start_time,
        c.duration_ms,
        b.mean_ms,
        sqrt(b.variance) AS stddev_ms
    FROM calls AS c
    JOIN baseline AS b ON b.tool = c.tool
    WHERE b.variance > 0
)
SELECT
    id AS tool_use_id,
    tool,
    task_id,
    start_time,
    duration_ms,
    ROUND(mean_ms, 3) AS mean_ms,
    ROUND(stddev_ms, 3) AS stddev_ms,
    ROUND(mean_ms + :sigmas * stddev_ms, 3) AS threshold_ms,
    ROUND((duration_ms - mean_ms) / stddev_ms, 2) AS sigmas_above
FROM scored
WHERE duration_ms > mean_ms + :sigmas * stddev_ms
ORDER BY (duration_ms - mean_ms) / stddev_ms DESC, id
