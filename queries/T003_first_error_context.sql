-- id: T003
-- title: First error and what followed
-- family: troubleshooting
-- param: execution_id text
-- param: window int = 5
-- returns: sequence, timestamp, entry_type, task_id, summary, is_first_error
-- purpose: Where the run first went wrong: the first error entry (an error entry, a tool use
--   that ended in error, a failed assertion, a failed skill or task) and the `window` entries
--   after it.
WITH error_sequences AS (
    SELECT sequence
    FROM transcript_entries
    WHERE execution_id = :execution_id AND entry_type = 'error'
    UNION ALL
    -- a failed tool use is marked on its tool_use entry
    SELECT e.sequence
    FROM tool_uses AS u
    JOIN transcript_entries AS e
        ON e.execution_id = u.execution_id AND e.id = u.transcript_entry_id
    WHERE u.execution_id = :execution_id AND u.result_status = 'error'
    UNION ALL
    SELECT e.sequence
    FROM assertion_results AS a
    JOIN transcript_entries AS e
        ON e.execution_id = a.execution_id AND e.id = a.transcript_entry_id
    WHERE a.execution_id = :execution_id AND a.result = 'fail'
    UNION ALL
    -- failed tasks and skills are marked on their closing entries
    SELECT sequence
    FROM transcript_entries
    WHERE execution_id = :execution_id
      AND entry_type IN ('task_end', 'skill_complete')
      AND json_extract(details, '$.status') = 'failed'
),
first_error AS (
    SELECT MIN(sequence) AS sequence FROM error_sequences
)
SELECT e.sequence,
       e.timestamp,
       e.entry_type,
       e.task_id,
       e.summary,
       e.sequence = f.sequence AS is_first_error
FROM first_error AS f
JOIN transcript_entries AS e
  ON e.execution_id = :execution_id
 AND e.sequence BETWEEN f.sequence AND f.sequence + :window
ORDER BY e.sequence
