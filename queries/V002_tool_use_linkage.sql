-- id: V002
-- title: Tool use linkage
-- family: validation
-- param: execution_id text
-- returns: tool_use_id, tool, transcript_entry_id, problem
-- purpose: Tool uses without their transcript entry, and tool_use entries without their tool use.
--   Every tool_uses row must have its transcript_entries row (and the other way round).

-- Ids are unique only within an execution: a tool use's entry is looked up in its own
-- execution (an entry of that id in another execution is someone else's).
WITH uses AS (
    SELECT u.id AS tool_use_id, u.tool, u.transcript_entry_id, e.id AS entry_id
    FROM tool_uses AS u
    LEFT JOIN transcript_entries AS e
        ON e.execution_id = u.execution_id AND e.id = u.transcript_entry_id
    WHERE u.execution_id = :execution_id
),
uses_without_entry AS (
    SELECT tool_use_id, tool, transcript_entry_id,
           CASE
               WHEN transcript_entry_id IS NULL THEN 'no transcript entry recorded'
               ELSE 'transcript entry missing'
           END AS problem
    FROM uses
    WHERE entry_id IS NULL
),
entries_without_use AS (
    -- The reverse direction: a tool_use entry that names no stored tool use.
    SELECT e.tool_use_id, NULL AS tool, e.id AS transcript_entry_id,
           CASE WHEN e.tool_use_id IS NULL THEN 'tool_use entry names no tool use'
                ELSE 'tool use missing for tool_use entry' END AS problem
    FROM transcript_entries AS e
    LEFT JOIN tool_uses AS u ON u.execution_id = e.execution_id AND u.id = e.tool_use_id
    WHERE e.execution_id = :execution_id
      AND e.entry_type = 'tool_use'
      AND u.id IS NULL
)
SELECT tool_use_id, tool, transcript_entry_id, problem FROM uses_without_entry
UNION ALL
SELECT tool_use_id, tool, transcript_entry_id, problem FROM entries_without_use
ORDER BY transcript_entry_id, tool_use_id
