-- id: A003
-- title: Hourly activity
-- family: aggregation
-- param: execution_id text
-- returns: hour, events, tool_uses, errors, assertions
-- purpose: What an execution did hour by hour: transcript entries, tool uses, errors, assertions.

-- Hours are UTC, written as the hour's start ("2026-01-02T03:00:00Z"); only hours with activity
-- appear. errors counts tool errors, error entries, failed assertions and failed skills (as A001).
WITH entries_by_hour AS (
    SELECT
        strftime('%Y-%m-%dT%H:00:00Z', timestamp) AS hour,
        COUNT(*) AS events,
        SUM(entry_type = 'error') AS error_entries
    FROM transcript_entries
    WHERE execution_id = :execution_id
    GROUP BY hour
),
tools_by_hour AS (
    SELECT
        strftime('%Y-%m-%dT%H:00:00Z', start_time) AS hour,
        COUNT(*) AS tool_uses,
        SUM(result_status = 'error') AS tool_errors
    FROM tool_uses
    WHERE execution_id = :execution_id
    GROUP BY hour
),
assertions_by_hour AS (
    SELECT
        strftime('%Y-%m-%dT%H:00:00Z', timestamp) AS hour,
        COUNT(*) AS assertions,
        SUM(result = 'fail') AS failed
    FROM assertion_results
    WHERE execution_id = :execution_id
    GROUP BY hour
),
skills_by_hour AS (
    SELECT strftime('%Y-%m-%dT%H:00:00Z', start_time) AS hour, COUNT(*) AS failed
    FROM skill_traces
    WHERE execution_id = :execution_id AND status = 'failed'
    GROUP BY hour
),
hours AS (
    SELECT hour FROM entries_by_hour
    UNION SELECT hour FROM tools_by_hour
    UNION SELECT hour FROM assertions_by_hour
    UNION SELECT hour FROM skills_by_hour
)
SELECT
    h.hour,
    COALESCE(e.events, 0) AS events,
    COALESCE(t.tool_uses, 0) AS tool_uses,
    COALESCE(e.error_entries, 0) + COALESCE(t.tool_errors, 0) + COALESCE(a.failed, 0)
        + COALESCE(s.failed, 0) AS errors,
    COALESCE(a.assertions, 0) AS assertions
FROM hours AS h
LEFT JOIN entries_by_hour AS e ON e.hour = h.hour
LEFT JOIN tools_by_hour AS t ON t.hour = h.hour
LEFT JOIN assertions_by_hour AS a ON a.hour = h.hour
LEFT JOIN skills_by_hour AS s ON s.hour = h.hour
ORDER BY h.hour
