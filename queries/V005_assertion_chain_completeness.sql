-- id: V005
-- title: Assertion chain completeness
-- family: validation
-- param: execution_id text
-- returns: chain_id, task_id, description, start_time, assertion_count
-- purpose: Assertion chains that started and never ended (no end time or no overall result).
SELECT c.id AS chain_id,
       c.task_id,
       c.description,
       c.start_time,
       (SELECT COUNT(*) FROM assertion_results AS a
        WHERE a.execution_id = c.execution_id AND a.chain_id = c.id) AS assertion_count
FROM assertion_chains AS c
WHERE c.execution_id = :execution_id
  AND (c.end_time IS NULL OR c.overall_result IS NULL)
ORDER BY julianday(c.start_time), c.start_time, c.id
