-- id: T002
-- title: Blocked commands
-- family: troubleshooting
-- param: execution_id text
-- returns: tool_use_id, tool, input_summary, block_reason, task_id, instance_id, skill_name,
--   timestamp, sequence
-- purpose: Tool uses a security hook blocked, with the reason and where they came from
--   (task, agent instance, enclosing skill, transcript position).
SELECT u.id AS tool_use_id,
       u.tool,
       u.input_summary,
       u.block_reason,
       u.task_id,
       u.instance_id,
       s.skill_name,
       u.start_time AS timestamp,
       e.sequence
FROM tool_uses AS u
LEFT JOIN skill_traces AS s ON s.execution_id = u.execution_id AND s.id = u.within_skill
LEFT JOIN transcript_entries AS e
    ON e.execution_id = u.execution_id AND e.id = u.transcript_entry_id
WHERE u.execution_id = :execution_id
  AND u.result_status = 'blocked'
ORDER BY julianday(u.start_time), u.start_time, e.sequence, u.id
