-- id: I003
-- title: Skill execution patterns
-- family: investigation
-- param: execution_id text
-- returns: skill_name, invocations, success_count, partial_count, failed_count, success_rate,
--   mean_duration_ms, failed_lines
-- purpose: Per skill: invocations by outcome, the success rate, and the skill file lines
--   (file:line) whose invocations failed.
WITH traces AS (
    -- ordered by the list each skill's failed lines make (a list reads its rows in order)
    SELECT skill_name, status, duration_ms,
           CASE
               WHEN status = 'failed' THEN COALESCE(skill_file, '') || ':' || COALESCE(line_number, 0)
           END AS failed_line
    FROM skill_traces
    WHERE execution_id = :execution_id
    ORDER BY skill_name, failed_line
)
SELECT skill_name,
       COUNT(*) AS invocations,
       SUM(status = 'success') AS success_count,
       SUM(status = 'partial') AS partial_count,
       SUM(status = 'failed') AS failed_count,
       ROUND(100.0 * SUM(status = 'success') / COUNT(*), 1) AS success_rate,
       ROUND(AVG(duration_ms), 3) AS mean_duration_ms,
       group_concat(DISTINCT failed_line) AS failed_lines
FROM traces
GROUP BY skill_name
ORDER BY invocations DESC, skill_name
