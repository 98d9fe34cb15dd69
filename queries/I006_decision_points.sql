-- id: I006
-- title: Decision points
-- family: investigation
-- param: execution_id text
-- returns: sequence, timestamp, instance_id, task_id, summary, options, chosen, reasoning,
--   previous_entry_type, previous_summary
-- purpose: Every decision with its options (JSON list), choice and reasoning, and the entry the
--   same agent wrote just before it (what it was looking at when it decided).
WITH decisions AS (
    SELECT d.*,
           -- walks the (execution_id, sequence) index backwards to the agent's previous entry
           (SELECT p.sequence
            FROM transcript_entries AS p
            WHERE p.execution_id = d.execution_id
              AND p.sequence < d.sequence
              AND p.instance_id IS d.instance_id
            ORDER BY p.sequence DESC
            LIMIT 1) AS previous_sequence
    FROM transcript_entries AS d
    WHERE d.execution_id = :execution_id AND d.entry_type = 'decision'
)
SELECT d.sequence,
       d.timestamp,
       d.instance_id,
       d.task_id,
       d.summary,
       json_extract(d.details, '$.options') AS options,
       json_extract(d.details, '$.chosen') AS chosen,
       json_extract(d.details, '$.reasoning') AS reasoning,
       p.entry_type AS previous_entry_type,
       p.summary AS previous_summary
FROM decisions AS d
LEFT JOIN transcript_entries AS p
  ON p.execution_id = d.execution_id AND p.sequence = d.previous_sequence
ORDER BY d.sequence
