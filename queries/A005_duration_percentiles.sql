-- id: A005
-- title: Duration percentiles
-- family: aggregation
-- param: execution_id text
-- returns: tool, calls, p50_ms, p90_ms, p99_ms, max_ms
-- purpose: How long each tool takes: median, tail and worst case over the execution's finished calls.

-- Nearest-rank percentiles: with the n durations of a tool sorted ascending, the p-th percentile
-- is the value at rank ceil(p * n / 100) (1-based), i.e. an observed duration, never an
-- interpolation. ceil is done in integers: (p * n + 99) / 100. Calls still running (no
-- duration) are left out.
WITH ranked AS (
    SELECT
        tool,
        duration_ms,
        ROW_NUMBER() OVER (PARTITION BY tool ORDER BY duration_ms) AS position,
        COUNT(*) OVER (PARTITION BY tool) AS calls
    FROM tool_uses
    WHERE execution_id = :execution_id AND duration_ms IS NOT NULL
)
SELECT
    tool,
    calls,
    MAX(CASE WHEN position = (50 * calls + 99) / 100 THEN duration_ms END) AS p50_ms,
    MAX(CASE WHEN position = (90 * calls + 99) / 100 THEN duration_ms END) AS p90_ms,
    MAX(CASE WHEN position = (99 * calls + 99) / 100 THEN duration_ms END) AS p99_ms,
    MAX(duration_ms) AS max_ms
FROM ranked
GROUP BY tool, calls
ORDER BY p90_ms DESC, tool
