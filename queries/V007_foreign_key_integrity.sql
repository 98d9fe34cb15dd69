-- id: V007
-- title: Foreign key integrity
-- family: validation
-- param: execution_id text?
-- returns: relationship, child_table, broken_count, example_id
-- purpose: Each reference between tables with its count of rows that point at nothing; one
--   execution, or the whole store when execution_id is not given. Only broken ones are listed.

-- Ids are unique only within an execution: every reference points into its own execution.
WITH scope AS (
    -- One execution, or every execution: a range over execution_id that an index can serve
    -- either way ('' .. U+10FFFF holds every text value).
    SELECT COALESCE(:execution_id, '') AS lo, COALESCE(:execution_id, char(1114111)) AS hi
),
checks AS (
    SELECT 'tool_uses.transcript_entry_id -> transcript_entries.id' AS relationship,
           'tool_uses' AS child_table, COUNT(*) AS broken_count, MIN(c.id) AS example_id
    FROM tool_uses AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.transcript_entry_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM transcript_entries AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.transcript_entry_id)
    UNION ALL
    SELECT 'tool_uses.within_skill -> skill_traces.id', 'tool_uses', COUNT(*), MIN(c.id)
    FROM tool_uses AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.within_skill IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM skill_traces AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.within_skill)
    UNION ALL
    SELECT 'transcript_entries.tool_use_id -> tool_uses.id', 'transcript_entries',
           COUNT(*), MIN(c.id)
    FROM transcript_entries AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.tool_use_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM tool_uses AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.tool_use_id)
    UNION ALL
    SELECT 'transcript_entries.skill_trace_id -> skill_traces.id', 'transcript_entries',
           COUNT(*), MIN(c.id)
    FROM transcript_entries AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.skill_trace_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM skill_traces AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.skill_trace_id)
    UNION ALL
    SELECT 'assertion_results.chain_id -> assertion_chains.id', 'assertion_results',
           COUNT(*), MIN(c.id)
    FROM assertion_results AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.chain_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM assertion_chains AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.chain_id)
    UNION ALL
    SELECT 'assertion_results.tool_use_id -> tool_uses.id', 'assertion_results',
           COUNT(*), MIN(c.id)
    FROM assertion_results AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.tool_use_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM tool_uses AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.tool_use_id)
    UNION ALL
    SELECT 'assertion_results.transcript_entry_id -> transcript_entries.id', 'assertion_results',
           COUNT(*), MIN(c.id)
    FROM assertion_results AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.transcript_entry_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM transcript_entries AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.transcript_entry_id)
    UNION ALL
    SELECT 'assertion_chains.first_failure_id -> assertion_results.id', 'assertion_chains',
           COUNT(*), MIN(c.id)
    FROM assertion_chains AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.first_failure_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM assertion_results AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.first_failure_id)
    UNION ALL
    SELECT 'skill_traces.parent_trace_id -> skill_traces.id', 'skill_traces', COUNT(*), MIN(c.id)
    FROM skill_traces AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.parent_trace_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM skill_traces AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.parent_trace_id)
    UNION ALL
    SELECT 'task_file_impacts.tool_use_id -> tool_uses.id', 'task_file_impacts',
           COUNT(*), MIN(c.id)
    FROM task_file_impacts AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND c.tool_use_id IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM tool_uses AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.tool_use_id)
    UNION ALL
    SELECT 'wave_task_assignments.task_id -> tasks.id', 'wave_task_assignments',
           COUNT(*), MIN(c.execution_id || ':' || c.task_id)
    FROM wave_task_assignments AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND NOT EXISTS (
          SELECT 1 FROM tasks AS p WHERE p.execution_id = c.execution_id AND p.id = c.task_id
      )
    UNION ALL
    SELECT 'message_bus_log.id -> transcript_entries.id', 'message_bus_log', COUNT(*), MIN(c.id)
    FROM message_bus_log AS c, scope
    WHERE c.execution_id BETWEEN scope.lo AND scope.hi
      AND NOT EXISTS (
          SELECT 1 FROM transcript_entries AS p
          WHERE p.execution_id = c.execution_id AND p.id = c.id)
)
SELECT relationship, child_table, broken_count, example_id
FROM checks
WHERE broken_count > 0
ORDER BY relationship
