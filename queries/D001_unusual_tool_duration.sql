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
-- SQLite's sqrt() is an optional build feature, so none is needed: the test compares squares
-- (d - mean > 0 and (d - mean)^2 > sigmas^2 * variance, exact), and the stddev shown is found
-- by Newton's method in `roots`.
WITH calls AS (
    SELECT id, tool, task_id, start_time, duration_ms
    FROM tool_uses
    WHERE execution_id = :execution_id AND duration_ms IS NOT NULL
),
baseline AS (
    SELECT
        tool,
        AVG(duration_ms) AS mean_ms,
        -- population variance; MAX(0, ...) absorbs rounding below zero
        MAX(0.0, AVG(duration_ms * duration_ms) - AVG(duration_ms) * AVG(duration_ms))
            AS variance
    FROM calls
    GROUP BY tool
    HAVING COUNT(*) >= :min_calls
),
unusual AS (
    SELECT c.id, c.tool, c.task_id, c.start_time, c.duration_ms, b.mean_ms, b.variance
    FROM calls AS c
    JOIN baseline AS b ON b.tool = c.tool
    WHERE b.variance > 0
        AND c.duration_ms > b.mean_ms
        AND (c.duration_ms - b.mean_ms) * (c.duration_ms - b.mean_ms)
            > :sigmas * :sigmas * b.variance
),
roots(tool, variance, root, step) AS (
    -- Newton's method for sqrt(variance), from above: 64 steps reach full precision for
    -- any variance below 1e18 ms^2.
    SELECT tool, variance, MAX(variance, 1.0), 0
    FROM baseline
    WHERE tool IN (SELECT tool FROM unusual)
    UNION ALL
    SELECT tool, variance, (root + variance / root) / 2.0, step + 1
    FROM roots
    WHERE step < 64
),
stddev AS (
    SELECT tool, root AS stddev_ms FROM roots WHERE step = 64
)
SELECT
    u.id AS tool_use_id,
    u.tool,
    u.task_id,
    u.start_time,
    u.duration_ms,
    ROUND(u.mean_ms, 3) AS mean_ms,
    ROUND(s.stddev_ms, 3) AS stddev_ms,
    ROUND(u.mean_ms + :sigmas * s.stddev_ms, 3) AS threshold_ms,
    ROUND((u.duration_ms - u.mean_ms) / s.stddev_ms, 2) AS sigmas_above
FROM unusual AS u
JOIN stddev AS s ON s.tool = u.tool
ORDER BY (u.duration_ms - u.mean_ms) / s.stddev_ms DESC, u.id
