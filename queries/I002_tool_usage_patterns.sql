-- id: I002
-- title: Tool usage patterns
-- family: investigation
-- param: execution_id text
-- returns: tool, uses, done_count, error_count, blocked_count, success_rate, mean_duration_ms,
--   max_duration_ms
-- purpose: Per tool: how often it was used, how those uses ended, the success rate (done as a
--   percentage of all uses) and its mean and longest duration.
SELECT tool,
       COUNT(*) AS uses,
       SUM(result_status = 'done') AS done_count,
       SUM(result_status = 'error') AS error_count,
       SUM(result_status = 'blocked') AS blocked_count,
       ROUND(100.0 * SUM(result_status = 'done') / COUNT(*), 1) AS success_rate,
       ROUND(AVG(duration_ms), 3) AS mean_duration_ms,
       MAX(duration_ms) AS max_duration_ms
FROM tool_uses
WHERE execution_id = :execution_id
GROUP BY tool
ORDER BY uses DESC, tool
