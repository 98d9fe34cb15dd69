-- id: I005
-- title: Related events by correlation
-- family: investigation
-- param: correlation_id text?
-- param: event_id text?
-- param: execution_id text?
-- returns: id, execution_id, event_type, source, task_id, correlation_id, timestamp, payload
-- purpose: Message-bus events sharing a correlation id: the one given, or that of the event
--   `event_id` (a transcript entry id). Neither given, or unknown: no rows.

-- An entry id is unique only within its execution: `event_id` names the entry of
-- `execution_id` when given (else the first execution, by id, that has one).
WITH event AS (
    SELECT correlation_id, execution_id
    FROM message_bus_log
    WHERE id = :event_id AND (:execution_id IS NULL OR execution_id = :execution_id)
    ORDER BY execution_id
    LIMIT 1
),
wanted AS (
    SELECT COALESCE(:correlation_id, (SELECT correlation_id FROM event)) AS correlation_id,
           COALESCE(:execution_id, (SELECT execution_id FROM event)) AS execution_id
)
-- The default correlation is the task id, which every execution of a task list reuses, so the
-- search stays in one execution: `execution_id` when given, else the execution of `event_id`;
-- only a bare `correlation_id` searches all executions.
SELECT m.id, m.execution_id, m.event_type, m.source, m.task_id, m.correlation_id,
       m.timestamp, m.payload
FROM wanted AS w
JOIN message_bus_log AS m ON m.correlation_id = w.correlation_id
WHERE w.execution_id IS NULL OR m.execution_id = w.execution_id
ORDER BY julianday(m.timestamp), m.timestamp, m.id
