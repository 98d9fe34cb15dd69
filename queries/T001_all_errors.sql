-- id: T001
-- title: All errors
-- family: troubleshooting
-- param: execution_id text
-- returns: source, id, timestamp, sequence, task_id, name, message
-- purpose: Every error of the execution from any source, in time order: tool uses that ended in
--   error, failed assertions, failed skills and error entries. The first row is the earliest.
WITH tool_errors AS (
    -- A tool error happens when the tool returns, so its time is the end time; its sequence
    -- is that of its tool_use entry.
    SELECT 'tool' AS source, u.id, COALESCE(u.end_time, u.start_time) AS timestamp,
           e.sequence, u.task_id, u.tool AS name,
           COALESCE(u.error_message, u.output_summary) AS message
    FROM tool_uses AS u
    LEFT JOIN transcript_entries AS e
        ON e.execution_id = u.execution_id AND e.id = u.transcript_entry_id
    WHERE u.execution_id = :execution_id AND u.result_status = 'error'
),
assertion_failures AS (
    SELECT 'assertion' AS source, a.id, a.timestamp, e.sequence, a.task_id,
           a.category AS name, a.description AS message
    FROM assertion_results AS a
    LEFT JOIN transcript_entries AS e
        ON e.execution_id = a.execution_id AND e.id = a.transcript_entry_id
    WHERE a.execution_id = :execution_id AND a.result = 'fail'
),
skill_failures AS (
    -- a skill's sequence is that of its skill_complete entry
    SELECT 'skill' AS source, s.id, COALESCE(s.end_time, s.start_time) AS timestamp,
           (SELECT e.sequence
            FROM transcript_entries AS e
            WHERE e.execution_id = s.execution_id
              AND e.entry_type = 'skill_complete'
              AND e.skill_trace_id = s.id) AS sequence,
           s.task_id, s.skill_name AS name, s.error AS message
    FROM skill_traces AS s
    WHERE s.execution_id = :execution_id AND s.status = 'failed'
),
error_entries AS (
    SELECT 'entry' AS source, e.id, e.timestamp, e.sequence, e.task_id,
           json_extract(e.details, '$.error_type') AS name,
           COALESCE(json_extract(e.details, '$.message'), e.summary) AS message
    FROM transcript_entries AS e
    WHERE e.execution_id = :execution_id AND e.entry_type = 'error'
),
all_errors AS (
    SELECT * FROM tool_errors
    UNION ALL SELECT * FROM assertion_failures
    UNION ALL SELECT * FROM skill_failures
    UNION ALL SELECT * FROM error_entries
)
SELECT source, id, timestamp, sequence, task_id, name, message
FROM all_errors
-- julianday() resolves milliseconds; the store's one timestamp format orders the microseconds
ORDER BY julianday(timestamp), timestamp, sequence IS NULL, sequence, id
